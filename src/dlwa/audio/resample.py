"""Resampling: soxr (very high quality) for numpy, and a windowed-sinc torch variant.

Both give ``resampled_length(n_samples, ...)`` samples, ``round(n_samples · sample_rate /
orig_sample_rate)`` with halves rounded up, so lengths add up predictably. Audio is
[n_samples] or [batch, n_samples] (channels count as batch); time is the last axis.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import soxr

from dlwa.audio.validate import ArrayT, AudioError, check_audio, check_sample_rate, is_tensor

if TYPE_CHECKING:
    import torch


def resampled_length(n_samples: int, *, orig_sample_rate: int, sample_rate: int) -> int:
    """Samples after resampling ``n_samples`` from ``orig_sample_rate`` to ``sample_rate`` Hz.

    Exact integer arithmetic: ``floor(n_samples · sample_rate / orig_sample_rate + 1/2)``.
    """
    return (2 * n_samples * sample_rate + orig_sample_rate) // (2 * orig_sample_rate)


def resample(
    audio: np.ndarray, *, orig_sample_rate: int, sample_rate: int, quality: str = "VHQ"
) -> np.ndarray:
    """Resample numpy audio with soxr.

    Args:
        audio: [n_samples] or [batch, n_samples], floating.
        orig_sample_rate: sample rate of ``audio`` in Hz.
        sample_rate: wanted sample rate in Hz.
        quality: soxr quality, ``"VHQ"`` (default), ``"HQ"``, ``"MQ"``, ``"LQ"`` or ``"QQ"``.

    Returns:
        Resampled audio, same rank and dtype (float32 or float64), last axis of
        :func:`resampled_length` samples. Returns ``audio`` itself when the rates match.

    Raises:
        AudioError: bad audio or sample rates.
    """
    check_audio(audio, ndim=(1, 2))
    orig_sample_rate = check_sample_rate(orig_sample_rate, name="orig_sample_rate")
    sample_rate = check_sample_rate(sample_rate)
    if orig_sample_rate == sample_rate:
        return audio
    dtype = audio.dtype if audio.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    frames_first = np.ascontiguousarray(audio.T, dtype=dtype)
    out = soxr.resample(frames_first, orig_sample_rate, sample_rate, quality=quality).T
    n_out = resampled_length(
        audio.shape[-1], orig_sample_rate=orig_sample_rate, sample_rate=sample_rate
    )
    out = _fit_length(out, n_out)
    return np.ascontiguousarray(out)


def resample_torch(
    audio: torch.Tensor,
    *,
    orig_sample_rate: int,
    sample_rate: int,
    lowpass_width: int = 16,
    rolloff: float = 0.95,
) -> torch.Tensor:
    """Differentiable resampling by Kaiser-windowed sinc interpolation (torch).

    Uses the polyphase structure of ``orig/g → new/g`` (``g`` the greatest common divisor),
    so it suits rational ratios such as 16000 ↔ 44100 ↔ 48000. Keeps gradients and device.

    Args:
        audio: [..., n_samples], floating.
        orig_sample_rate: Hz.
        sample_rate: Hz.
        lowpass_width: zero crossings of the sinc on each side (longer = sharper).
        rolloff: cutoff as a fraction of the lower Nyquist frequency.

    Returns:
        [..., :func:`resampled_length`], same dtype.
    """
    import torch.nn.functional

    check_audio(audio, ndim=range(1, 6))
    orig = check_sample_rate(orig_sample_rate, name="orig_sample_rate")
    new = check_sample_rate(sample_rate)
    if orig == new:
        return audio
    if not 0.0 < rolloff <= 1.0:
        raise AudioError(f"rolloff must be in (0, 1], got {rolloff}; 0.95 is a good value")
    g = math.gcd(orig, new)
    orig, new = orig // g, new // g
    kernel, width = _sinc_kernel(orig, new, lowpass_width, rolloff, audio.dtype, audio.device)
    n_samples = audio.shape[-1]
    flat = audio.reshape(-1, 1, n_samples)
    flat = torch.nn.functional.pad(flat, (width, width + orig))
    phases = torch.nn.functional.conv1d(flat, kernel, stride=orig)  # [b, new, n_blocks]
    out = phases.transpose(1, 2).reshape(flat.shape[0], -1)
    n_out = resampled_length(n_samples, orig_sample_rate=orig, sample_rate=new)
    out = _fit_length(out, n_out)
    return out.reshape(*audio.shape[:-1], n_out)


def _sinc_kernel(
    orig: int,
    new: int,
    lowpass_width: int,
    rolloff: float,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, int]:
    """One filter per output phase, shape [new, 1, 2 · width + orig], float64 maths."""
    import torch

    cutoff = min(orig, new) * rolloff  # in units of the reduced rates
    width = math.ceil(lowpass_width * orig / cutoff)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, :] / orig
    t = (-torch.arange(new, dtype=torch.float64)[:, None] / new + idx) * cutoff
    t = t.clamp(-lowpass_width, lowpass_width)
    beta = 14.769656459379492  # Kaiser beta for good stop-band attenuation
    window = torch.special.i0(beta * torch.sqrt(1 - (t / lowpass_width) ** 2)) / torch.special.i0(
        torch.tensor(beta, dtype=torch.float64)
    )
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(math.pi * t) / (math.pi * t))
    kernel = sinc * window * cutoff / orig
    return kernel[:, None, :].to(dtype=dtype, device=device), width


def _fit_length(audio: ArrayT, n_samples: int) -> ArrayT:
    """Crop or zero-pad the last axis to ``n_samples``."""
    current = audio.shape[-1]
    if current >= n_samples:
        return audio[..., :n_samples]
    if is_tensor(audio):
        import torch.nn.functional

        return torch.nn.functional.pad(audio, (0, n_samples - current))
    return np.pad(audio, [(0, 0)] * (audio.ndim - 1) + [(0, n_samples - current)])
