"""Mel scales and our own triangular mel filterbank (numpy, float32 output).

Two mel scales, as in librosa and torchaudio:

- ``"htk"``: ``mel = 2595 · log10(1 + f_hz / 700)`` (HTK, torchaudio's default).
- ``"slaney"``: linear below 1 kHz (``mel = f_hz / (200/3)``, so 1 kHz is 15 mel) and
  logarithmic above (27 mel per factor 6.4); the Auditory Toolbox scale, librosa's default.

``norm="slaney"`` scales each triangle by ``2 / (f_right − f_left)`` so that every filter
has the same area in Hz (constant energy per channel), as librosa's ``norm='slaney'``.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from dlwa.audio.validate import AudioError, check_positive_int, check_sample_rate

MelScale = Literal["htk", "slaney"]
MelNorm = Literal["slaney"] | None

_SLANEY_F_SP = 200.0 / 3.0
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
_SLANEY_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(f_hz: np.ndarray | float, *, mel_scale: MelScale = "htk") -> np.ndarray:
    """Frequency in Hz to mel on the chosen scale (float64 array)."""
    f = np.asarray(f_hz, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    _check_scale(mel_scale)
    log_part = (
        _SLANEY_MIN_LOG_MEL + np.log(np.maximum(f, 1e-10) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    )
    return np.where(f >= _SLANEY_MIN_LOG_HZ, log_part, f / _SLANEY_F_SP)


def mel_to_hz(mel: np.ndarray | float, *, mel_scale: MelScale = "htk") -> np.ndarray:
    """Mel on the chosen scale to frequency in Hz (float64 array); inverse of :func:`hz_to_mel`."""
    m = np.asarray(mel, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    _check_scale(mel_scale)
    log_part = _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL))
    return np.where(m >= _SLANEY_MIN_LOG_MEL, log_part, m * _SLANEY_F_SP)


def fft_frequencies(*, sample_rate: int, n_fft: int) -> np.ndarray:
    """Centre frequency in Hz of each rFFT bin, shape [n_fft // 2 + 1]."""
    return np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)


def mel_filterbank(
    *,
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    mel_scale: MelScale = "htk",
    norm: MelNorm = None,
) -> np.ndarray:
    """Triangular mel filterbank mapping rFFT bins to mel bands.

    Band ``m`` rises linearly from mel point ``m`` to ``m + 1`` and falls to ``m + 2``,
    with ``n_mels + 2`` points equally spaced in mel between ``f_min`` and ``f_max``.
    Multiply a spectrogram [..., n_frames, n_bins] by it to get [..., n_frames, n_mels].

    Args:
        sample_rate: audio sample rate in Hz.
        n_fft: FFT size; ``n_bins = n_fft // 2 + 1``.
        n_mels: number of mel bands.
        f_min: lowest band edge in Hz.
        f_max: highest band edge in Hz; ``None`` means ``sample_rate / 2``.
        mel_scale: ``"htk"`` or ``"slaney"``.
        norm: ``None`` (peaks of 1) or ``"slaney"`` (equal area per band).

    Returns:
        Weights, float32, shape [n_bins, n_mels].

    Raises:
        AudioError: bad sizes, ``f_min >= f_max``, or ``f_max`` above Nyquist.

    Warns:
        UserWarning: some bands fall between FFT bins and are all zero (``n_mels`` too
            large for ``n_fft``).
    """
    sample_rate = check_sample_rate(sample_rate)
    n_fft = check_positive_int(n_fft, name="n_fft", example=1024)
    n_mels = check_positive_int(n_mels, name="n_mels", example=80)
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    if f_max > sample_rate / 2.0:
        raise AudioError(
            f"f_max={f_max} Hz is above the Nyquist frequency {sample_rate / 2} Hz; "
            f"use f_max={sample_rate / 2} or None"
        )
    if not 0.0 <= f_min < f_max:
        raise AudioError(f"need 0 <= f_min < f_max, got f_min={f_min}, f_max={f_max}; try f_min=0")
    if norm not in (None, "slaney"):
        raise AudioError(f"norm must be None or 'slaney', got {norm!r}")
    mel_points = np.linspace(
        hz_to_mel(f_min, mel_scale=mel_scale), hz_to_mel(f_max, mel_scale=mel_scale), n_mels + 2
    )
    hz_points = mel_to_hz(mel_points, mel_scale=mel_scale)
    bins_hz = fft_frequencies(sample_rate=sample_rate, n_fft=n_fft)
    widths = np.diff(hz_points)
    slopes = hz_points[None, :] - bins_hz[:, None]  # [n_bins, n_mels + 2]
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= 2.0 / (hz_points[2:] - hz_points[:-2])
    empty = np.flatnonzero(weights.max(axis=0) == 0.0)
    if empty.size:
        warnings.warn(
            f"{empty.size} of {n_mels} mel bands are empty (first: band {empty[0]}): n_mels={n_mels} "
            f"is too large for n_fft={n_fft}; use a larger n_fft or fewer n_mels",
            stacklevel=2,
        )
    return weights.astype(np.float32)


def _check_scale(mel_scale: str) -> None:
    if mel_scale not in ("htk", "slaney"):
        raise AudioError(f"mel_scale must be 'htk' or 'slaney', got {mel_scale!r}")
