"""The one audio validator every public entry point of ``dlwa.audio`` calls.

Audio is a floating-point array, numpy or torch, shaped ``[n_samples]`` or
``[batch, n_samples]`` (``[n_channels, n_samples]`` for multi-channel files), finite
everywhere and not empty. Anything else raises :class:`AudioError`, a ``ValueError``
whose message names the argument, the bad value and a value that would work.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch
    from typing_extensions import TypeIs

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")


class AudioError(ValueError):
    """Bad audio or audio parameter; the message says what is wrong and what would work."""


def check_audio(
    audio: ArrayT,
    *,
    name: str = "audio",
    ndim: int | Sequence[int] = (1, 2),
    min_samples: int = 1,
) -> ArrayT:
    """Check that ``audio`` is usable and return it unchanged.

    Args:
        audio: numpy array or torch tensor, time on the last axis.
        name: argument name used in error messages.
        ndim: accepted rank or ranks, e.g. 1 for ``[n_samples]``, 2 for
            ``[batch, n_samples]``.
        min_samples: the least number of samples on the last axis.

    Returns:
        ``audio`` itself (no copy, no conversion).

    Raises:
        AudioError: not an array, wrong rank, integer/bool dtype, too few samples,
            or NaN/inf values.
    """
    ranks = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if is_tensor(audio):
        dtype_ok = audio.is_floating_point()
        dtype = str(audio.dtype).replace("torch.", "")
    elif isinstance(audio, np.ndarray):
        dtype_ok = np.issubdtype(audio.dtype, np.floating)
        dtype = str(audio.dtype)
    else:
        raise AudioError(
            f"{name} must be a numpy array or torch tensor, got {type(audio).__name__}; "
            f"wrap it with np.asarray({name}, dtype=np.float32)"
        )
    if audio.ndim not in ranks:
        wanted = " or ".join(_rank_names(r) for r in ranks)
        raise AudioError(f"{name} must be {wanted}, got shape {tuple(audio.shape)}")
    if not dtype_ok:
        hint = " / 32768" if dtype == "int16" else ""
        raise AudioError(
            f"{name} must have a floating dtype, got {dtype}; "
            f"convert it, e.g. {name}.astype(np.float32){hint}"
        )
    n_samples = int(audio.shape[-1])
    n_values = audio.numel() if is_tensor(audio) else audio.size
    if n_samples < min_samples or n_values == 0:
        raise AudioError(
            f"{name} must have at least {min_samples} sample(s) on its last axis, "
            f"got shape {tuple(audio.shape)}"
        )
    if is_tensor(audio):
        finite = bool(audio.isfinite().all())
    else:
        finite = bool(np.isfinite(audio).all())
    if not finite:
        raise AudioError(
            f"{name} contains NaN or infinite values; clean it first, "
            f"e.g. np.nan_to_num({name}, nan=0.0, posinf=0.0, neginf=0.0)"
        )
    return audio


def is_tensor(value: object) -> TypeIs[torch.Tensor]:
    """True for a torch tensor. Never imports torch: a tensor exists only once torch is
    loaded, so numpy-only callers (file I/O, the data layer) stay free of its import cost."""
    torch_module = sys.modules.get("torch")
    return torch_module is not None and isinstance(value, torch_module.Tensor)


def check_sample_rate(sample_rate: int, *, name: str = "sample_rate") -> int:
    """Check a sample rate in Hz and return it as ``int``.

    Raises:
        AudioError: not a positive whole number of Hz (e.g. 16000, 44100, 48000).
    """
    is_number = isinstance(sample_rate, int | float | np.integer | np.floating)
    if (
        not is_number
        or isinstance(sample_rate, bool)
        or not float(sample_rate).is_integer()
        or sample_rate <= 0
    ):
        raise AudioError(
            f"{name} must be a positive whole number of Hz such as 16000 or 44100, "
            f"got {sample_rate!r}"
        )
    return int(sample_rate)


def check_positive_int(value: int, *, name: str, example: int) -> int:
    """Check a positive integer parameter (``n_fft``, ``hop_length``, ``n_samples``...).

    Raises:
        AudioError: ``value`` is not an integer above zero; ``example`` is quoted as a
            value that would work.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise AudioError(f"{name} must be a positive integer such as {example}, got {value!r}")
    return int(value)


def _rank_names(rank: int) -> str:
    return {
        1: "1-D [n_samples]",
        2: "2-D [batch, n_samples]",
        3: "3-D [batch, n_channels, n_samples]",
    }.get(rank, f"{rank}-D")
