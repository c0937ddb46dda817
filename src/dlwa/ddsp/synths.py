"""DDSP processors: thin layers over :mod:`dlwa.ddsp.core`.

Each processor splits ``get_controls`` (squash raw network outputs into valid ranges) from
``get_signal`` (turn controls into audio), as ``ddsp.processors.Processor`` does, so the
scaling is testable without synthesis. ``forward`` is ``get_signal(**get_controls(...))``.
"""

from __future__ import annotations

import torch
from torch import nn

from dlwa.audio.conversions import exp_sigmoid
from dlwa.ddsp import core

# f0 below this is treated as unvoiced: the harmonic amplitudes are zeroed.
MIN_F0_HZ = 20.0


class Harmonic(nn.Module):
    """Harmonic additive synthesizer (``ddsp.synths.Harmonic``).

    Args:
        sample_rate: Hz.
        normalize_below_nyquist: renormalise the distribution after removing partials
            above Nyquist, so the overall amplitude is kept.
        phase_accumulation: ``"float64"`` (dlwa's), or ``"ddsp_cumsum"`` /
            ``"ddsp_angular_cumsum"`` to reproduce ddsp's float32 oscillators exactly (see
            :func:`dlwa.ddsp.core.harmonic_synthesis`); an attribute, so it can be switched
            on a loaded model.
    """

    def __init__(self, *, sample_rate: int, normalize_below_nyquist: bool = True,
                 phase_accumulation: core.PhaseAccumulation = "float64") -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.normalize_below_nyquist = normalize_below_nyquist
        self.phase_accumulation = phase_accumulation

    def get_controls(
        self, amplitudes: torch.Tensor, harmonic_distribution: torch.Tensor, f0_hz: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Scale raw outputs.

        Args:
            amplitudes: [batch, n_frames, 1] raw.
            harmonic_distribution: [batch, n_frames, n_harmonics] raw.
            f0_hz: [batch, n_frames, 1] Hz.

        Returns:
            ``amplitudes`` (exp-sigmoid, zero where f0 < 20 Hz), ``harmonic_distribution``
            (exp-sigmoid, partials at or above Nyquist removed, summing to 1) and ``f0_hz``.
        """
        amplitudes = exp_sigmoid(amplitudes) * (f0_hz >= MIN_F0_HZ).to(amplitudes.dtype)
        distribution = exp_sigmoid(harmonic_distribution)
        n_harmonics = distribution.shape[-1]
        k = torch.arange(1, n_harmonics + 1, device=f0_hz.device, dtype=f0_hz.dtype)
        masked = core.remove_above_nyquist(f0_hz * k, distribution, sample_rate=self.sample_rate)
        if self.normalize_below_nyquist:
            distribution = masked
        distribution = distribution / distribution.sum(-1, keepdim=True).clamp(min=1e-7)
        return {"amplitudes": amplitudes, "harmonic_distribution": distribution, "f0_hz": f0_hz}

    def get_signal(
        self,
        amplitudes: torch.Tensor,
        harmonic_distribution: torch.Tensor,
        f0_hz: torch.Tensor,
        *,
        n_samples: int,
        initial_phase: torch.Tensor | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio [batch, stop − start] and the final phase [batch].

        ``start`` and ``stop`` (default: all ``n_samples``) select the samples to render,
        for blocks of a long signal (see :func:`dlwa.ddsp.core.harmonic_synthesis`).
        """
        return core.harmonic_synthesis(
            f0_hz, amplitudes, harmonic_distribution, n_samples=n_samples,
            sample_rate=self.sample_rate, initial_phase=initial_phase,
            phase_accumulation=self.phase_accumulation, start=start, stop=stop,
        )


class FilteredNoise(nn.Module):
    """Noise through time-varying linear-phase filters (``ddsp.synths.FilteredNoise``).

    Args:
        window_size: filter length in samples (0: ``2·(n_bands − 1)``).
        initial_bias: added to raw magnitudes before the exp-sigmoid, so a fresh network
            starts quiet (DDSP: −5).
    """

    def __init__(self, *, window_size: int = 0, initial_bias: float = -5.0) -> None:
        super().__init__()
        self.window_size = window_size
        self.initial_bias = initial_bias

    def get_controls(self, magnitudes: torch.Tensor) -> dict[str, torch.Tensor]:
        """[batch, n_frames, n_bands] raw → linear gains."""
        return {"magnitudes": exp_sigmoid(magnitudes + self.initial_bias)}

    def get_signal(
        self, magnitudes: torch.Tensor, *, n_samples: int,
        generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Audio [batch, n_samples] (``noise``: filter this instead of fresh noise)."""
        return core.filtered_noise(magnitudes, n_samples=n_samples,
                                   window_size=self.window_size, generator=generator,
                                   noise=noise)

    def filter_size(self, n_bands: int) -> int:
        """Taps of the filters for ``n_bands`` magnitudes: how far a noise sample reaches."""
        return core.impulse_response_size(n_bands, window_size=self.window_size)


class Reverb(nn.Module):
    """Trainable reverb: one learned impulse response, applied by FFT convolution.

    The response's first tap is masked to 0 and the dry signal is added, as in
    ``ddsp.effects.Reverb(trainable=True, add_dry=True)``.

    Args:
        reverb_length: impulse response length in samples (DDSP solo instrument: 48000).
    """

    def __init__(self, *, reverb_length: int = 48000) -> None:
        super().__init__()
        self.ir = nn.Parameter(torch.randn(reverb_length) * 1e-6)

    def get_controls(self) -> dict[str, torch.Tensor]:
        """The impulse response [1, reverb_length] with its first tap zeroed."""
        mask = torch.ones_like(self.ir)
        mask[0] = 0.0
        return {"impulse_response": (self.ir * mask)[None]}

    def get_signal(self, audio: torch.Tensor, impulse_response: torch.Tensor) -> torch.Tensor:
        """Dry + wet, [batch, n_samples]."""
        return audio + core.fft_convolve(audio, impulse_response)

    def get_signal_block(
        self, audio: torch.Tensor, impulse_response: torch.Tensor, *,
        tail: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Dry + wet for one block of a long signal, and the reverb tail for the next.

        Consecutive blocks, each given the previous call's ``tail`` (None first), equal
        :meth:`get_signal` on the whole signal (see :func:`dlwa.ddsp.core.fft_convolve_block`).

        Returns:
            ``(audio [batch, n_samples], tail [batch, reverb_length − 1])``.
        """
        wet, tail = core.fft_convolve_block(audio, impulse_response, tail=tail)
        return audio + wet, tail

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.get_signal(audio, **self.get_controls())
