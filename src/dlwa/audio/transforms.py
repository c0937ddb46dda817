"""Thin nn.Module wrappers: build windows and filterbanks once as buffers, call the
functions of :mod:`dlwa.audio.spectral` in ``forward``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dlwa.audio.framing import Padding
from dlwa.audio.mel import MelNorm, MelScale, mel_filterbank
from dlwa.audio.spectral import (
    DDSP_FFT_SIZES,
    hann_window,
    log_mel_spectrogram,
    multiscale_spectral_loss,
)


class LogMelSpectrogram(nn.Module):
    """Log-mel spectrogram module: [..., n_samples] → [..., n_frames, n_mels].

    Arguments as :func:`dlwa.audio.spectral.log_mel_spectrogram`; the window and
    filterbank are buffers, so they follow ``.to(device)`` and are not trained.
    """

    window: torch.Tensor
    filterbank: torch.Tensor

    def __init__(
        self,
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
    ) -> None:
        super().__init__()
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = (
            sample_rate,
            n_fft,
            hop_length,
            n_mels,
        )
        self.padding: Padding = padding
        self.eps = eps
        fb = mel_filterbank(
            sample_rate=sample_rate,
            n_fft=n_fft,
            n_mels=n_mels,
            f_min=f_min,
            f_max=f_max,
            mel_scale=mel_scale,
            norm=norm,
        )
        self.register_buffer("window", hann_window(n_fft), persistent=False)
        self.register_buffer("filterbank", torch.from_numpy(fb), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return log_mel_spectrogram(
            audio,
            sample_rate=self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
            padding=self.padding,
            eps=self.eps,
            filterbank=self.filterbank,
            window=self.window,
        )


class MultiScaleSpectralLoss(nn.Module):
    """DDSP multi-scale spectral loss module: ``loss(target, prediction)`` → scalar.

    Arguments as :func:`dlwa.audio.spectral.multiscale_spectral_loss`; one window buffer
    per FFT size.
    """

    def __init__(
        self,
        *,
        fft_sizes: Sequence[int] = DDSP_FFT_SIZES,
        overlap: float = 0.75,
        mag_weight: float = 1.0,
        logmag_weight: float = 1.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.fft_sizes = tuple(fft_sizes)
        self.overlap, self.mag_weight, self.logmag_weight, self.eps = (
            overlap,
            mag_weight,
            logmag_weight,
            eps,
        )
        for n_fft in self.fft_sizes:
            self.register_buffer(f"window_{n_fft}", hann_window(n_fft), persistent=False)

    def forward(self, target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        windows = [getattr(self, f"window_{n_fft}") for n_fft in self.fft_sizes]
        return multiscale_spectral_loss(
            target,
            prediction,
            fft_sizes=self.fft_sizes,
            overlap=self.overlap,
            mag_weight=self.mag_weight,
            logmag_weight=self.logmag_weight,
            eps=self.eps,
            windows=windows,
        )
