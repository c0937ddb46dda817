"""Frame-count arithmetic and framing shared by the STFT, loudness and example cutting.

One ``padding`` vocabulary for every frame-wise feature in dlwa:

- ``"center"``: ``n_fft // 2`` zeros on both sides, frame ``k`` is centred on sample
  ``k · hop_length``; ``n_frames = n_samples // hop_length + 1`` (librosa, ``torch.stft``
  with ``center=True``, DDSP ``padding='center'``).
- ``"same"``: frame ``k`` starts at sample ``k · hop_length``, zeros appended at the end;
  ``n_frames = ceil(n_samples / hop_length)`` (DDSP/TF ``pad_end=True``), so 4 s at
  16 kHz and 250 frames/s give exactly 1,000 frames.
- ``"valid"``: no padding; ``n_frames = 1 + (n_samples − n_fft) // hop_length``.

Functions here work on numpy arrays or torch tensors (time on the last axis) and return
the same kind.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from dlwa.audio.validate import (
    ArrayT,
    AudioError,
    check_audio,
    check_positive_int,
    check_sample_rate,
    is_tensor,
)

Padding = Literal["center", "same", "valid"]
PADDINGS: tuple[str, ...] = ("center", "same", "valid")


def hop_length_for(*, sample_rate: int, frame_rate: int) -> int:
    """Hop in samples between frames for a frame rate in frames per second.

    Raises:
        AudioError: ``sample_rate`` is not a whole multiple of ``frame_rate``; the message
            names frame rates that would divide it.
    """
    sample_rate = check_sample_rate(sample_rate)
    frame_rate = check_positive_int(frame_rate, name="frame_rate", example=250)
    if sample_rate % frame_rate:
        good = [r for r in (50, 100, 125, 200, 250, 500, 1000) if sample_rate % r == 0]
        raise AudioError(
            f"frame_rate={frame_rate} does not divide sample_rate={sample_rate} into a whole "
            f"hop_length; use one of {good or 'a divisor of sample_rate'}"
        )
    return sample_rate // frame_rate


def n_frames_for(
    n_samples: int, *, n_fft: int, hop_length: int, padding: Padding = "center"
) -> int:
    """Number of frames a signal of ``n_samples`` gives (see the module docstring).

    Raises:
        AudioError: unknown ``padding``, or ``"valid"`` with ``n_samples < n_fft``.
    """
    _check_padding(padding)
    if padding == "center":
        return n_samples // hop_length + 1
    if padding == "same":
        return -(-n_samples // hop_length)
    if n_samples < n_fft:
        raise AudioError(
            f"padding='valid' needs at least n_fft={n_fft} samples, got {n_samples}; "
            "use padding='center' or 'same' for short signals"
        )
    return 1 + (n_samples - n_fft) // hop_length


def pad_for_frames(
    audio: ArrayT, *, n_fft: int, hop_length: int, padding: Padding = "center"
) -> ArrayT:
    """Zero-pad ``audio`` [..., n_samples] so that framing without padding gives
    :func:`n_frames_for` frames.

    Returns:
        Padded audio, shape [..., (n_frames − 1) · hop_length + n_fft] (``"valid"`` returns
        the input unchanged).
    """
    n_samples = int(audio.shape[-1])
    n_frames = n_frames_for(n_samples, n_fft=n_fft, hop_length=hop_length, padding=padding)
    if padding == "valid":
        return audio
    left = n_fft // 2 if padding == "center" else 0
    right = (n_frames - 1) * hop_length + n_fft - n_samples - left
    if right < 0:  # hop_length > n_fft: the last samples fall in no frame
        audio = audio[..., : n_samples + right]
        right = 0
    if is_tensor(audio):
        import torch.nn.functional

        return torch.nn.functional.pad(audio, (left, right))
    widths = [(0, 0)] * (audio.ndim - 1) + [(left, right)]
    return np.pad(audio, widths)


def frame(
    audio: ArrayT, *, frame_length: int, hop_length: int, padding: Padding = "center"
) -> ArrayT:
    """Cut ``audio`` into overlapping frames.

    Args:
        audio: [..., n_samples], numpy or torch.
        frame_length: samples per frame (``n_fft`` for spectra).
        hop_length: samples between frame starts.
        padding: ``"center"``, ``"same"`` or ``"valid"``.

    Returns:
        [..., n_frames, frame_length]: a view (read-only for numpy), not a copy.
    """
    check_audio(audio, ndim=range(1, 6))
    frame_length = check_positive_int(frame_length, name="frame_length", example=1024)
    hop_length = check_positive_int(hop_length, name="hop_length", example=256)
    padded = pad_for_frames(audio, n_fft=frame_length, hop_length=hop_length, padding=padding)
    if is_tensor(padded):
        return padded.unfold(-1, frame_length, hop_length)
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame_length, axis=-1)
    return windows[..., ::hop_length, :]


def _check_padding(padding: str) -> None:
    if padding not in PADDINGS:
        raise AudioError(f"padding must be one of {PADDINGS}, got {padding!r}")
