"""DDSP's functional DSP core in PyTorch: oscillators, filters, convolution. No state.

Layouts: audio is [batch, n_samples]; frame-wise controls are [batch, n_frames, channels],
with frame ``k`` centred on sample ``k · hop_length`` (the framing of
:func:`dlwa.audio.a_weighted_loudness` with ``padding="center"``). Every function here is
differentiable where it makes sense; trainable state lives in :mod:`dlwa.ddsp.synths`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from dlwa.audio.validate import AudioError

# Phases are accumulated in float64 (cycles of the fundamental) so that an hour of audio
# keeps sub-microcycle precision; harmonics take k·phase, wrapped, before the sine.
_PHASE_DTYPE = torch.float64
# How the oscillators' phase is accumulated (see harmonic_synthesis): "float64" is dlwa's
# own; the "ddsp_*" modes reproduce ddsp 3.7.0's float32 arithmetic for checking imports.
PhaseAccumulation = Literal["float64", "ddsp_cumsum", "ddsp_angular_cumsum"]
PHASE_ACCUMULATIONS = ("float64", "ddsp_cumsum", "ddsp_angular_cumsum")
# ddsp.core.angular_cumsum's chunk_size.
DDSP_ANGULAR_CHUNK = 1000
# Synthesis is done in chunks of this many samples to bound memory ([chunk, n_harmonics]).
SYNTH_CHUNK = 32768


def upsample_frames(controls: torch.Tensor, *, n_samples: int,
                    smooth: bool = False) -> torch.Tensor:
    """Interpolation from frame rate to sample rate.

    Frame ``k`` sits at sample ``k · n_samples / n_frames``; samples after the last frame
    hold its value (``ddsp.core.resample`` with ``add_endpoint=True``). ``smooth`` uses
    raised-cosine weights between frames, which is what DDSP's ``'window'`` method (Hann
    windows at 50 % overlap) amounts to; otherwise the interpolation is linear.

    Args:
        controls: [batch, n_frames, channels].
        n_samples: output length; a whole multiple of ``n_frames`` in normal use.
        smooth: raised-cosine instead of linear weights.

    Returns:
        [batch, n_samples, channels].
    """
    return _upsample_channels_first(controls, n_samples=n_samples, smooth=smooth).transpose(1, 2)


def _upsample_channels_first(controls: torch.Tensor, *, n_samples: int, smooth: bool = False,
                             start: int = 0, stop: int | None = None) -> torch.Tensor:
    """Samples ``start … stop`` of upsample_frames' output, as [batch, channels, length]."""
    n_frames = controls.shape[1]
    stop = n_samples if stop is None else stop
    if n_frames == 1:
        return controls.transpose(1, 2).expand(-1, -1, stop - start)
    step = n_frames / n_samples
    first = min(int(start * step), n_frames - 2)
    last = min(int((stop - 1) * step) + 2, n_frames)
    segment = controls[:, first:last].transpose(1, 2)  # [batch, channels, frames]
    position = torch.arange(start, stop, device=controls.device, dtype=torch.float64) * step
    position = position.clamp(max=n_frames - 1) - first
    left = position.floor().long().clamp(max=segment.shape[-1] - 2)
    weight = (position - left).to(controls.dtype)
    if smooth:
        weight = 0.5 - 0.5 * torch.cos(math.pi * weight)
    return segment[..., left] * (1 - weight) + segment[..., left + 1] * weight


def remove_above_nyquist(
    frequencies_hz: torch.Tensor, amplitudes: torch.Tensor, *, sample_rate: int
) -> torch.Tensor:
    """Zero the amplitudes of partials at or above Nyquist (they would alias).

    Args:
        frequencies_hz: [..., n_harmonics], Hz.
        amplitudes: same shape (or broadcastable).
        sample_rate: Hz.

    Returns:
        Amplitudes with aliasing partials set to 0.
    """
    return amplitudes * (frequencies_hz < sample_rate / 2).to(amplitudes.dtype)


def harmonic_synthesis(
    f0_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    harmonic_distribution: torch.Tensor,
    *,
    n_samples: int,
    sample_rate: int,
    initial_phase: torch.Tensor | None = None,
    phase_accumulation: PhaseAccumulation = "float64",
    start: int = 0,
    stop: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Additive synthesis of integer harmonics with phase-continuous oscillators.

    As ``ddsp.core.harmonic_synthesis``: f0 is upsampled linearly and amplitudes with
    raised-cosine weights (DDSP's ``'window'`` method); the fundamental's phase at sample
    ``t`` is ``initial_phase + Σ_{i≤t} f0_i / sample_rate`` (in cycles, accumulated in
    float64), and the ``k``-th harmonic has phase ``k · phase``. Partials at or above
    Nyquist are masked (at frame level, using the larger f0 of each frame and its
    neighbours, so no interpolated sample ever aliases).

    Args:
        f0_hz: [batch, n_frames, 1], Hz (0 for silence).
        amplitudes: [batch, n_frames, 1], overall linear amplitude.
        harmonic_distribution: [batch, n_frames, n_harmonics], relative amplitudes
            (normally summing to 1).
        n_samples: output length.
        sample_rate: Hz.
        initial_phase: [batch] phase of the fundamental in cycles, e.g. the
            ``final_phase`` of the previous chunk; zeros when None.
        phase_accumulation: ``"float64"`` (the default, described above). The other two
            reproduce ddsp's float32 oscillator bank sample for sample, to check imported
            checkpoints against ddsp's own output: each harmonic's frequency is interpolated
            at its own rate and its phase (radians) summed sequentially in float32, either
            over the whole signal (``"ddsp_cumsum"``, ``use_angular_cumsum=False``, whose
            error grows with length) or in 1000-sample chunks wrapped to 2π
            (``"ddsp_angular_cumsum"``); partials are masked per sample. These hold
            [batch, n_samples, n_harmonics] at once and take no ``initial_phase``.
        start: first sample to render of the ``n_samples`` the frames span; the phase
            sum starts here (at ``initial_phase``), so a block of a long signal can be
            rendered from its own frames plus a frame or two of context either side.
        stop: end (exclusive) of the samples to render; None is ``n_samples``.

    Returns:
        ``(audio [batch, stop − start], final_phase [batch])``: pass ``final_phase``
        (float64 cycles) as the next chunk's ``initial_phase`` for seamless streaming.

    Raises:
        ValueError: an unknown ``phase_accumulation``, or ``initial_phase``, ``start`` or
            ``stop`` with a ddsp mode.
    """
    stop = n_samples if stop is None else stop
    if phase_accumulation != "float64":
        if phase_accumulation not in PHASE_ACCUMULATIONS:
            raise ValueError(f"phase_accumulation must be one of {PHASE_ACCUMULATIONS}, "
                             f"not {phase_accumulation!r}")
        if initial_phase is not None or (start, stop) != (0, n_samples):
            raise ValueError(f"phase_accumulation={phase_accumulation!r} takes no initial_phase, "
                             "start or stop (ddsp's harmonic synthesis renders the whole "
                             "signal from phase 0)")
        return _ddsp_harmonic_synthesis(
            f0_hz, amplitudes, harmonic_distribution, n_samples=n_samples,
            sample_rate=sample_rate, angular=phase_accumulation == "ddsp_angular_cumsum")
    batch, _, n_harmonics = harmonic_distribution.shape
    k = torch.arange(1, n_harmonics + 1, device=f0_hz.device, dtype=f0_hz.dtype)
    # Masking at frame level with the larger f0 of each frame and its neighbours:
    # interpolation between two masked frames stays 0, so no sample ever aliases.
    f0_max = F.max_pool1d(f0_hz.transpose(1, 2), 3, stride=1, padding=1).transpose(1, 2)
    weights = remove_above_nyquist(f0_max * k, amplitudes * harmonic_distribution,
                                   sample_rate=sample_rate)
    f0 = _upsample_channels_first(f0_hz, n_samples=n_samples, start=start, stop=stop)[:, 0]
    phase = torch.cumsum(f0.to(_PHASE_DTYPE) / sample_rate, dim=-1)
    if initial_phase is not None:
        phase = phase + initial_phase.to(_PHASE_DTYPE).view(batch, 1)
    final_phase = torch.remainder(phase[:, -1], 1.0)
    # Wrapped to [0, 1) cycles, float32 is exact enough for k · phase (k ≤ a few hundred).
    angle = (2 * math.pi) * torch.remainder(phase, 1.0).to(weights.dtype)
    chunks = []
    for first in range(start, stop, SYNTH_CHUNK):
        last = min(stop, first + SYNTH_CHUNK)
        amp = _upsample_channels_first(weights, n_samples=n_samples, smooth=True, start=first,
                                       stop=last)
        sines = torch.sin(angle[:, None, first - start:last - start] * k[:, None])
        chunks.append((sines * amp).sum(1))
    # The final phase stays float64: rounded to float32 at every block boundary, the
    # phase of a long signal rendered in blocks would drift.
    return torch.cat(chunks, dim=-1), final_phase


def _sequential_cumsum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Cumulative sum added up one element at a time in x's dtype (as ``tf.cumsum`` on a CPU).

    ``torch.cumsum`` on a CPU accumulates float32 in float64, so its float32 result is more
    accurate than TensorFlow's; numpy's accumulate is strictly sequential. The gradient is
    torch.cumsum's (the same linear map).
    """
    exact = torch.from_numpy(np.cumsum(x.detach().cpu().numpy(), axis=dim)).to(x.device)
    ours = torch.cumsum(x, dim=dim)
    return ours + (exact - ours).detach()


def _ddsp_angular_cumsum(omegas: torch.Tensor) -> torch.Tensor:
    """``ddsp.core.angular_cumsum`` on [batch, n_samples, channels] (float32, radians)."""
    batch, n, channels = omegas.shape
    two_pi = torch.tensor(2 * np.pi, dtype=omegas.dtype, device=omegas.device)
    pad = (-n) % DDSP_ANGULAR_CHUNK
    chunks = F.pad(omegas, (0, 0, 0, pad)).reshape(batch, -1, DDSP_ANGULAR_CHUNK, channels)
    phase = _sequential_cumsum(chunks, dim=2)
    offsets = torch.remainder(phase[:, :, -1:], two_pi)
    offsets = F.pad(offsets, (0, 0, 0, 0, 1, 0))[:, :-1]
    offsets = torch.remainder(_sequential_cumsum(offsets, dim=1), two_pi)
    phase = torch.remainder(phase + offsets, two_pi)
    return phase.reshape(batch, -1, channels)[:, :n]


def _ddsp_harmonic_synthesis(
    f0_hz: torch.Tensor, amplitudes: torch.Tensor, harmonic_distribution: torch.Tensor, *,
    n_samples: int, sample_rate: int, angular: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``ddsp.core.harmonic_synthesis`` in its own float32 arithmetic (see harmonic_synthesis)."""
    dtype = torch.float32
    n_harmonics = harmonic_distribution.shape[-1]
    k = torch.arange(1, n_harmonics + 1, device=f0_hz.device, dtype=dtype)
    frequencies = f0_hz.to(dtype) * k  # [batch, n_frames, n_harmonics], as ddsp: before resampling
    # tf.compat.v1.image.resize (bilinear, align_corners=False) as ddsp.core.resample uses it.
    n_frames = frequencies.shape[1]
    position = torch.arange(n_samples, device=f0_hz.device, dtype=dtype) * np.float32(
        n_frames / n_samples)
    left = position.floor()
    weight = (position - left)[None, :, None]
    left = left.long().clamp(max=n_frames - 1)
    right = (left + 1).clamp(max=n_frames - 1)
    top, bottom = frequencies[:, left], frequencies[:, right]
    frequency_envelopes = top + (bottom - top) * weight  # [batch, n_samples, n_harmonics]
    amplitude_envelopes = upsample_frames((amplitudes * harmonic_distribution).to(dtype),
                                          n_samples=n_samples, smooth=True)
    amplitude_envelopes = torch.where(frequency_envelopes >= sample_rate / 2.0,
                                      torch.zeros_like(amplitude_envelopes), amplitude_envelopes)
    omegas = frequency_envelopes * np.float32(2.0 * np.pi) / np.float32(sample_rate)
    phases = _ddsp_angular_cumsum(omegas) if angular else _sequential_cumsum(omegas, dim=1)
    audio = (amplitude_envelopes * torch.sin(phases)).sum(-1)
    final_phase = torch.remainder(phases[:, -1, 0].double() / (2 * math.pi), 1.0)
    return audio.to(amplitudes.dtype), final_phase.to(f0_hz.dtype)


def hann_window(size: int, *, device: torch.device | None = None,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Periodic Hann window of ``size`` samples."""
    return torch.hann_window(size, periodic=True, device=device, dtype=dtype)


def frequency_impulse_response(magnitudes: torch.Tensor, *, window_size: int = 0) -> torch.Tensor:
    """Linear-phase FIR filters from frequency-sampled magnitude responses.

    The zero-phase impulse response (inverse real FFT of the magnitudes) is windowed by a
    Hann window of ``window_size`` taps and shifted to be causal, with its centre at
    ``window_size // 2``.

    Args:
        magnitudes: [batch, n_frames, n_bands], linear gains from 0 Hz to Nyquist.
        window_size: filter length; 0 or anything above ``2·(n_bands − 1)`` uses
            ``2·(n_bands − 1)``.

    Returns:
        Impulse responses [batch, n_frames, window_size].
    """
    ir = torch.fft.irfft(magnitudes.to(torch.complex64), dim=-1).to(magnitudes.dtype)
    ir_size = ir.shape[-1]
    window_size = impulse_response_size(magnitudes.shape[-1], window_size=window_size)
    half = window_size // 2
    # Zero-phase IR: taps -half … window_size-half-1 around 0, wrapped.
    ir = torch.cat([ir[..., ir_size - half:], ir[..., :window_size - half]], dim=-1)
    return ir * hann_window(window_size, device=ir.device, dtype=ir.dtype)


def impulse_response_size(n_bands: int, *, window_size: int = 0) -> int:
    """Taps of :func:`frequency_impulse_response`'s filters for ``n_bands`` magnitudes."""
    ir_size = 2 * (n_bands - 1)
    return ir_size if window_size <= 0 or window_size > ir_size else window_size


def fft_convolve(
    audio: torch.Tensor, impulse_response: torch.Tensor, *, delay_compensation: int = 0
) -> torch.Tensor:
    """Convolve audio with one fixed or one per-frame impulse response, through the FFT.

    With per-frame responses the audio is cut into ``n_frames`` blocks of
    ``n_samples / n_frames`` samples (block ``k`` starts at sample ``k · hop``, as in DDSP),
    each block is convolved with its frame's response, and the results are overlap-added. The output is cropped to ``n_samples`` starting ``delay_compensation``
    samples into the full convolution (the filters' delay).

    Args:
        audio: [batch, n_samples].
        impulse_response: [batch, ir_size] or [1, ir_size] (fixed), or
            [batch, n_frames, ir_size] (time-varying; ``n_samples`` must be a multiple of
            ``n_frames``).
        delay_compensation: samples of delay to remove.

    Returns:
        [batch, n_samples].

    Raises:
        AudioError: batch sizes differ, or ``n_samples`` is not a multiple of ``n_frames``.
    """
    batch, n_samples = audio.shape
    if impulse_response.dim() == 2:
        ir_size = impulse_response.shape[-1]
        n_fft = 1 << (n_samples + ir_size - 2).bit_length()
        spectrum = torch.fft.rfft(audio, n_fft) * torch.fft.rfft(impulse_response, n_fft)
        full = torch.fft.irfft(spectrum, n_fft)
        return full[:, delay_compensation:delay_compensation + n_samples]
    ir_batch, n_frames, ir_size = impulse_response.shape
    if ir_batch != batch:
        raise AudioError(f"audio has batch size {batch} but impulse_response has {ir_batch}")
    if n_samples % n_frames:
        raise AudioError(
            f"n_samples ({n_samples}) must be a multiple of n_frames ({n_frames}); "
            f"e.g. {n_frames * (n_samples // n_frames)}"
        )
    hop = n_samples // n_frames
    blocks = audio.reshape(batch, n_frames, hop)
    n_fft = 1 << (hop + ir_size - 2).bit_length()
    spectrum = torch.fft.rfft(blocks, n_fft) * torch.fft.rfft(impulse_response, n_fft)
    pieces = torch.fft.irfft(spectrum, n_fft)  # [batch, n_frames, n_fft]
    total = (n_frames - 1) * hop + n_fft
    out = F.fold(pieces.transpose(1, 2), output_size=(1, total), kernel_size=(1, n_fft),
                 stride=(1, hop)).view(batch, total)
    out = out[:, delay_compensation:delay_compensation + n_samples]
    return F.pad(out, (0, n_samples - out.shape[-1]))


def fft_convolve_block(
    audio: torch.Tensor, impulse_response: torch.Tensor, *, tail: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One block of a long signal convolved with one fixed response (overlap-add).

    Feeding consecutive blocks with the ``tail`` of the previous call gives, block by
    block, ``fft_convolve(whole, impulse_response)`` (up to FFT rounding), holding only
    one block and ``ir_size − 1`` samples of tail.

    Args:
        audio: [batch, n_samples], one block.
        impulse_response: [batch, ir_size] or [1, ir_size].
        tail: [batch, ir_size − 1], what earlier blocks ring into this one; None at the
            start.

    Returns:
        ``(out [batch, n_samples], tail [batch, ir_size − 1])``.
    """
    n_samples = audio.shape[-1]
    ir_size = impulse_response.shape[-1]
    n_fft = 1 << (n_samples + ir_size - 2).bit_length()
    spectrum = torch.fft.rfft(audio, n_fft) * torch.fft.rfft(impulse_response, n_fft)
    full = torch.fft.irfft(spectrum, n_fft)[:, :n_samples + ir_size - 1]
    if tail is not None:
        full[:, :ir_size - 1] += tail
    return full[:, :n_samples], full[:, n_samples:]


def filtered_noise(
    magnitudes: torch.Tensor,
    *,
    n_samples: int,
    window_size: int = 0,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Uniform white noise in [−1, 1) shaped by per-frame linear-phase filters.

    Args:
        magnitudes: [batch, n_frames, n_bands] filter gains from 0 Hz to Nyquist.
        n_samples: output length, a multiple of ``n_frames``.
        window_size: filter length (see :func:`frequency_impulse_response`).
        generator: random generator, for reproducible noise.
        noise: [batch, n_samples] noise to filter instead of drawing it.

    Returns:
        [batch, n_samples].
    """
    batch = magnitudes.shape[0]
    if noise is None:
        noise = torch.rand(batch, n_samples, generator=generator, device=magnitudes.device,
                           dtype=magnitudes.dtype) * 2 - 1
    ir = frequency_impulse_response(magnitudes, window_size=window_size)
    # DDSP's automatic delay compensation for these filters: (ir_size - 1) // 2 - 1.
    return fft_convolve(noise, ir, delay_compensation=max(0, (ir.shape[-1] - 1) // 2 - 1))
