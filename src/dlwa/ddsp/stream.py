"""Live timbre transfer: audio in chunk by chunk, the model's instrument out, ~30 ms later.

:class:`DDSPStream` is the one streaming class that both ``[ddsp~]`` and ``dlwa stream
ddsp`` run. Each call takes a chunk at the host's rate and returns a chunk; state is kept
across calls:

1. :class:`~dlwa.audio.stream_resample.StreamResampler` to the model's rate (0.5 ms).
2. :class:`LiveFeatures`: frame ``k`` (sample ``k · hop``) as soon as the input reaches
   ``k · hop + lookahead`` (two hops, 8 ms at 16 kHz): A-weighted loudness over a window
   centred on the frame (``2 · lookahead`` samples, levelled to the training's 512-sample
   window), YIN f0 and confidence over the window ending there.
3. :class:`LiveAdjust`: the offline transfer's auto adjust with running statistics (the
   future is unknown): octave shift toward the dataset's mean pitch (moved only between
   notes), loudness of notes mapped through the quantiles of the last ``NOTE_MEMORY_S`` of
   notes, ``quiet`` between notes, autotune toward the input's running tuning. Then the
   shifts and the confidence threshold; every control glides over ~30 ms (no clicks).
4. :class:`LiveSynth`: the decoder frame by frame with its GRU state; block ``k`` of
   audio once frame ``k + 1`` exists (the oscillators interpolate toward it, the noise
   filters reach into it), phase-continuous harmonics, noise filtered frame by frame and
   overlap-added, the reverb as a uniformly partitioned convolution (one hop per
   partition, no added delay).
5. Back to the host's rate, into a FIFO primed with :attr:`DDSPStream.latency` samples of
   silence: the least that never runs dry at whole chunks (computed from the stages'
   readiness rules, not guessed). Output sample ``n`` is the transfer of input time
   ``n − latency``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlwa.audio.conversions import hz_to_midi, midi_to_hz
from dlwa.audio.loudness import DDSP_DB_RANGE, a_weighting_db
from dlwa.audio.mel import fft_frequencies
from dlwa.audio.stream_resample import StreamResampler
from dlwa.audio.validate import AudioError, check_sample_rate
from dlwa.ddsp import core
from dlwa.ddsp.features import F0_MAX_HZ, _yin_frames
from dlwa.ddsp.model import LoadedModel
from dlwa.ddsp.transfer import MAX_PITCH_MIDI, NOTE_CONFIDENCE, NOTE_MIN_DB, TransferParams

DEFAULT_CHUNK = 384
"""Host samples per call: 8 ms at 48 kHz, two model frames (pyext~ adds two chunks of ring
buffer: 28.6 ms in all at 48 kHz)."""
LOOKAHEAD_HOPS = 2
TRAIN_N_FFT = 512  # the loudness window the models were trained with
LIVE_F0_MIN_HZ = 80.0
YIN_THRESHOLD = 0.25
NOTE_SMOOTHING_FRAMES = 10  # causal: the offline transfer's 40 centred frames would lag
LEVEL_MEMORY_S = 10.0  # time constant of the running mean level (note threshold)
PITCH_MEMORY_S = 5.0  # time constant of the running mean pitch of notes (octave shift)
NOTE_MEMORY_S = 20.0  # note loudness kept for the quantile map
QUANTILE_UPDATE_S = 0.5
MIN_NOTE_S = 0.2  # note time needed before the running statistics are used
GLIDE_FRAMES = 8  # one-pole smoothing of the controls: ~32 ms at 250 frames/s
MAX_CHUNK = 1 << 15
RING_CHUNKS_REALTIME = 2  # pyext~'s default latency: the worker gets one chunk of time


@dataclass
class LiveFrames:
    """Frame-wise controls [n] float32 each: input f0, its confidence and loudness."""

    f0_hz: np.ndarray
    confidence: np.ndarray
    loudness_db: np.ndarray

    def __len__(self) -> int:
        return len(self.f0_hz)


class LiveFeatures:
    """f0, confidence and A-weighted loudness of a stream, each frame as soon as it can be.

    Args:
        sample_rate: Hz of the pushed samples (the model's).
        frame_rate: frames per second.
        lookahead: samples past a frame's centre its features read.
        f0_min_hz: lowest f0 YIN searches (sets its window: two periods).
    """

    def __init__(self, *, sample_rate: int, frame_rate: int, lookahead: int,
                 f0_min_hz: float = LIVE_F0_MIN_HZ) -> None:
        self.hop = sample_rate // frame_rate
        self.sample_rate = sample_rate
        self.lookahead = lookahead
        self.n_fft = 2 * lookahead
        self.tau_max = math.ceil(sample_rate / f0_min_hz)
        self.tau_min = max(2, int(sample_rate / F0_MAX_HZ))
        self.yin_length = 2 * self.tau_max
        self.history = max(self.yin_length, self.n_fft)
        self.window = np.hanning(self.n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
        weights_db = a_weighting_db(fft_frequencies(sample_rate=sample_rate, n_fft=self.n_fft))
        self.weights = (10.0 ** (weights_db / 10.0)).astype(np.float32)
        # Mean power per bin grows with the window; level to the training's 512 samples.
        self.offset_db = 10.0 * math.log10(TRAIN_N_FFT / self.n_fft)
        self.buffer = np.zeros(self.history, dtype=np.float32)
        self.buffer_start = -self.history  # stream index of buffer[0]
        self.n_samples = 0
        self.n_frames = 0

    def ready(self, n_samples: np.ndarray | int) -> np.ndarray | int:
        """Frames computable once ``n_samples`` samples have been pushed."""
        n = np.asarray(n_samples, dtype=np.int64)
        frames = np.where(n >= self.lookahead, (n - self.lookahead) // self.hop + 1, 0)
        return int(frames) if frames.ndim == 0 else frames

    def push(self, audio: np.ndarray) -> LiveFrames:
        """Append samples; return the frames that became ready."""
        self.buffer = np.concatenate([self.buffer, np.asarray(audio, dtype=np.float32)])
        self.n_samples += len(audio)
        stop = int(self.ready(self.n_samples))
        ends = np.arange(self.n_frames, stop) * self.hop + self.lookahead - self.buffer_start
        self.n_frames = stop
        yin = self.buffer[ends[:, None] + np.arange(-self.yin_length, 0)]
        frames = self.buffer[ends[:, None] + np.arange(-self.n_fft, 0)] * self.window
        # Keep what the next frame reads (its window ends one hop after this call's last).
        keep = stop * self.hop + self.lookahead - self.history - self.buffer_start
        if keep > 0:
            self.buffer = self.buffer[keep:]
            self.buffer_start += keep
        if len(ends) == 0:
            empty = np.zeros(0, dtype=np.float32)
            return LiveFrames(empty, empty, empty)
        with torch.inference_mode():
            f0, confidence = _yin_frames(torch.from_numpy(yin), self.tau_min, self.tau_max,
                                         YIN_THRESHOLD, self.sample_rate)
        power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2
        mean_power = np.maximum((power * self.weights).mean(axis=-1), 10 ** (-DDSP_DB_RANGE / 10))
        loudness = np.maximum(10 * np.log10(mean_power) + self.offset_db, -DDSP_DB_RANGE)
        return LiveFrames(f0.numpy().astype(np.float32), confidence.numpy().astype(np.float32),
                          loudness.astype(np.float32))


class LiveAdjust:
    """Auto adjust and the shifts, frame by frame, with statistics that run along.

    The offline transfer measures the whole input first; live, each statistic is a running
    one (see the module docstring). Controls glide toward new values over ``GLIDE_FRAMES``.

    Args:
        statistics: the model's dataset statistics (None: auto adjust is skipped).
        frame_rate: frames per second.
    """

    GLIDED = ("f0_octave_shift", "loudness_db_shift", "quiet", "autotune")

    def __init__(self, statistics: dict[str, Any] | None, *, frame_rate: int) -> None:
        self.statistics = statistics
        self.frame_rate = frame_rate
        self.level_db: float | None = None
        self.recent_levels: list[float] = []
        self.pitch_sum = 0.0
        self.pitch_weight = 0.0
        self.octaves = 0.0
        self.in_note = False
        self.tuning = 0j
        self.note_loudness = np.zeros(round(NOTE_MEMORY_S * frame_rate), dtype=np.float32)
        self.n_note_frames = 0
        self.target_q = (np.asarray(statistics["loudness_quantiles_db"], dtype=np.float64)
                         if statistics else None)
        self.source_q = self.target_q
        self.glide: dict[str, float] | None = None

    def __call__(self, frames: LiveFrames, params: TransferParams) -> tuple[np.ndarray, np.ndarray]:
        """Adjusted ``(f0_hz, loudness_db)`` [n] float32 for ``frames``."""
        n = len(frames)
        f0_out = np.zeros(n, dtype=np.float32)
        loudness_out = np.zeros(n, dtype=np.float32)
        if self.glide is None:
            self.glide = {name: float(getattr(params, name)) for name in self.GLIDED}
        alpha = 1.0 / GLIDE_FRAMES
        for i in range(n):
            for name in self.GLIDED:
                self.glide[name] += alpha * (float(getattr(params, name)) - self.glide[name])
            f0 = float(frames.f0_hz[i])
            confidence = float(frames.confidence[i])
            loudness = float(frames.loudness_db[i])
            if params.adjust and self.statistics is not None:
                f0, loudness = self._adjust(f0, confidence, loudness)
            loudness += self.glide["loudness_db_shift"]
            f0 = min(f0 * 2.0 ** self.glide["f0_octave_shift"], float(midi_to_hz(MAX_PITCH_MIDI)))
            f0_out[i] = 0.0 if confidence < params.f0_confidence_threshold else f0
            loudness_out[i] = loudness
        return f0_out, loudness_out

    def _adjust(self, f0: float, confidence: float, loudness: float) -> tuple[float, float]:
        """One frame of auto adjust; updates the running statistics."""
        assert self.statistics is not None and self.glide is not None
        level_memory = LEVEL_MEMORY_S * self.frame_rate
        self.level_db = loudness if self.level_db is None else (
            self.level_db + (loudness - self.level_db) / level_memory)
        threshold = max((self.level_db - NOTE_MIN_DB) * NOTE_CONFIDENCE**2, 1e-6)
        level = confidence**2 * (loudness - NOTE_MIN_DB)
        self.recent_levels.append(level)
        del self.recent_levels[:-NOTE_SMOOTHING_FRAMES]
        # A note starts at once and ends smoothly: a causal average alone would hold
        # every onset down by up to ``quiet`` dB while it catches up.
        value = max(level, sum(self.recent_levels) / NOTE_SMOOTHING_FRAMES) / threshold
        on = value >= 1.0
        pitch = float(hz_to_midi(np.float64(f0))) if f0 > 0 else 0.0
        if on and confidence >= NOTE_CONFIDENCE:  # not the few frames of a note's edges
            self._learn_note(pitch, loudness)
        if not on and self.pitch_weight >= MIN_NOTE_S * self.frame_rate:
            # Between notes only, so a note is never split by an octave jump.
            mean_pitch = self.pitch_sum / self.pitch_weight
            self.octaves = float(np.round((self.statistics["mean_pitch_midi"] - mean_pitch) / 12))
        self.in_note = on
        f0 *= 2.0**self.octaves
        loudness = self._map_loudness(loudness)
        if not on:
            loudness -= self.glide["quiet"] * (1.0 - min(max(value, 0.0), 1.0))
        if on and self.glide["autotune"] > 0 and f0 > 0:
            midi = float(hz_to_midi(np.float64(f0)))
            offset = float(np.angle(self.tuning) / (2 * np.pi)) if self.tuning else 0.0
            target = round(midi - offset) + offset
            f0 = float(midi_to_hz(midi + self.glide["autotune"] * (target - midi)))
        return f0, loudness

    def _map_loudness(self, loudness: float) -> float:
        """The offline quantile map, eased in as the notes heard so far grow.

        With little history the quantiles are extreme (a first loud phrase would map every
        softer note to the dataset's quietest level), so the map starts as a shift of the
        median and becomes the quantile map over ``NOTE_MEMORY_S`` of notes.
        """
        if self.source_q is None or self.target_q is None:
            return loudness
        middle = len(self.target_q) // 2
        shifted = loudness + self.target_q[middle] - self.source_q[middle]
        weight = min(1.0, self.n_note_frames / len(self.note_loudness))
        if weight == 0:
            return shifted
        levels = np.linspace(0, 1, len(self.target_q))
        low, high = self.source_q[0], self.source_q[-1]
        if loudness < low:  # beyond what was heard: extend the map's end linearly
            mapped = self.target_q[0] + loudness - low
        elif loudness > high:
            mapped = self.target_q[-1] + loudness - high
        else:
            mapped = float(np.interp(np.interp(loudness, self.source_q, levels), levels,
                                     self.target_q))
        return weight * mapped + (1 - weight) * shifted

    def _learn_note(self, pitch: float, loudness: float) -> None:
        """Fold a note frame into the running pitch, tuning and loudness statistics."""
        memory = PITCH_MEMORY_S * self.frame_rate
        decay = 1.0 - 1.0 / memory
        self.pitch_sum = self.pitch_sum * decay + pitch
        self.pitch_weight = self.pitch_weight * decay + 1.0
        shifted = pitch + 12 * self.octaves
        self.tuning = self.tuning * decay + np.exp(2j * np.pi * (shifted - round(shifted)))
        slot = self.n_note_frames % len(self.note_loudness)
        self.note_loudness[slot] = loudness
        self.n_note_frames += 1
        update = max(1, round(QUANTILE_UPDATE_S * self.frame_rate))
        if (self.target_q is not None and self.n_note_frames >= MIN_NOTE_S * self.frame_rate
                and self.n_note_frames % update == 0):
            seen = self.note_loudness[:min(self.n_note_frames, len(self.note_loudness))]
            q = np.quantile(seen.astype(np.float64), np.linspace(0, 1, len(self.target_q)))
            self.source_q = np.maximum.accumulate(q + np.arange(len(q)) * 1e-9)


class PartitionedConvolution:
    """Convolution with a long fixed response, block by block, with no added delay.

    Uniformly partitioned overlap-save: the response is cut into ``block``-sample
    partitions; each input block's spectrum enters a delay line and meets every
    partition's spectrum. Output equals :func:`dlwa.ddsp.core.fft_convolve` of the whole
    signal (up to rounding).

    Args:
        impulse_response: [n_taps] float.
        block: samples per block; pushed audio must come in whole blocks.
    """

    def __init__(self, impulse_response: np.ndarray, *, block: int) -> None:
        ir = np.asarray(impulse_response, dtype=np.float64).reshape(-1)
        self.block = block
        self.parts = -(-len(ir) // block)
        padded = np.zeros(self.parts * block)
        padded[:len(ir)] = ir
        spectra = np.fft.rfft(padded.reshape(self.parts, block), n=2 * block, axis=-1)
        # Reversed and doubled, so the partitions line up with the ring's ages as one slice.
        self.reversed = np.concatenate([spectra[::-1], spectra[::-1]]).astype(np.complex64)
        self.delay_line = np.zeros((self.parts, block + 1), dtype=np.complex64)
        self.position = 0
        self.previous = np.zeros(block, dtype=np.float32)

    def push(self, audio: np.ndarray) -> np.ndarray:
        """Convolve the next whole blocks of the signal; returns as many samples."""
        out = np.empty(len(audio), dtype=np.float32)
        for start in range(0, len(audio), self.block):
            block = audio[start:start + self.block]
            self.position = (self.position + 1) % self.parts
            self.delay_line[self.position] = np.fft.rfft(
                np.concatenate([self.previous, block]))
            first = self.parts - 1 - self.position
            spectrum = (self.delay_line * self.reversed[first:first + self.parts]).sum(axis=0)
            out[start:start + self.block] = np.fft.irfft(spectrum, 2 * self.block)[self.block:]
            self.previous = block
        return out


class LiveSynth:
    """The decoder and synths, fed frame by frame, rendering audio block by block.

    Block ``k`` (samples ``k · hop …``) is rendered once frame ``k + frames_ahead`` is
    decoded: the oscillators interpolate from frame ``k`` toward ``k + 1``, and the noise
    filters of later frames reach back into it (``frames_ahead`` is 1 for DDSP's 65 noise
    bands at 64-sample hops).

    Args:
        model: the loaded model.
        noise: draws ``n`` samples of uniform noise in [−1, 1); None uses a seeded
            generator (tests pass a fixed noise signal to compare with the offline model).
    """

    def __init__(self, model: LoadedModel, *,
                 noise: Callable[[int], np.ndarray] | None = None) -> None:
        self.net = model.model
        config = self.net.config
        self.hop = config.hop_length
        self.sample_rate = config.sample_rate
        rng = np.random.default_rng(0)
        self.draw_noise = noise or (lambda n: rng.uniform(-1, 1, n).astype(np.float32))
        ir_size = self.net.noise.filter_size(config.n_noise_bands)
        self.noise_shift = max(0, (ir_size - 1) // 2 - 1)  # as core.filtered_noise
        self.frames_ahead = max(1, -(-self.noise_shift // self.hop))
        self.noise = np.zeros(0, dtype=np.float32)  # overlap-added filtered noise …
        self.noise_start = 0  # … from this stream sample on
        self.noise_from = 0  # frames before this one have their noise added already
        self.gru_state: torch.Tensor | None = None
        self.phase: float | None = None  # the fundamental's, in cycles
        self.controls: dict[str, torch.Tensor] = {}
        self.n_frames = 0  # decoded
        self.n_blocks = 0  # rendered
        self.reverb = None
        if self.net.reverb is not None:
            ir = self.net.reverb.get_controls()["impulse_response"][0].detach().numpy()
            self.reverb = PartitionedConvolution(ir, block=self.hop)

    def ready(self, n_frames: np.ndarray) -> np.ndarray:
        """Samples rendered once ``n_frames`` frames have been pushed."""
        return np.maximum(np.asarray(n_frames) - self.frames_ahead, 0) * self.hop

    @torch.inference_mode()
    def push(self, f0_hz: np.ndarray, loudness_db: np.ndarray) -> np.ndarray:
        """Decode new frames; return the audio of every block that can now be rendered."""
        if len(f0_hz) == 0:
            return np.zeros(0, dtype=np.float32)
        new, self.gru_state = self.net.controls(
            torch.from_numpy(np.ascontiguousarray(f0_hz, dtype=np.float32))[None],
            torch.from_numpy(np.ascontiguousarray(loudness_db, dtype=np.float32))[None],
            self.gru_state)
        first = self.n_frames
        self.n_frames += len(f0_hz)
        self.controls = {name: torch.cat([self.controls[name], value], dim=1)
                         if self.controls else value for name, value in new.items()}
        irs = core.frequency_impulse_response(new["noise_magnitudes"],
                                              window_size=self.net.noise.window_size)[0].numpy()
        for i, k in enumerate(range(first, self.n_frames)):
            if k >= self.noise_from:
                self._add_noise(k, irs[i])
        audio = self._render()
        if self.reverb is not None and len(audio):
            audio = audio + self.reverb.push(audio)  # dry + wet, as Reverb.get_signal
        return audio

    def _add_noise(self, k: int, ir: np.ndarray) -> None:
        """Overlap-add frame ``k``'s noise block through its filter (as ``fft_convolve``)."""
        piece = np.convolve(self.draw_noise(self.hop), ir).astype(np.float32)
        at = k * self.hop - self.noise_shift - self.noise_start
        if at < 0:  # before the stream's first sample
            piece, at = piece[-at:], 0
        end = at + len(piece)
        if end > len(self.noise):
            self.noise = np.concatenate([self.noise, np.zeros(end - len(self.noise), np.float32)])
        self.noise[at:end] += piece

    def _render(self) -> np.ndarray:
        """Blocks ``n_blocks … n_frames − frames_ahead − 1``."""
        k0, k1 = self.n_blocks, self.n_frames - self.frames_ahead
        if k1 <= k0:
            return np.zeros(0, dtype=np.float32)
        offset = k0 - (self.n_frames - self.controls["f0_hz"].shape[1])
        c = {name: value[0, offset:offset + k1 - k0 + 1] for name, value in self.controls.items()}
        harmonic = self._harmonics(c["f0_hz"][:, 0].double().numpy(),
                                   (c["amplitudes"] * c["harmonic_distribution"]).numpy())
        n = (k1 - k0) * self.hop
        a = k0 * self.hop - self.noise_start
        noise = self.noise[a:a + n]
        self.noise = self.noise[a + n:]
        self.noise_start = k1 * self.hop
        self.n_blocks = k1
        keep = self.n_frames - k1  # block k1 starts from frame k1
        self.controls = {name: value[:, -keep:] for name, value in self.controls.items()}
        return harmonic + noise

    def _harmonics(self, f0_hz: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The oscillator bank over frames ``k0 … k1`` ([n + 1] f0, [n + 1, n_harmonics]
        weights): n blocks, as :func:`dlwa.ddsp.core.harmonic_synthesis` renders them
        (f0 linear, amplitudes raised-cosine between frames, phase summed in float64 from
        the last block's), except that a partial is silenced per block where it would reach
        Nyquist at either end. The offline rule (each frame masked by its neighbours' f0
        too) would need the frame after next, 4 ms more look-ahead; this one gives the same
        audio however the frames are grouped into calls.
        """
        n_blocks = len(f0_hz) - 1
        k = np.arange(1, weights.shape[1] + 1)
        top = np.maximum(f0_hz[:-1], f0_hz[1:])  # [n_blocks]
        mask = top[:, None] * k[None, :] < self.sample_rate / 2
        position = np.arange(self.hop) / self.hop
        smooth = 0.5 - 0.5 * np.cos(np.pi * position)
        f0 = (f0_hz[:-1, None] * (1 - position) + f0_hz[1:, None] * position).reshape(-1)
        start = 0.0 if self.phase is None else self.phase
        phase = start + np.cumsum(f0 / self.sample_rate)
        self.phase = float(np.remainder(phase[-1], 1.0))
        angle = (2 * np.pi * np.remainder(phase, 1.0)).astype(np.float32)
        amp = (weights[:-1] * mask)[:, None, :] * (1 - smooth)[None, :, None] + \
            (weights[1:] * mask)[:, None, :] * smooth[None, :, None]
        amp = amp.reshape(n_blocks * self.hop, -1).astype(np.float32)
        return (np.sin(angle[:, None] * k[None, :].astype(np.float32)) * amp).sum(axis=1)

    def take_over(self, old: LiveSynth, frames: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Continue ``old``'s stream with this model, without a gap.

        ``frames`` are the adjusted ``(f0_hz, loudness_db)`` of the frames ``old`` decoded
        but has not rendered yet (``old.n_blocks … old.n_frames − 1``): this model decodes
        them again, keeping the oscillators' phase and the noise already added. Returns any
        audio that becomes ready (normally none).
        """
        self.n_blocks = self.n_frames = old.n_blocks
        self.noise_from = old.n_frames
        self.noise, self.noise_start = old.noise, old.noise_start
        self.phase = old.phase
        return self.push(*frames)


class DDSPStream:
    """Live timbre transfer of a stream (see the module docstring).

    Args:
        model: from :func:`dlwa.ddsp.model.load_model`.
        sample_rate: Hz of the host (Pd's rate, or the file's).
        chunk: samples per :meth:`process` call; the latency is computed for it.
        params: the transfer controls (``tracker`` must be None or ``"yin"``).
        noise: as for :class:`LiveSynth`.

    Raises:
        AudioError: a bad rate, chunk or control.
    """

    def __init__(self, model: LoadedModel, *, sample_rate: int, chunk: int = DEFAULT_CHUNK,
                 params: TransferParams | None = None,
                 noise: Callable[[int], np.ndarray] | None = None) -> None:
        self.model = model
        self.sample_rate = check_sample_rate(sample_rate)
        if not (isinstance(chunk, int) and 1 <= chunk <= MAX_CHUNK):
            raise AudioError(f"chunk must be a whole number of samples from 1 to {MAX_CHUNK}, "
                             f"got {chunk}; e.g. {DEFAULT_CHUNK}")
        self.chunk = chunk
        self.params = _live_params(params or TransferParams())
        self._noise = noise
        self.starved = 0
        self._build()

    def _build(self) -> None:
        config = self.model.model.config
        self.hop = config.hop_length
        self.lookahead = LOOKAHEAD_HOPS * self.hop
        self._in = StreamResampler(self.sample_rate, config.sample_rate)
        self._out = StreamResampler(config.sample_rate, self.sample_rate)
        self.features = LiveFeatures(sample_rate=config.sample_rate,
                                     frame_rate=config.frame_rate, lookahead=self.lookahead)
        self.adjust = LiveAdjust(self.model.statistics, frame_rate=config.frame_rate)
        self.synth = LiveSynth(self.model, noise=self._noise)
        self.latency = self._fifo_latency()
        self._fifo = np.zeros(self.latency, dtype=np.float32)
        self.last_frames: LiveFrames | None = None
        # The adjusted frames a model swap decodes again (see LiveSynth.take_over).
        self._recent = (np.zeros(0, np.float32), np.zeros(0, np.float32))
        self._pending = np.zeros(0, dtype=np.float32)

    def _fifo_latency(self) -> int:
        """The least FIFO priming that never runs dry when called with whole chunks."""
        n = np.arange(1, 4 * self.sample_rate // self.chunk + 64, dtype=np.int64) * self.chunk
        frames = self.features.ready(self._in.available(n))
        rendered = self.synth.ready(frames)
        return int(max(0, (n - self._out.available(rendered)).max()))

    def host_latency(self, *, realtime: bool) -> int:
        """The latency in Pd: pyext~'s ring adds two chunks in real time, one in ``-batch``
        (where ``process`` runs inside the DSP tick)."""
        return self.latency + (RING_CHUNKS_REALTIME if realtime else 1) * self.chunk

    @property
    def latency_ms(self) -> float:
        """:attr:`latency` in milliseconds."""
        return 1000.0 * self.latency / self.sample_rate

    def warm_up(self, seconds: float = 2 * QUANTILE_UPDATE_S) -> None:
        """Play a loud tone through every code path, then start over: first calls import
        modules, allocate and plan FFTs, tens of ms that must not fall inside a live chunk."""
        n = round(seconds * self.sample_rate) // self.chunk * self.chunk
        t = np.arange(n) / self.sample_rate
        tone = (0.5 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
        for start in range(0, n, self.chunk):
            self.process(tone[start:start + self.chunk])
        self.reset()

    def reset(self) -> None:
        """Start over (a new stream): silence, fresh running statistics and model state."""
        self._build()

    def set(self, **changes: Any) -> None:
        """Change controls (``TransferParams`` fields) while streaming; they glide.

        Raises:
            AudioError: an unknown name or a value out of range (nothing changes).
        """
        unknown = sorted(set(changes) - set(TransferParams.__dataclass_fields__))
        if unknown:
            raise AudioError(f"unknown control {unknown[0]!r}; use one of "
                             f"{sorted(TransferParams.__dataclass_fields__)}")
        self.params = _live_params(replace(self.params, **changes))

    def swap_model(self, model: LoadedModel) -> None:
        """Play ``model`` from the next chunk on (rates permitting, the running statistics
        and the input analysis carry on; otherwise the stream restarts)."""
        old = self.model.model.config
        new = model.model.config
        self.model = model
        if (old.sample_rate, old.frame_rate) != (new.sample_rate, new.frame_rate):
            self._build()
            return
        self.adjust.statistics = model.statistics
        old, self.synth = self.synth, LiveSynth(model, noise=self._noise)
        recent = [values[old.n_blocks - (old.n_frames - len(values)):]
                  for values in self._recent]
        self._pending = self.synth.take_over(old, (recent[0], recent[1]))

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Transfer one chunk: [n] host-rate samples in, [n] out (float32)."""
        x = np.nan_to_num(np.asarray(audio, dtype=np.float32).reshape(-1), nan=0.0,
                          posinf=0.0, neginf=0.0)
        frames = self.features.push(self._in.push(x))
        if len(frames):
            self.last_frames = frames
        f0_hz, loudness_db = self.adjust(frames, self.params)
        keep = self.synth.frames_ahead + 2
        self._recent = (np.concatenate([self._recent[0], f0_hz])[-keep:],
                        np.concatenate([self._recent[1], loudness_db])[-keep:])
        rendered = self.synth.push(f0_hz, loudness_db)
        if len(self._pending):
            rendered, self._pending = np.concatenate([self._pending, rendered]), self._pending[:0]
        self._fifo = np.concatenate([self._fifo, self._out.push(rendered)])
        out = self._fifo[:len(x)]
        self._fifo = self._fifo[len(x):]
        if len(out) < len(x):
            self.starved += 1
            out = np.concatenate([out, np.zeros(len(x) - len(out), dtype=np.float32)])
        return out


def transfer_aligned(model: LoadedModel, audio: np.ndarray, *, sample_rate: int,
                     params: TransferParams | None = None,
                     noise: Callable[[int], np.ndarray] | None = None) -> np.ndarray:
    """What :class:`DDSPStream` plays for ``audio``, without its delay: the same stages fed
    the whole input at once (and its look-ahead of silence after it), so output sample
    ``n`` is the transfer of input time ``n``. The stream's output equals this delayed by
    exactly :attr:`DDSPStream.latency` samples; tests and ``dlwa bench`` measure against it.
    """
    stream = DDSPStream(model, sample_rate=sample_rate, chunk=DEFAULT_CHUNK, params=params,
                        noise=noise)
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    out = stream.process(np.concatenate([x, np.zeros(stream.latency, dtype=np.float32)]))
    return out[stream.latency:]


def _live_params(params: TransferParams) -> TransferParams:
    if params.tracker not in (None, "yin"):
        raise AudioError(f"live transfer tracks pitch with YIN only (got tracker "
                         f"{params.tracker!r}): CREPE needs more look-ahead than 32 ms allows")
    return params.checked()


def stream_file(
    input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], *,
    model: LoadedModel, chunk: int = DEFAULT_CHUNK, params: TransferParams | None = None,
    sample_rate: int | None = None, progress: Callable[[float], None] | None = None,
) -> DDSPStream:
    """Run a sound file through :class:`DDSPStream` chunk by chunk and write what it plays.

    The output is written as streamed, not shifted: it starts with :attr:`latency` samples
    of silence and ends that much early (the same length as the input).

    Args:
        input_path: any file libsndfile reads (channels are averaged).
        output_path: WAV, FLAC or OGG; written under a temporary name, then renamed.
        model, chunk, params: as for :class:`DDSPStream`.
        sample_rate: the host's rate; None streams at the file's own rate.
        progress: called with 0…1.

    Returns:
        The stream (its ``latency``, ``starved`` count and last features).
    """
    from dlwa.audio.io import load_audio, save_audio

    audio, rate = load_audio(input_path, sample_rate=sample_rate)
    stream = DDSPStream(model, sample_rate=rate, chunk=chunk, params=params)
    n = len(audio)
    padded = np.concatenate([audio, np.zeros(-n % chunk, dtype=np.float32)])
    out = np.empty(len(padded), dtype=np.float32)
    for start in range(0, len(padded), chunk):
        out[start:start + chunk] = stream.process(padded[start:start + chunk])
        if progress is not None:
            progress((start + chunk) / len(padded))
    output_path = Path(output_path)
    partial = output_path.with_name(f".{output_path.name}.{os.getpid()}.partial"
                                    f"{output_path.suffix}")
    try:
        save_audio(partial, out[:n], sample_rate=rate, subtype="FLOAT")
        os.replace(partial, output_path)
    finally:
        partial.unlink(missing_ok=True)
    return stream
