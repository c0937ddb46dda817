"""STFT, magnitude and log-mel spectrograms and the multi-scale spectral loss (torch).

All functions take torch audio [..., n_samples] (any number of leading batch dimensions)
and keep gradients. Spectra are laid out frame-major like every frame-wise feature in
dlwa: complex or magnitude [..., n_frames, n_bins] with ``n_bins = n_fft // 2 + 1``, mel
[..., n_frames, n_mels]. Frame counts follow :mod:`dlwa.audio.framing` (``padding``).
Windows are periodic Hann, unnormalised (as ``tf.signal.stft`` and ``torch.stft``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dlwa.audio.conversions import safe_log
from dlwa.audio.framing import Padding, n_frames_for, pad_for_frames
from dlwa.audio.mel import MelNorm, MelScale, mel_filterbank
from dlwa.audio.validate import AudioError, check_audio, check_positive_int

DDSP_FFT_SIZES: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64)


def hann_window(
    n_fft: int, *, dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> torch.Tensor:
    """Periodic Hann window, shape [n_fft]."""
    return torch.hann_window(n_fft, periodic=True, dtype=dtype, device=device)


def stft(
    audio: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int,
    padding: Padding = "center",
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """Short-time Fourier transform.

    Args:
        audio: [..., n_samples], floating.
        n_fft: frame and FFT size in samples.
        hop_length: samples between frames.
        padding: ``"center"``, ``"same"`` or ``"valid"`` (see :mod:`dlwa.audio.framing`).
        window: [n_fft] window; ``None`` builds a periodic Hann window.

    Returns:
        Complex spectrum [..., n_frames, n_fft // 2 + 1].

    Raises:
        AudioError: bad audio or sizes (see :func:`dlwa.audio.validate.check_audio`).
    """
    check_audio(audio, ndim=range(1, 6))
    n_fft = check_positive_int(n_fft, name="n_fft", example=1024)
    hop_length = check_positive_int(hop_length, name="hop_length", example=n_fft // 4 or 1)
    if window is None:
        window = hann_window(n_fft, dtype=audio.dtype, device=audio.device)
    if window.shape != (n_fft,):
        raise AudioError(
            f"window must have shape ({n_fft},) to match n_fft, got {tuple(window.shape)}"
        )
    n_frames = n_frames_for(audio.shape[-1], n_fft=n_fft, hop_length=hop_length, padding=padding)
    padded = pad_for_frames(audio, n_fft=n_fft, hop_length=hop_length, padding=padding)
    flat = padded.reshape(-1, padded.shape[-1])
    spec = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop_length,
        window=window.to(dtype=flat.dtype),
        center=False,
        return_complex=True,
    )
    spec = spec[..., :n_frames].transpose(-1, -2)
    return spec.reshape(*audio.shape[:-1], n_frames, n_fft // 2 + 1)


def magnitude_spectrogram(
    audio: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int,
    padding: Padding = "center",
    power: float = 1.0,
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """``|STFT|^power``: magnitude (``power=1``) or power (``power=2``) spectrogram.

    Returns:
        [..., n_frames, n_fft // 2 + 1], real, same dtype as ``audio``.
    """
    spec = stft(audio, n_fft=n_fft, hop_length=hop_length, padding=padding, window=window)
    magnitude = spec.abs()
    return magnitude if power == 1.0 else magnitude**power


def log_mel_spectrogram(
    audio: torch.Tensor,
    *,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    mel_scale: MelScale = "htk",
    norm: MelNorm = None,
    padding: Padding = "center",
    eps: float = 1e-5,
    filterbank: torch.Tensor | None = None,
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """Natural log of the mel-filtered power spectrogram, ``log(max(mel, eps))``.

    Args:
        audio: [..., n_samples].
        sample_rate: Hz; with ``n_fft``, ``n_mels``, ``f_min``, ``f_max``, ``mel_scale``
            and ``norm`` it defines the filterbank (see :func:`dlwa.audio.mel.mel_filterbank`).
        filterbank: a prebuilt [n_bins, n_mels] filterbank (modules pass theirs, built
            once); the other filterbank arguments are then ignored.

    Returns:
        [..., n_frames, n_mels], log power (natural log).
    """
    if filterbank is None:
        fb = mel_filterbank(
            sample_rate=sample_rate,
            n_fft=n_fft,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
            mel_scale=mel_scale,
            norm=norm,
        )
        filterbank = torch.from_numpy(fb).to(device=audio.device)
    power = magnitude_spectrogram(
        audio, n_fft=n_fft, hop_length=hop_length, padding=padding, power=2.0, window=window
    )
    return safe_log(power @ filterbank.to(dtype=power.dtype), eps=eps)


def multiscale_spectral_loss(
    target: torch.Tensor,
    prediction: torch.Tensor,
    *,
    fft_sizes: Sequence[int] = DDSP_FFT_SIZES,
    overlap: float = 0.75,
    mag_weight: float = 1.0,
    logmag_weight: float = 1.0,
    eps: float = 1e-5,
    windows: Sequence[torch.Tensor] | None = None,
) -> torch.Tensor:
    """DDSP's multi-scale spectral loss: L1 on magnitude and log magnitude, summed over scales.

    For each FFT size ``n``, frames of ``n`` samples every ``n · (1 − overlap)`` samples,
    ``padding="same"``: ``mag_weight · mean|S_t − S_p| + logmag_weight · mean|log S_t − log S_p|``.

    Args:
        target: [..., n_samples] reference audio.
        prediction: audio of the same shape.
        fft_sizes: FFT sizes, DDSP's 2048…64 by default.
        overlap: fraction of a frame shared with the next one, in [0, 1).
        mag_weight: weight of the linear-magnitude term.
        logmag_weight: weight of the log-magnitude term (1 as in the DDSP training
            configs; the bare DDSP class defaults to 0).
        eps: floor inside the log.
        windows: prebuilt windows, one per FFT size.

    Returns:
        Scalar loss (0 for identical inputs).

    Raises:
        AudioError: shapes differ, bad audio, or ``overlap`` out of range.
    """
    check_audio(target, name="target", ndim=range(1, 6))
    check_audio(prediction, name="prediction", ndim=range(1, 6))
    if target.shape != prediction.shape:
        raise AudioError(
            f"target and prediction must have the same shape, got {tuple(target.shape)} "
            f"and {tuple(prediction.shape)}; crop both to the shorter length"
        )
    if not 0.0 <= overlap < 1.0:
        raise AudioError(f"overlap must be in [0, 1), got {overlap}; DDSP uses 0.75")
    loss = target.new_zeros(())
    for i, n_fft in enumerate(fft_sizes):
        hop_length = max(1, int(n_fft * (1.0 - overlap)))
        window = None if windows is None else windows[i]
        mag_t, mag_p = (
            magnitude_spectrogram(
                x, n_fft=n_fft, hop_length=hop_length, padding="same", window=window
            )
            for x in (target, prediction)
        )
        if mag_weight:
            loss = loss + mag_weight * (mag_t - mag_p).abs().mean()
        if logmag_weight:
            diff = safe_log(mag_t, eps=eps) - safe_log(mag_p, eps=eps)
            loss = loss + logmag_weight * diff.abs().mean()
    return loss
