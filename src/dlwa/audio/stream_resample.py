"""A resampler for live streams: windowed sinc with a short, known delay.

soxr (which :func:`dlwa.audio.resample.resample` uses for files) holds back hundreds of
samples in its streaming mode (12.5 ms at 48 → 16 kHz even at its lowest quality), too much
for live timbre transfer's 32 ms budget. This one holds back only the kernel's half width:
8 zero crossings of the lower rate, 0.5 ms at 48 ↔ 16 kHz. (The decision is recorded in
``docs/decisions.md``.)

Output sample ``j`` is the input signal at position ``j · orig_sample_rate / sample_rate``
(the two streams are aligned, with no leading delay); it is produced as soon as the input
reaches that position plus the half width. The kernel weights of every fractional phase are
computed once, so a call costs one gather and one product per output sample.
"""

from __future__ import annotations

import math

import numpy as np

from dlwa.audio.validate import check_sample_rate

ZERO_CROSSINGS = 8
ROLLOFF = 0.9  # the passband edge, as a fraction of the lower Nyquist frequency
KAISER_BETA = 8.0
MAX_PHASES = 1 << 14  # rate pairs with more distinct phases compute weights per call


class StreamResampler:
    """Windowed-sinc (Kaiser) resampling of a stream pushed in pieces of any length.

    Args:
        orig_sample_rate: Hz of the pushed samples.
        sample_rate: Hz of the output.
        zero_crossings: kernel half width, in zero crossings of the lower rate's sinc.

    Raises:
        AudioError: a rate that is not a positive integer.
    """

    def __init__(self, orig_sample_rate: int, sample_rate: int, *,
                 zero_crossings: int = ZERO_CROSSINGS) -> None:
        orig_sample_rate = check_sample_rate(orig_sample_rate, name="orig_sample_rate")
        sample_rate = check_sample_rate(sample_rate, name="sample_rate")
        g = math.gcd(orig_sample_rate, sample_rate)
        self.up, self.down = sample_rate // g, orig_sample_rate // g
        self.identity = self.up == self.down
        self.cutoff = ROLLOFF * min(1.0, self.up / self.down)  # of the input's Nyquist
        self.half = 0 if self.identity else math.ceil(zero_crossings / self.cutoff)
        self._offsets = np.arange(-self.half + 1, self.half + 1)
        self._table = (self._weights(np.arange(self.up) / self.up)
                       if not self.identity and self.up <= MAX_PHASES else None)
        self.reset()

    def reset(self) -> None:
        """Start a new stream (the past is silence)."""
        self._buffer = np.zeros(self.half, dtype=np.float32)
        self._buffer_start = -self.half  # stream index of _buffer[0]
        self.n_in = 0
        self.n_out = 0

    @property
    def delay(self) -> int:
        """Input samples an output sample waits for beyond its own position."""
        return self.half

    def available(self, n_in: np.ndarray | int) -> np.ndarray | int:
        """Output samples ready once ``n_in`` input samples have been pushed."""
        if self.identity:
            return n_in
        n = np.maximum(np.asarray(n_in, dtype=np.int64) - self.half, 0)
        count = (n * self.up + self.down - 1) // self.down
        return int(count) if np.ndim(count) == 0 else count

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Append input samples; return every output sample now ready (float32)."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if self.identity:
            self.n_in += len(audio)
            self.n_out += len(audio)
            return audio.copy()
        self._buffer = np.concatenate([self._buffer, audio])
        self.n_in += len(audio)
        stop = self.available(self.n_in)
        j = np.arange(self.n_out, stop, dtype=np.int64)
        out = np.zeros(0, dtype=np.float32)
        if len(j):
            base = j * self.down // self.up
            phase = j * self.down % self.up
            weights = (self._table[phase] if self._table is not None
                       else self._weights(phase / self.up))
            index = base[:, None] + self._offsets[None, :] - self._buffer_start
            out = (self._buffer[index] * weights).sum(axis=1, dtype=np.float32)
            self.n_out = int(stop)
        # Keep what the next output sample still reads.
        keep = (self.n_out * self.down // self.up) - self.half + 1 - self._buffer_start
        if keep > 0:
            self._buffer = self._buffer[keep:]
            self._buffer_start += keep
        return out

    def _weights(self, fraction: np.ndarray) -> np.ndarray:
        """Kernel weights [n, 2·half] for outputs at ``fraction`` past their base sample."""
        t = self._offsets[None, :] - np.asarray(fraction, dtype=np.float64)[:, None]
        window = np.i0(KAISER_BETA * np.sqrt(np.clip(1 - (t / self.half) ** 2, 0, 1)))
        weights = self.cutoff * np.sinc(self.cutoff * t) * window / np.i0(KAISER_BETA)
        weights /= weights.sum(axis=1, keepdims=True)  # unit gain at DC for every phase
        return weights.astype(np.float32)
