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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from dlwa.audio.conversions import hz_to_midi, midi_to_hz
from dlwa.audio.resample import resample
from dlwa.audio.signals import normalize_peak
from dlwa.audio.validate import AudioError, check_audio, check_sample_rate
from dlwa.ddsp.features import compute_f0, compute_features
from dlwa.ddsp.model import LoadedModel

MAX_PITCH_MIDI = 110.0
NOTE_MIN_DB = -120.0
NOTE_CONFIDENCE = 0.7
NOTE_SMOOTHING_FRAMES = 40
SILENCE_PEAK = 1e-5


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
) -> tuple[np.ndarray, int]:
    """Transfer ``audio`` to the model's timbre.

    Args:
        audio: [n_samples] or [n_channels, n_samples] float (channels are averaged).
        sample_rate: Hz of ``audio``; any rate.
        model: from :func:`dlwa.ddsp.model.load_model`.
        params: controls; defaults when None.
        out_sample_rate: resample the output to this rate; None keeps the model's.
        peak: normalise the output to this peak; None leaves the level as synthesised.
        progress: called with 0…1 as stages finish.

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
    if mono.size == 0:
        raise AudioError("audio is empty: record or load some sound first")
    if float(np.abs(mono).max()) < SILENCE_PEAK:
        raise TransferError("audio is silent (peak below -100 dBFS): nothing to transfer")
    report = progress or (lambda _: None)
    config = model.model.config
    x = mono if sample_rate == config.sample_rate else resample(
        mono, orig_sample_rate=sample_rate, sample_rate=config.sample_rate)
    n_samples = x.shape[-1]
    n_frames = -(-n_samples // config.hop_length)
    x = np.pad(x, (0, n_frames * config.hop_length - n_samples))
    features = compute_features(x, sample_rate=config.sample_rate,
                                frame_rate=config.frame_rate,
                                tracker=params.tracker or model.tracker)
    features = {name: value[:n_frames] for name, value in features.items()}
    report(0.3)
    f0_hz, loudness_db = adjust_features(features, params, model.statistics)
    report(0.4)
    out = synthesize(model, f0_hz, loudness_db)[:n_samples]
    report(0.9)
    rate = config.sample_rate
    if out_sample_rate is not None and out_sample_rate != rate:
        out = resample(out, orig_sample_rate=rate, sample_rate=check_sample_rate(
            out_sample_rate, name="out_sample_rate"))
        rate = out_sample_rate
    if peak is not None and np.abs(out).max() > 0:
        out = normalize_peak(out, peak=peak)
    report(1.0)
    return out.astype(np.float32), rate


def synthesize(model: LoadedModel, f0_hz: np.ndarray, loudness_db: np.ndarray) -> np.ndarray:
    """Decoder and synths: [n_frames] f0 (Hz) and loudness (dB) → audio [n_frames · hop]."""
    with torch.inference_mode():
        generator = torch.Generator().manual_seed(0)
        audio = model.model(torch.from_numpy(f0_hz.astype(np.float32))[None],
                            torch.from_numpy(loudness_db.astype(np.float32))[None],
                            generator=generator)
    return audio[0].numpy()


def adjust_features(features: dict[str, np.ndarray], params: TransferParams,
                    statistics: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
    """Apply auto adjust (when on and statistics exist) and the shifts; returns (f0, loudness)."""
    f0_hz = features["f0_hz"].astype(np.float64)
    confidence = features["f0_confidence"].astype(np.float64)
    loudness_db = features["loudness_db"].astype(np.float64)
    if params.adjust and statistics is not None:
        mask_on, note_on_value = detect_notes(loudness_db, confidence)
        if mask_on.any():
            pitch = hz_to_midi(f0_hz)
            octaves = np.round((statistics["mean_pitch_midi"] - pitch[mask_on].mean()) / 12.0)
            f0_hz = f0_hz * 2.0**octaves
            loudness_db = quantile_normalize(loudness_db, mask_on,
                                             np.asarray(statistics["loudness_quantiles_db"]))
            off = ~mask_on
            loudness_db[off] -= params.quiet * (1.0 - np.clip(note_on_value[off], 0, 1))
            if params.autotune > 0:
                f0_hz = midi_to_hz(autotune(hz_to_midi(f0_hz), mask_on, amount=params.autotune))
    loudness_db = loudness_db + params.loudness_db_shift
    f0_hz = np.minimum(f0_hz * 2.0**params.f0_octave_shift, midi_to_hz(MAX_PITCH_MIDI))
    f0_hz = np.where(confidence < params.f0_confidence_threshold, 0.0, f0_hz)
    return f0_hz.astype(np.float32), loudness_db.astype(np.float32)


def detect_notes(loudness_db: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frames inside notes: confidence-weighted level, smoothed, against the mean level.

    Returns:
        ``(mask_on [n_frames] bool, note_on_value [n_frames])``, the value being the
        smoothed level over the threshold (≥ 1 inside notes).
    """
    level = confidence**2 * (loudness_db - NOTE_MIN_DB)
    kernel = np.ones(NOTE_SMOOTHING_FRAMES) / NOTE_SMOOTHING_FRAMES
    smoothed = np.convolve(level, kernel, mode="same")
    threshold = (loudness_db.mean() - NOTE_MIN_DB) * NOTE_CONFIDENCE**2
    value = smoothed / max(threshold, 1e-6)
    return value >= 1.0, value


def quantile_normalize(loudness_db: np.ndarray, mask_on: np.ndarray,
                       target_quantiles_db: np.ndarray) -> np.ndarray:
    """Map loudness through the input notes' CDF onto the dataset's quantiles."""
    levels = np.linspace(0, 1, len(target_quantiles_db))
    source = np.quantile(loudness_db[mask_on], levels)
    source = np.maximum.accumulate(source + np.arange(len(source)) * 1e-9)
    cdf = np.interp(loudness_db, source, levels)
    return np.interp(cdf, levels, target_quantiles_db)


def autotune(pitch_midi: np.ndarray, mask_on: np.ndarray, *, amount: float) -> np.ndarray:
    """Pull note frames toward the nearest semitone of the input's own tuning.

    The tuning offset (in semitones, −0.5…0.5) is the circular mean of the note frames'
    deviations from the equal-tempered grid.
    """
    deviation = pitch_midi[mask_on] - np.round(pitch_midi[mask_on])
    angle = np.angle(np.exp(2j * np.pi * deviation).mean())
    offset = angle / (2 * np.pi)
    target = np.round(pitch_midi - offset) + offset
    tuned = pitch_midi + amount * (target - pitch_midi)
    return np.where(mask_on & (pitch_midi > 0), tuned, pitch_midi)


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
