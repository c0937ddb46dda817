"""Timbre transfer: any audio in, the model's instrument out (``dlwa transfer ddsp``).

The course's controls (``02_ddsp/handlers/timbre_transfer.py``), in its order:

1. Features at the model's sample rate: f0 and confidence (pluggable tracker) and
   A-weighted loudness.
2. Auto adjust (``adjust``, needs the checkpoint's dataset statistics): notes are detected
   from confidence and loudness; f0 moves by whole octaves toward the dataset's mean
   pitch; loudness of notes is quantile-normalised onto the dataset's loudness
   distribution; frames between notes are lowered by up to ``quiet`` dB; ``autotune``
   (0…1) pulls notes toward the nearest semitone (after estimating the input's tuning).
3. Always: loudness ``+= loudness_db_shift``; f0 ``×= 2^f0_octave_shift`` (capped at MIDI
   110); frames with confidence below ``f0_confidence_threshold`` become unvoiced (silent
   harmonics, noise only).
4. Decoder and synthesis; output at the model's rate or resampled to ``out_sample_rate``.

Any length in bounded memory: step 1 reads the input in blocks and computes the features
of each block with enough context that they equal the whole-signal features
(:class:`dlwa.ddsp.features.FeatureStream`); step 2 measures the global statistics over the
feature arrays (an hour is 900,000 frames, a few MB), then adjusts them in chunks; step 4
synthesises block by block with the state carried across blocks
(:func:`dlwa.ddsp.synthesis.synthesize_blocks`), resampling as a stream, and hands each
block on: :func:`transfer_file` writes it to the output file (the peak is normalised by a
last pass over a float32 scratch file), :func:`transfer` collects it. Both run the same
code, so they agree sample for sample.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soxr
import torch

from dlwa.audio.conversions import hz_to_midi, midi_to_hz
from dlwa.audio.io import AudioWriter, audio_info, read_audio_blocks
from dlwa.audio.resample import resample, resampled_length
from dlwa.audio.signals import normalize_peak
from dlwa.audio.validate import AudioError, check_audio, check_sample_rate
from dlwa.ddsp.features import FeatureStream, compute_f0, compute_features
from dlwa.ddsp.model import LoadedModel
from dlwa.ddsp.synthesis import synthesize_blocks

MAX_PITCH_MIDI = 110.0
NOTE_MIN_DB = -120.0
NOTE_CONFIDENCE = 0.7
NOTE_SMOOTHING_FRAMES = 40
SILENCE_PEAK = 1e-5
# Seconds of audio processed at once; any value gives the same result (up to rounding).
DEFAULT_BLOCK_S = 10.0
# Samples per read of the float32 scratch file when normalising the peak of a file.
SCRATCH_BLOCK = 1 << 20
# Frames auto adjust handles at once, after measuring the whole input.
ADJUST_CHUNK = 1 << 16


class TransferError(ValueError):
    """The input cannot be transferred (e.g. it is silent); the message says why."""


@dataclass
class TransferParams:
    """The course's controls (see the module docstring).

    Attributes:
        f0_octave_shift: octaves added to f0 (fractions allowed).
        f0_confidence_threshold: frames below this confidence are unvoiced (0…1).
        loudness_db_shift: dB added to loudness.
        adjust: auto adjust toward the training data (needs dataset statistics).
        quiet: dB by which frames between notes are lowered (auto adjust only).
        autotune: 0 (off) … 1 (snap to semitones) (auto adjust only).
        tracker: pitch tracker; None uses the fast default.
    """

    f0_octave_shift: float = 0.0
    f0_confidence_threshold: float = 0.0
    loudness_db_shift: float = 0.0
    adjust: bool = True
    quiet: float = 20.0
    autotune: float = 0.0
    tracker: str | None = None

    def checked(self) -> TransferParams:
        """Self, after range checks.

        Raises:
            AudioError: a value out of range, naming it and a valid value.
        """
        if not 0.0 <= self.f0_confidence_threshold <= 1.0:
            raise AudioError(f"f0_confidence_threshold must be in [0, 1], got "
                             f"{self.f0_confidence_threshold}; e.g. 0.2")
        if not 0.0 <= self.autotune <= 1.0:
            raise AudioError(f"autotune must be in [0, 1], got {self.autotune}; e.g. 0.5")
        if self.quiet < 0:
            raise AudioError(f"quiet must be >= 0 dB, got {self.quiet}; e.g. 20")
        if abs(self.f0_octave_shift) > 20:
            raise AudioError(f"f0_octave_shift must be within ±20, got {self.f0_octave_shift}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def transfer(
    audio: np.ndarray, *, sample_rate: int, model: LoadedModel,
    params: TransferParams | None = None, out_sample_rate: int | None = None,
    peak: float | None = None, progress: Callable[[float], None] | None = None,
    block_duration_s: float = DEFAULT_BLOCK_S,
) -> tuple[np.ndarray, int]:
    """Transfer ``audio`` to the model's timbre.

    Runs the same two passes in blocks as :func:`transfer_file` (see the module
    docstring), so the two agree sample for sample; only the input and the output are
    held whole.

    Args:
        audio: [n_samples] or [n_channels, n_samples] float (channels are averaged).
        sample_rate: Hz of ``audio``; any rate.
        model: from :func:`dlwa.ddsp.model.load_model`.
        params: controls; defaults when None.
        out_sample_rate: resample the output to this rate; None keeps the model's.
        peak: normalise the output to this peak; None leaves the level as synthesised.
        progress: called with 0…1 as the work advances.
        block_duration_s: seconds of audio processed at once (memory; any value gives
            the same result up to rounding).

    Returns:
        ``(audio [n_out] float32, out_sample_rate)``; the duration equals the input's.

    Raises:
        AudioError: empty, non-finite or badly shaped audio, or a bad rate or control.
        TransferError: the input is silent.
    """
    params = (params or TransferParams()).checked()
    check_audio(audio, ndim=(1, 2))
    sample_rate = check_sample_rate(sample_rate)
    mono = np.asarray(audio, dtype=np.float32)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    if float(np.abs(mono).max()) < SILENCE_PEAK:
        raise TransferError("audio is silent (peak below -100 dBFS): nothing to transfer")
    report = _Progress(progress)
    block_size = _block_size(block_duration_s, sample_rate)
    pieces: list[np.ndarray] = []
    rate = _transfer_blocks(
        (mono[i:i + block_size] for i in range(0, len(mono), block_size)),
        n_input=len(mono), sample_rate=sample_rate, model=model, params=params,
        out_sample_rate=out_sample_rate, block_duration_s=block_duration_s,
        write=pieces.append, report=report)
    out = np.concatenate(pieces)
    if peak is not None and np.abs(out).max() > 0:
        out = normalize_peak(out, peak=peak)
    report(1.0)
    return out.astype(np.float32), rate


def transfer_file(
    input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], *,
    model: LoadedModel, params: TransferParams | None = None,
    out_sample_rate: int | None = None, peak: float | None = None,
    progress: Callable[[float], None] | None = None,
    block_duration_s: float = DEFAULT_BLOCK_S, subtype: str = "PCM_16",
) -> tuple[int, int]:
    """Transfer a sound file of any length into another, in bounded memory.

    Pass 1 reads ``input_path`` block by block for the features, pass 2 writes each
    block of synthesis as it is made; with ``peak`` the blocks go to a float32 scratch
    file beside the output first, and a last pass writes them scaled to the peak. The
    output is written under a temporary name and renamed when complete (so it may be the
    input). It equals ``save_audio(output_path, transfer(load_audio(input_path)...))``.

    Args:
        input_path: any file libsndfile reads, any rate, mono or multi-channel.
        output_path: WAV, FLAC or OGG (by extension); its folder must exist.
        model, params, out_sample_rate, peak, progress, block_duration_s: as for
            :func:`transfer`.
        subtype: as for :func:`dlwa.audio.io.save_audio`.

    Returns:
        ``(n_samples, sample_rate)`` of the written file. On an error ``output_path`` is
        left as it was.

    Raises:
        FileNotFoundError: no input file, or no output folder.
        AudioError: an unreadable input, a bad output name, rate or control.
        TransferError: the input is silent.
    """
    params = (params or TransferParams()).checked()
    info = audio_info(input_path)
    rate = _output_rate(model, out_sample_rate)
    report = _Progress(progress)
    blocks = read_audio_blocks(input_path, block_size=_block_size(block_duration_s,
                                                                  info.sample_rate))
    options = {"n_input": info.n_samples, "sample_rate": info.sample_rate, "model": model,
               "params": params, "out_sample_rate": out_sample_rate,
               "block_duration_s": block_duration_s, "report": report}
    output_path = Path(output_path)
    partial = output_path.with_name(f".{output_path.name}.{os.getpid()}.partial"
                                    f"{output_path.suffix}")
    writer = AudioWriter(partial, sample_rate=rate, subtype=subtype)
    try:
        if peak is None:
            _transfer_blocks(blocks, write=writer.write, **options)
        else:
            with tempfile.TemporaryFile(dir=writer.path.parent) as scratch:
                top = _Peak(scratch.write)
                _transfer_blocks(blocks, write=top, **options)
                scratch.seek(0)
                gain = peak / top.peak if top.peak > 0 else 1.0
                n_bytes = 4 * min(_block_size(block_duration_s, rate), SCRATCH_BLOCK)
                while chunk := scratch.read(n_bytes):
                    writer.write(np.frombuffer(chunk, dtype=np.float32) * gain)
                    report(0.9 + 0.1 * scratch.tell() / (4 * top.n_samples))
        writer.close()
        os.replace(partial, output_path)
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    report(1.0)
    return writer.n_samples, rate


def _transfer_blocks(
    blocks: Iterable[np.ndarray], *, n_input: int, sample_rate: int, model: LoadedModel,
    params: TransferParams, out_sample_rate: int | None, block_duration_s: float,
    write: Callable[[np.ndarray], object], report: _Progress,
) -> int:
    """The two passes: features of ``blocks`` (mono, at ``sample_rate``), auto adjust,
    synthesis written block by block through ``write``; returns the output rate.
    Progress goes 0 → 0.3 (features), 0.4 (adjust), 0.9 (synthesis).
    """
    config = model.model.config
    rate = _output_rate(model, out_sample_rate)
    block_frames = max(1, round(block_duration_s * config.frame_rate))
    features, n_samples = _features_pass(blocks, n_input=n_input, sample_rate=sample_rate,
                                         model=model, tracker=params.tracker or model.tracker,
                                         block_frames=block_frames, report=report)
    f0_hz, loudness_db = adjust_features(features, params, model.statistics)
    del features
    report(0.4)
    resampler = _Resampler(orig_sample_rate=config.sample_rate, sample_rate=rate)
    done = 0
    for audio in synthesize_blocks(model, f0_hz, loudness_db, block_frames=block_frames):
        audio = audio[:n_samples - done]
        done += len(audio)
        write(resampler(audio))
        report(0.4 + 0.5 * done / n_samples)
    write(resampler(np.zeros(0, dtype=np.float32), last=True))
    return rate


def _features_pass(
    blocks: Iterable[np.ndarray], *, n_input: int, sample_rate: int, model: LoadedModel,
    tracker: str, block_frames: int, report: _Progress,
) -> tuple[dict[str, np.ndarray], int]:
    """Pass 1: ``(features [n_frames] each, n_samples at the model's rate)``.

    As the whole-signal computation: resampled to the model's rate, zero-padded to whole
    frames, ``ceil(n_samples / hop_length)`` frames.

    Raises:
        AudioError: no samples.
        TransferError: the input is silent.
    """
    config = model.model.config
    stream = FeatureStream(sample_rate=config.sample_rate, frame_rate=config.frame_rate,
                           tracker=tracker, block_frames=block_frames)
    resampler = _Resampler(orig_sample_rate=sample_rate, sample_rate=config.sample_rate)
    n_read, top = 0, 0.0
    for block in blocks:
        n_read += len(block)
        top = max(top, float(np.abs(block).max(initial=0.0)))
        stream.push(resampler(block))
        report(0.3 * min(1.0, n_read / max(n_input, 1)))
    stream.push(resampler(np.zeros(0, dtype=np.float32), last=True))
    if n_read == 0:
        raise AudioError("audio is empty: record or load some sound first")
    if top < SILENCE_PEAK:
        raise TransferError("audio is silent (peak below -100 dBFS): nothing to transfer")
    n_samples = stream.n_samples
    n_frames = -(-n_samples // config.hop_length)
    stream.push(np.zeros(n_frames * config.hop_length - n_samples, dtype=np.float32))
    features = {name: value[:n_frames] for name, value in stream.finish().items()}
    return features, n_samples


class _Resampler:
    """soxr's streaming resampler: chunks in, :func:`resample`'s output out, chunk by chunk.

    soxr's stream gives the very samples of its one-shot call; the ``last`` chunk (which
    may be empty) flushes it and fits the total to :func:`resampled_length`.
    """

    def __init__(self, *, orig_sample_rate: int, sample_rate: int) -> None:
        self._rates = {"orig_sample_rate": orig_sample_rate, "sample_rate": sample_rate}
        self._stream = None if orig_sample_rate == sample_rate else soxr.ResampleStream(
            orig_sample_rate, sample_rate, 1, dtype="float32", quality="VHQ")
        self._n_in = self._n_out = 0

    def __call__(self, audio: np.ndarray, *, last: bool = False) -> np.ndarray:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        self._n_in += len(audio)
        out = audio if self._stream is None else self._stream.resample_chunk(audio, last=last)
        if last:
            n_left = resampled_length(self._n_in, **self._rates) - self._n_out
            out = np.pad(out[:n_left], (0, max(0, n_left - len(out))))
        self._n_out += len(out)
        return out


class _Peak:
    """Passes float32 blocks on as bytes, keeping their peak and length."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self.sink = sink
        self.peak = 0.0
        self.n_samples = 0

    def __call__(self, audio: np.ndarray) -> None:
        if audio.size:
            self.peak = max(self.peak, float(np.abs(audio).max()))
        self.n_samples += len(audio)
        self.sink(np.ascontiguousarray(audio, dtype=np.float32).tobytes())


class _Progress:
    """Calls ``progress`` (if any) at every step: it is also where a caller stops the work
    (the Pd object raises there), so it is not thinned out here; callers rate-limit what
    they show."""

    def __init__(self, progress: Callable[[float], None] | None) -> None:
        self.progress = progress

    def __call__(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress(fraction)


def _block_size(block_duration_s: float, sample_rate: int) -> int:
    if not block_duration_s > 0:
        raise AudioError(f"block_duration_s must be positive, got {block_duration_s}; e.g. "
                         f"{DEFAULT_BLOCK_S}")
    return max(1, round(block_duration_s * sample_rate))


def _output_rate(model: LoadedModel, out_sample_rate: int | None) -> int:
    if out_sample_rate is None:
        return model.model.config.sample_rate
    return check_sample_rate(out_sample_rate, name="out_sample_rate")


def adjust_features(features: dict[str, np.ndarray], params: TransferParams,
                    statistics: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
    """Apply auto adjust (when on and statistics exist) and the shifts.

    What auto adjust measures over the whole input (:class:`NoteStatistics`) comes first;
    the frames are then adjusted ``ADJUST_CHUNK`` at a time, so an hour of input
    (900,000 frames) needs a few MB beyond its features.

    Returns:
        ``(f0_hz, loudness_db)``, [n_frames] float32 each.
    """
    notes = None
    if params.adjust and statistics is not None:
        notes = NoteStatistics.measure(features, statistics, tuning=params.autotune > 0)
    n_frames = len(features["f0_hz"])
    f0_out = np.empty(n_frames, dtype=np.float32)
    loudness_out = np.empty(n_frames, dtype=np.float32)
    for frames in _chunks(n_frames):
        f0_hz = features["f0_hz"][frames].astype(np.float64)
        confidence = features["f0_confidence"][frames].astype(np.float64)
        loudness_db = features["loudness_db"][frames].astype(np.float64)
        if notes is not None:
            f0_hz, loudness_db = notes.adjust(f0_hz, loudness_db, frames, params)
        loudness_out[frames] = loudness_db + params.loudness_db_shift
        f0_hz = np.minimum(f0_hz * 2.0**params.f0_octave_shift, midi_to_hz(MAX_PITCH_MIDI))
        f0_out[frames] = np.where(confidence < params.f0_confidence_threshold, 0.0, f0_hz)
    return f0_out, loudness_out


@dataclass
class NoteStatistics:
    """What auto adjust measures over the whole input before it adjusts any frame.

    Attributes:
        features: the input's features (not copied).
        threshold: the level a note must reach (see :func:`detect_notes`).
        octaves: whole octaves that move the notes' mean pitch toward the dataset's.
        source_quantiles_db: loudness quantiles of the input's notes.
        target_quantiles_db: the dataset's loudness quantiles.
        tuning_offset: the notes' tuning in semitones (−0.5…0.5), after the octave
            shift; None when not measured.
    """

    features: dict[str, np.ndarray]
    threshold: float
    octaves: float
    source_quantiles_db: np.ndarray
    target_quantiles_db: np.ndarray
    tuning_offset: float | None

    @classmethod
    def measure(cls, features: dict[str, np.ndarray], statistics: dict[str, Any], *,
                tuning: bool) -> NoteStatistics | None:
        """Measure in chunks of frames; None when the input has no notes."""
        loudness_db = features["loudness_db"]
        threshold = note_threshold(loudness_db)
        n_notes, pitch_sum, note_loudness = 0, 0.0, []
        for frames in _chunks(len(loudness_db)):
            mask_on, _ = detect_notes(loudness_db, features["f0_confidence"], frames=frames,
                                      threshold=threshold)
            pitch = hz_to_midi(features["f0_hz"][frames].astype(np.float64))
            n_notes += int(mask_on.sum())
            pitch_sum += float(pitch[mask_on].sum())
            note_loudness.append(loudness_db[frames][mask_on])
        if n_notes == 0:
            return None
        octaves = float(np.round((statistics["mean_pitch_midi"] - pitch_sum / n_notes) / 12.0))
        target = np.asarray(statistics["loudness_quantiles_db"], dtype=np.float64)
        source = loudness_quantiles(np.concatenate(note_loudness).astype(np.float64),
                                    n_quantiles=len(target))
        notes = cls(features, threshold, octaves, source, target, None)
        if tuning:
            notes.tuning_offset = notes.measure_tuning()
        return notes

    def measure_tuning(self) -> float:
        """The circular mean of the notes' deviations from the equal-tempered grid."""
        f0_hz, n_notes, total = self.features["f0_hz"], 0, 0j
        for frames in _chunks(len(f0_hz)):
            mask_on, _ = self.detect(frames)
            pitch = hz_to_midi(f0_hz[frames].astype(np.float64) * 2.0**self.octaves)[mask_on]
            n_notes += len(pitch)
            total += complex(np.exp(2j * np.pi * (pitch - np.round(pitch))).sum())
        return float(np.angle(total / n_notes) / (2 * np.pi))

    def detect(self, frames: slice) -> tuple[np.ndarray, np.ndarray]:
        """:func:`detect_notes` for ``frames``, against the whole input's threshold."""
        return detect_notes(self.features["loudness_db"], self.features["f0_confidence"],
                            frames=frames, threshold=self.threshold)

    def adjust(self, f0_hz: np.ndarray, loudness_db: np.ndarray, frames: slice,
               params: TransferParams) -> tuple[np.ndarray, np.ndarray]:
        """Auto adjust of ``frames`` (their f0 and loudness, float64)."""
        mask_on, note_on_value = self.detect(frames)
        f0_hz = f0_hz * 2.0**self.octaves
        loudness_db = quantile_normalize(loudness_db, self.source_quantiles_db,
                                         self.target_quantiles_db)
        off = ~mask_on
        loudness_db[off] -= params.quiet * (1.0 - np.clip(note_on_value[off], 0, 1))
        if params.autotune > 0:
            f0_hz = midi_to_hz(autotune(hz_to_midi(f0_hz), mask_on, amount=params.autotune,
                                        offset=self.tuning_offset))
        return f0_hz, loudness_db


def note_threshold(loudness_db: np.ndarray) -> float:
    """The level of a note: the mean level (dB above ``NOTE_MIN_DB``) · ``NOTE_CONFIDENCE``²."""
    mean_db = np.asarray(loudness_db, dtype=np.float64).mean()
    return float((mean_db - NOTE_MIN_DB) * NOTE_CONFIDENCE**2)


def detect_notes(loudness_db: np.ndarray, confidence: np.ndarray, *,
                 frames: slice | None = None,
                 threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frames inside notes: confidence-weighted level, smoothed, against the mean level.

    Args:
        loudness_db: [n_frames] dB.
        confidence: [n_frames] 0…1.
        frames: the frames to classify (the smoothing reads their neighbours); None: all.
        threshold: from :func:`note_threshold`; None computes it from ``loudness_db``.

    Returns:
        ``(mask_on, note_on_value)`` for ``frames``, the value being the smoothed level
        over the threshold (≥ 1 inside notes).
    """
    n_frames = len(loudness_db)
    frames = slice(0, n_frames) if frames is None else frames
    threshold = note_threshold(loudness_db) if threshold is None else threshold
    half = NOTE_SMOOTHING_FRAMES // 2  # frame i averages the levels of i − 20 … i + 19
    start, stop = max(0, frames.start - half), min(n_frames, frames.stop + half - 1)
    level = (confidence[start:stop].astype(np.float64)**2
             * (loudness_db[start:stop].astype(np.float64) - NOTE_MIN_DB))
    kernel = np.ones(NOTE_SMOOTHING_FRAMES) / NOTE_SMOOTHING_FRAMES
    # np.convolve's "same" mode, for inputs shorter than the kernel too.
    first = (NOTE_SMOOTHING_FRAMES - 1) // 2 + frames.start - start
    smoothed = np.convolve(level, kernel, mode="full")[first:first + frames.stop - frames.start]
    value = smoothed / max(threshold, 1e-6)
    return value >= 1.0, value


def loudness_quantiles(note_loudness_db: np.ndarray, *, n_quantiles: int) -> np.ndarray:
    """Quantiles of the notes' loudness at ``n_quantiles`` even levels, made increasing.

    ``note_loudness_db`` is reordered in place.
    """
    levels = np.linspace(0, 1, n_quantiles)
    source = np.quantile(note_loudness_db, levels, overwrite_input=True)
    return np.maximum.accumulate(source + np.arange(n_quantiles) * 1e-9)


def quantile_normalize(loudness_db: np.ndarray, source_quantiles_db: np.ndarray,
                       target_quantiles_db: np.ndarray) -> np.ndarray:
    """Map loudness through the input notes' CDF onto the dataset's quantiles."""
    levels = np.linspace(0, 1, len(target_quantiles_db))
    cdf = np.interp(loudness_db, source_quantiles_db, levels)
    return np.interp(cdf, levels, target_quantiles_db)


def autotune(pitch_midi: np.ndarray, mask_on: np.ndarray, *, amount: float,
             offset: float | None = None) -> np.ndarray:
    """Pull note frames toward the nearest semitone of the input's own tuning.

    The tuning ``offset`` (in semitones, −0.5…0.5) is, when None, the circular mean of
    the note frames' deviations from the equal-tempered grid.
    """
    if offset is None:
        deviation = pitch_midi[mask_on] - np.round(pitch_midi[mask_on])
        offset = np.angle(np.exp(2j * np.pi * deviation).mean()) / (2 * np.pi)
    target = np.round(pitch_midi - offset) + offset
    tuned = pitch_midi + amount * (target - pitch_midi)
    return np.where(mask_on & (pitch_midi > 0), tuned, pitch_midi)


def _chunks(n_frames: int) -> Iterator[slice]:
    for start in range(0, n_frames, ADJUST_CHUNK):
        yield slice(start, min(n_frames, start + ADJUST_CHUNK))


def evaluate(
    model: LoadedModel, files: list[tuple[str, np.ndarray, int]], *, tracker: str | None = None,
) -> dict[str, Any]:
    """Resynthesis quality on ``(name, audio, sample_rate)`` items.

    For each file: the spectral loss between the input (at the model's rate) and its
    resynthesis with adjust off and no shifts, and the pitch accuracy: the share of voiced
    input frames (confidence ≥ 0.5, loudness above −60 dB) whose output f0 is within 50
    cents of the input's.
    """
    from dlwa.audio import multiscale_spectral_loss

    config = model.model.config
    params = replace(TransferParams(), adjust=False, tracker=tracker)
    per_file = []
    for name, audio, sample_rate in files:
        x = audio if sample_rate == config.sample_rate else resample(
            audio, orig_sample_rate=sample_rate, sample_rate=config.sample_rate)
        out, _ = transfer(x, sample_rate=config.sample_rate, model=model, params=params)
        loss = float(multiscale_spectral_loss(torch.from_numpy(x.astype(np.float32)),
                                              torch.from_numpy(out)))
        tracker_name = params.tracker or model.tracker
        f_in = compute_features(x, sample_rate=config.sample_rate, frame_rate=config.frame_rate,
                                tracker=tracker_name)
        f0_out, _ = compute_f0(out, sample_rate=config.sample_rate,
                               frame_rate=config.frame_rate, tracker=tracker_name)
        voiced = (f_in["f0_confidence"] >= 0.5) & (f_in["loudness_db"] > -60)
        cents = 1200 * np.abs(np.log2(np.maximum(f0_out[voiced], 1e-3)
                                      / np.maximum(f_in["f0_hz"][voiced], 1e-3)))
        per_file.append({"file": name, "spectral_loss": loss,
                         "pitch_accuracy": float((cents < 50).mean()) if voiced.any() else None,
                         "voiced_frames": int(voiced.sum())})
    accuracies = [(f["pitch_accuracy"], f["voiced_frames"]) for f in per_file
                  if f["pitch_accuracy"] is not None]
    n_voiced = sum(n for _, n in accuracies)
    return {
        "model": model.name,
        "n_files": len(per_file),
        "spectral_loss": float(np.mean([f["spectral_loss"] for f in per_file])),
        "pitch_accuracy": (sum(a * n for a, n in accuracies) / n_voiced) if n_voiced else None,
        "files": per_file,
    }
