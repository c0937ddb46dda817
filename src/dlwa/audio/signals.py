"""Test and utility signals (numpy, float32): sines, chirps, harmonic tones, noise, and
level helpers (RMS in dB, silence detection, peak normalisation).

Generators take ``duration_s`` and a keyword-only ``sample_rate`` and return
[n_samples] with ``n_samples = round(duration_s · sample_rate)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from dlwa.audio.conversions import amplitude_to_db
from dlwa.audio.validate import AudioError, check_audio, check_sample_rate


def n_samples_for(duration_s: float, *, sample_rate: int) -> int:
    """``round(duration_s · sample_rate)``, checked to be at least one sample."""
    sample_rate = check_sample_rate(sample_rate)
    n_samples = round(duration_s * sample_rate)
    if n_samples < 1:
        raise AudioError(f"duration_s={duration_s} gives no samples at {sample_rate} Hz; try 1.0")
    return n_samples


def sine(
    f0_hz: float, *, duration_s: float, sample_rate: int, amplitude: float = 1.0, phase: float = 0.0
) -> np.ndarray:
    """``amplitude · sin(2π f0_hz t + phase)``, shape [n_samples]."""
    t = np.arange(n_samples_for(duration_s, sample_rate=sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * f0_hz * t + phase)).astype(np.float32)


def chirp(
    start_hz: float,
    end_hz: float,
    *,
    duration_s: float,
    sample_rate: int,
    amplitude: float = 1.0,
    method: Literal["linear", "exponential"] = "exponential",
) -> np.ndarray:
    """Sweep from ``start_hz`` to ``end_hz`` over ``duration_s``, shape [n_samples].

    ``"exponential"`` sweeps at a constant rate in octaves per second.
    """
    n_samples = n_samples_for(duration_s, sample_rate=sample_rate)
    if method == "exponential":
        if start_hz <= 0 or end_hz <= 0:
            raise AudioError(
                f"an exponential chirp needs positive frequencies, got {start_hz} and {end_hz} Hz; "
                "use method='linear' to sweep from 0 Hz"
            )
        f0_hz = start_hz * (end_hz / start_hz) ** (np.arange(n_samples) / n_samples)
    elif method == "linear":
        f0_hz = np.linspace(start_hz, end_hz, n_samples, endpoint=False)
    else:
        raise AudioError(f"method must be 'linear' or 'exponential', got {method!r}")
    return oscillator(f0_hz, sample_rate=sample_rate, amplitude=amplitude)


def oscillator(f0_hz: np.ndarray, *, sample_rate: int, amplitude: float = 1.0) -> np.ndarray:
    """Sine with a time-varying frequency: phase is the running sum of ``2π f0_hz / sample_rate``.

    Args:
        f0_hz: instantaneous frequency per sample, [n_samples].

    Returns:
        [n_samples] float32, starting at phase 0.
    """
    sample_rate = check_sample_rate(sample_rate)
    phase = 2 * np.pi * np.cumsum(f0_hz) / sample_rate
    phase = np.concatenate([[0.0], phase[:-1]])
    return (amplitude * np.sin(phase)).astype(np.float32)


def vibrato_f0(
    f0_hz: float,
    *,
    duration_s: float,
    sample_rate: int,
    vibrato_hz: float = 5.5,
    vibrato_semitones: float = 0.0,
) -> np.ndarray:
    """Per-sample f0 in Hz of a note with sinusoidal vibrato, shape [n_samples].

    ``vibrato_semitones`` is the peak deviation (0.5 sweeps ±half a semitone).
    """
    t = np.arange(n_samples_for(duration_s, sample_rate=sample_rate)) / sample_rate
    deviation = vibrato_semitones * np.sin(2 * np.pi * vibrato_hz * t)
    return f0_hz * 2.0 ** (deviation / 12.0)


def harmonic_tone(
    f0_hz: float,
    *,
    duration_s: float,
    sample_rate: int,
    n_harmonics: int = 10,
    amplitude: float = 0.5,
    vibrato_hz: float = 5.5,
    vibrato_semitones: float = 0.0,
) -> np.ndarray:
    """A sawtooth-like tone (harmonic ``k`` at level ``1/k``) with optional vibrato.

    Harmonics that would pass the Nyquist frequency at any moment are left out, so the
    tone never aliases. The result is scaled to a peak of ``amplitude``.

    Returns:
        [n_samples] float32; its f0 per sample is :func:`vibrato_f0` with the same arguments.
    """
    f0 = vibrato_f0(
        f0_hz,
        duration_s=duration_s,
        sample_rate=sample_rate,
        vibrato_hz=vibrato_hz,
        vibrato_semitones=vibrato_semitones,
    )
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    phase = np.concatenate([[0.0], phase[:-1]])
    audio = np.zeros_like(phase)
    for k in range(1, n_harmonics + 1):
        if k * f0.max() >= sample_rate / 2:
            break
        audio += np.sin(k * phase) / k
    return normalize_peak(audio.astype(np.float32), peak=amplitude)


def decaying_tone(
    f0_hz: float,
    *,
    duration_s: float,
    sample_rate: float,
    harmonics: Sequence[float],
    decay_s: float,
    attack_s: float = 0.005,
    release_s: float = 0.02,
    peak: float = 0.5,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """A struck or plucked tone: harmonics that die away, higher ones faster.

    Harmonic ``k`` has amplitude ``harmonics[k-1]`` and falls by 1/e in
    ``decay_s / sqrt(k)`` seconds (a bright attack, a mellow tail). Harmonics at or above
    Nyquist are left out. A short linear attack and release avoid clicks; the result is
    scaled to ``peak``.

    Args:
        f0_hz: Fundamental frequency in Hz.
        duration_s: Length in seconds, > 0.
        sample_rate: In Hz.
        harmonics: Relative amplitudes of harmonics 1, 2, ...; >= 0.
        decay_s: Decay time constant of the fundamental in seconds, > 0.
        attack_s: Fade-in time in seconds.
        release_s: Fade-out time at the end in seconds.
        peak: Peak amplitude of the result.
        progress: Called with the fraction done after each harmonic (it may raise to stop).

    Returns:
        [n_samples] float32 with ``n_samples = max(round(duration_s · sample_rate), 1)``.
    """
    n_samples = max(round(duration_s * sample_rate), 1)
    t = np.arange(n_samples) / sample_rate
    audio = np.zeros(n_samples)
    for k, amplitude in enumerate(harmonics, start=1):
        if k * f0_hz < sample_rate / 2 and amplitude > 0:
            envelope = np.exp(-t * np.sqrt(k) / decay_s)
            audio += amplitude * envelope * np.sin(2 * np.pi * k * f0_hz * t)
        if progress is not None:
            progress(k / len(harmonics))
    audio *= np.minimum(1.0, np.minimum(t / attack_s, (duration_s - t) / release_s).clip(0))
    top = float(np.max(np.abs(audio)))
    return (audio * (peak / top if top > 0 else 0.0)).astype(np.float32)


def noise(
    *, duration_s: float, sample_rate: int, amplitude: float = 0.1, seed: int = 0
) -> np.ndarray:
    """Gaussian white noise with standard deviation ``amplitude``, reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    n_samples = n_samples_for(duration_s, sample_rate=sample_rate)
    return (amplitude * rng.standard_normal(n_samples)).astype(np.float32)


def rms_db(audio: np.ndarray) -> np.ndarray | float:
    """RMS level in dBFS over the last axis (a full-scale sine is −3.01 dB); floor −200 dB.

    Args:
        audio: [n_samples] or [batch, n_samples].

    Returns:
        A float for 1-D input, [batch] otherwise.
    """
    check_audio(audio)
    rms = np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=-1))
    return amplitude_to_db(rms) if audio.ndim > 1 else float(amplitude_to_db(float(rms)))


def is_silent(audio: np.ndarray, *, threshold_db: float = -60.0) -> np.ndarray | bool:
    """True where the RMS level is below ``threshold_db`` dBFS ([batch] or a bool)."""
    level = rms_db(audio)
    return level < threshold_db if isinstance(level, np.ndarray) else bool(level < threshold_db)


def normalize_peak(audio: np.ndarray, *, peak: float = 0.9) -> np.ndarray:
    """Scale ``audio`` so its largest absolute sample is ``peak``; silence stays silent.

    Args:
        audio: [n_samples] or [batch, n_samples]; scaled as a whole (one gain).
        peak: target peak, in (0, 1] for files that must not clip.
    """
    check_audio(audio)
    if peak <= 0:
        raise AudioError(f"peak must be positive, e.g. 0.9, got {peak}")
    largest = float(np.max(np.abs(audio)))
    if largest == 0.0:
        return audio.copy()
    return (audio * (peak / largest)).astype(audio.dtype)
