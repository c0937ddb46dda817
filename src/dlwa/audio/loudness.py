"""A-weighted loudness per frame, as DDSP computes it (``ddsp.spectral_ops.compute_loudness``).

Steps: zero-pad (``padding``), STFT with a periodic Hann window of ``n_fft`` samples every
``sample_rate // frame_rate`` samples, power ``|X|²``, multiply each bin by the A-weighting
(given in dB, applied as ``10^(A/10)``), mean over bins, floor the power at
``10^(−range_db/10)``, ``10·log10``, subtract ``ref_db`` and clip below at ``−range_db``.
The defaults reproduce DDSP 3.x (``n_fft=512``, ``range_db=80`` = ``ddsp.core.DB_RANGE``,
``ref_db=0``, ``padding="center"``), so loudness statistics and the ``loudness_db / 80 + 1``
scaling of upstream checkpoints carry over. Works on numpy (returns numpy) or torch (keeps gradients).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from dlwa.audio.framing import Padding, hop_length_for
from dlwa.audio.mel import fft_frequencies
from dlwa.audio.spectral import magnitude_spectrogram
from dlwa.audio.validate import ArrayT, check_audio, check_sample_rate

DDSP_DB_RANGE = 80.0


def a_weighting_db(frequencies_hz: np.ndarray, *, min_db: float = -80.0) -> np.ndarray:
    """IEC 61672 A-weighting in dB (0 dB at 1 kHz), clipped below at ``min_db``.

    Args:
        frequencies_hz: any shape, Hz.
        min_db: floor in dB (librosa's default −80, used by DDSP).

    Returns:
        Weights in dB, float64, the shape of ``frequencies_hz``.
    """
    f_sq = np.asarray(frequencies_hz, dtype=np.float64) ** 2
    const = np.array([12194.217, 20.598997, 107.65265, 737.86223]) ** 2
    with np.errstate(divide="ignore"):
        weight = 2.0 + 20.0 * (
            np.log10(const[0])
            + 2 * np.log10(f_sq)
            - np.log10(f_sq + const[0])
            - np.log10(f_sq + const[1])
            - 0.5 * np.log10(f_sq + const[2])
            - 0.5 * np.log10(f_sq + const[3])
        )
    return np.maximum(weight, min_db)


def a_weighted_loudness(
    audio: ArrayT,
    *,
    sample_rate: int,
    frame_rate: int = 250,
    n_fft: int = 512,
    range_db: float = DDSP_DB_RANGE,
    ref_db: float = 0.0,
    padding: Padding = "center",
) -> ArrayT:
    """Perceptual (A-weighted) loudness in dB per frame.

    Args:
        audio: [n_samples] or [batch, n_samples], floating, numpy or torch.
        sample_rate: Hz.
        frame_rate: frames per second; must divide ``sample_rate``
            (``hop_length = sample_rate // frame_rate``).
        n_fft: FFT size in samples (DDSP: 512 at 16 kHz).
        range_db: dynamic range; the result is clipped below at ``−range_db``.
        ref_db: level in dB that maps to 0 (DDSP v2+: 0, i.e. unit power per bin).
        padding: framing, see :mod:`dlwa.audio.framing`; ``"center"`` gives
            ``n_samples // hop_length + 1`` frames, ``"same"`` gives
            ``ceil(n_samples / hop_length)``.

    Returns:
        ``loudness_db`` [n_frames] or [batch, n_frames], same kind as ``audio`` (float32
        for numpy, the input dtype for torch).

    Raises:
        AudioError: bad audio, sample rate or frame rate.
    """
    check_audio(audio, ndim=(1, 2))
    sample_rate = check_sample_rate(sample_rate)
    hop_length = hop_length_for(sample_rate=sample_rate, frame_rate=frame_rate)
    was_numpy = isinstance(audio, np.ndarray)
    signal = torch.from_numpy(np.asarray(audio, dtype=np.float32)) if was_numpy else audio
    assert isinstance(signal, torch.Tensor)
    power = magnitude_spectrogram(
        signal, n_fft=n_fft, hop_length=hop_length, padding=padding, power=2.0
    )
    weights_db = a_weighting_db(fft_frequencies(sample_rate=sample_rate, n_fft=n_fft))
    weights = torch.from_numpy(10.0 ** (weights_db / 10.0)).to(power)
    mean_power = (power * weights).mean(dim=-1)
    min_power = 10.0 ** (-range_db / 10.0)
    loudness_db = 10.0 * torch.log10(torch.clamp(mean_power, min=min_power)) - ref_db
    loudness_db = torch.clamp(loudness_db, min=-range_db)
    return cast(ArrayT, loudness_db.numpy() if was_numpy else loudness_db)
