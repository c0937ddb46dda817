"""One method of an nn~ model, run on chunks of a stream: the class that ``[rave~]`` and
``dlwa stream rave`` both run.

At the model's own rate a chunk is handled exactly as nn~ handles its buffer
(``nn_tilde/src/backend/backend.cpp``, ``Backend::perform``): each input channel keeps the
last sample of every ``in_ratio`` samples, the method is called once on
``[1, in_channels, chunk / in_ratio]`` with gradients off, and each output frame is held for
``out_ratio`` samples. The model keeps its own state (cached convolutions) between calls.

When the host runs at another rate than the model (a 16 kHz model in a 48 kHz Pd), every
signal is resampled on the way in and out (:class:`~dlwa.audio.stream_resample.
StreamResampler`), and the stream holds back the few samples that makes it wait, so that
output sample ``n`` always belongs to input sample ``n - latency``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from dlwa.audio.stream_resample import StreamResampler
from dlwa.rave.model import MethodParams, NNModel

DEFAULT_CHUNK = 1024  # host samples wished for; raised to a multiple the model can take
MAX_CHUNK = 65536
RING_CHUNKS_REALTIME = 2  # pyext~: one chunk to fill, one chunk of time to compute


def chunk_unit(ratio: int, model_rate: int, host_rate: int) -> int:
    """The smallest host chunk whose length at the model's rate is a whole multiple of
    ``ratio`` (every valid chunk is a multiple of it)."""
    g = math.gcd(model_rate, host_rate)
    per_model = model_rate // g  # model samples per host_rate // g host samples
    return (host_rate // g) * (ratio // math.gcd(ratio, per_model))


def fit_chunk(wanted: int | None, ratio: int, model_rate: int, host_rate: int
              ) -> tuple[int, str | None]:
    """``wanted`` rounded up to a valid chunk, and a note when it had to change."""
    unit = chunk_unit(ratio, model_rate, host_rate)
    target = DEFAULT_CHUNK if wanted is None else int(wanted)
    chunk = max(unit, -(-target // unit) * unit)
    if chunk > MAX_CHUNK:
        chunk = max(unit, MAX_CHUNK // unit * unit)
    note = None
    if wanted is not None and chunk != wanted:
        why = (f"smaller than the model's ratio {ratio}" if wanted < unit and host_rate ==
               model_rate else f"not a multiple of {unit} (the model's ratio {ratio}"
               + (f" at {model_rate} Hz in {host_rate} Hz)" if host_rate != model_rate else ")"))
        note = f"chunk {wanted} is {why}: using {chunk}"
    return chunk, note


class RaveStream:
    """Chunks of ``in_channels`` signals in, ``out_channels`` signals out, through ``method``.

    Args:
        model: The loaded model (its state carries over between chunks).
        method: ``forward``, ``encode``, ``decode`` or any method the model lists.
        chunk: Host samples per :meth:`process` call; None: about 1024, rounded up to what
            the model takes. An invalid chunk raises ValueError (see :func:`fit_chunk`).
        sample_rate: The host's rate; None: the model's.
    """

    def __init__(self, model: NNModel, method: str = "forward", *, chunk: int | None = None,
                 sample_rate: int | None = None) -> None:
        self.model = model
        self.method = method
        self.params: MethodParams = model.params(method)
        self.model_rate = int(model.sample_rate or sample_rate or 48000)
        self.sample_rate = int(sample_rate or self.model_rate)
        self.ratio = model.info.higher_ratio
        self.chunk, note = fit_chunk(chunk, self.ratio, self.model_rate, self.sample_rate)
        if note is not None and chunk is not None and chunk % chunk_unit(
                self.ratio, self.model_rate, self.sample_rate):
            raise ValueError(note)
        self.model_chunk = self.chunk * self.model_rate // self.sample_rate
        self.resampling = self.model_rate != self.sample_rate
        self.in_channels, self.out_channels = self.params.in_channels, self.params.out_channels
        self.calls = 0
        self._reset_resampling()

    # ----- the audio

    def process(self, x: np.ndarray) -> np.ndarray:
        """One chunk [in_channels, chunk] in (missing channels are silence, as in nn~);
        [out_channels, chunk] out."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.shape[1] != self.chunk:
            raise ValueError(f"a chunk of {x.shape[1]} samples; this stream takes {self.chunk}")
        x = self._fit_channels(x)
        if not self.resampling:
            return self._model_chunk(x)
        pieces = [r.push(row) for r, row in zip(self._in_rs, x, strict=True)]
        self._in_buffer = np.concatenate([self._in_buffer, np.stack(pieces)], axis=1)
        while self._in_buffer.shape[1] >= self.model_chunk:
            block = self._in_buffer[:, :self.model_chunk]
            self._in_buffer = self._in_buffer[:, self.model_chunk:]
            y = self._model_chunk(block)
            out = np.stack([r.push(row) for r, row in zip(self._out_rs, y, strict=True)])
            self._out_buffer = np.concatenate([self._out_buffer, out], axis=1)
        if self._out_buffer.shape[1] < self.chunk:  # cannot happen: latency is sized for it
            raise RuntimeError("the resampled stream fell behind its latency")
        y, self._out_buffer = (self._out_buffer[:, :self.chunk],
                               self._out_buffer[:, self.chunk:])
        return y

    def _model_chunk(self, x: np.ndarray) -> np.ndarray:
        """nn~'s perform at the model's rate: decimate, call once, hold."""
        p = self.params
        frames = x if p.in_ratio == 1 else x.reshape(p.in_channels, -1, p.in_ratio)[:, :, -1]
        y = self.model.call(self.method, frames)
        if p.out_ratio > 1:
            y = np.repeat(y, p.out_ratio, axis=1)
        if y.shape != (p.out_channels, x.shape[1]):
            raise ValueError(f"{self.model.name}.{self.method} returned "
                             f"{'x'.join(map(str, y.shape))} for {x.shape[1]} samples, not "
                             f"{p.out_channels}x{x.shape[1]}")
        self.calls += 1
        return y

    def _fit_channels(self, x: np.ndarray) -> np.ndarray:
        n = self.params.in_channels
        if x.shape[0] == n:
            return x
        if x.shape[0] > n:
            return x[:n]
        return np.concatenate([x, np.zeros((n - x.shape[0], x.shape[1]), np.float32)])

    # ----- latency

    @property
    def latency(self) -> int:
        """Host samples between an input sample and its output in :meth:`process` (0 at the
        model's rate; the resamplers' wait otherwise). The model's own delay (RAVE's cached
        convolutions) comes on top, as in nn~."""
        return self._held

    def host_latency(self, *, realtime: bool) -> int:
        """The latency in Pd: pyext~'s ring adds two chunks in real time, one in ``-batch``."""
        return self.latency + (RING_CHUNKS_REALTIME if realtime else 1) * self.chunk

    def _reset_resampling(self) -> None:
        self._held = 0
        if not self.resampling:
            return
        n = self.in_channels
        self._in_rs = [StreamResampler(self.sample_rate, self.model_rate) for _ in range(n)]
        self._out_rs = [StreamResampler(self.model_rate, self.sample_rate)
                        for _ in range(self.out_channels)]
        self._held = self._samples_held()
        self._in_buffer = np.zeros((n, 0), np.float32)
        self._out_buffer = np.zeros((self.out_channels, self._held), np.float32)

    def _samples_held(self) -> int:
        """The fewest output samples to start with so that every call has a chunk ready:
        simulate the counts of samples through both resamplers and the model's chunks."""
        into, out = self._in_rs[0], self._out_rs[0] if self._out_rs else None
        period = (self.sample_rate // math.gcd(self.sample_rate, self.model_rate)) + 8
        short = 0
        for k in range(1, 4 * period + 8):
            chunks = into.available(k * self.chunk) // self.model_chunk
            ready = out.available(chunks * self.model_chunk) if out else k * self.chunk
            short = max(short, k * self.chunk - ready)
        return int(short)

    # ----- control

    def swap_model(self, model: NNModel) -> None:
        """Carry on with ``model`` (same method and chunk) from the next chunk."""
        params = model.params(self.method)
        if (params.in_channels, params.out_channels) != (self.in_channels, self.out_channels):
            raise ValueError(f"{model.name}.{self.method} takes {params.in_channels} and gives "
                             f"{params.out_channels} channel(s); this object has "
                             f"{self.in_channels} in and {self.out_channels} out")
        rate = int(model.sample_rate or self.sample_rate)
        if self.chunk % chunk_unit(model.info.higher_ratio, rate, self.sample_rate):
            raise ValueError(f"{model.name} cannot take chunks of {self.chunk} at "
                             f"{self.sample_rate} Hz (try chunk "
                             f"{fit_chunk(self.chunk, model.info.higher_ratio, rate, self.sample_rate)[0]})")
        self.model, self.params = model, params
        if rate != self.model_rate:
            self.model_rate = rate
            self.model_chunk = self.chunk * rate // self.sample_rate
            self.resampling = rate != self.sample_rate
            self._reset_resampling()

    def warm_up(self, calls: int = 3) -> None:
        """Run a few silent chunks, then start the stream over: TorchScript profiles and
        optimises the first calls (hundreds of ms), which must not land in a live chunk. The
        model's cached state then holds silence, as after the first chunks of a quiet input."""
        for _ in range(calls):
            self._model_chunk(np.zeros((self.in_channels, self.model_chunk), np.float32))
        self.calls = 0
        self._reset_resampling()


def stream_file(stream: RaveStream, audio: np.ndarray,
                progress: Callable[[int, int], Any] | None = None) -> np.ndarray:
    """Stream ``audio`` [in_channels, n] through ``stream`` (padded to whole chunks, and by
    the latency so the last input comes out); returns [out_channels, n] aligned to the
    input (the latency removed)."""
    n = audio.shape[1]
    total = n + stream.latency
    chunks = -(-total // stream.chunk)
    padded = np.zeros((audio.shape[0], chunks * stream.chunk), np.float32)
    padded[:, :n] = audio
    out = []
    for k in range(chunks):
        out.append(stream.process(padded[:, k * stream.chunk:(k + 1) * stream.chunk]))
        if progress is not None:
            progress(k + 1, chunks)
    y = np.concatenate(out, axis=1)
    return y[:, stream.latency:stream.latency + n]
