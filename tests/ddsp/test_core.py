"""dlwa.ddsp.core and synths on known signals: oscillators, Nyquist masking, phase, filters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwa.audio.validate import AudioError
from dlwa.ddsp import core
from dlwa.ddsp.synths import FilteredNoise, Harmonic, Reverb

SR = 16000
HOP = 64


def frames(value: float, n_frames: int, channels: int = 1) -> torch.Tensor:
    return torch.full((1, n_frames, channels), float(value))


def spectrum_peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * SR / len(audio))


def test_upsample_frames_is_linear_with_frames_at_hop_multiples() -> None:
    controls = torch.tensor([[[0.0], [1.0], [3.0]]])
    up = core.upsample_frames(controls, n_samples=3 * HOP)[0, :, 0]
    assert up[0] == 0 and up[HOP] == 1 and up[2 * HOP] == 3
    assert up[HOP // 2] == pytest.approx(0.5) and up[HOP // 4] == pytest.approx(0.25)
    assert torch.all(up[2 * HOP:] == 3)  # held after the last frame
    smooth = core.upsample_frames(controls, n_samples=3 * HOP, smooth=True)[0, :, 0]
    assert smooth[HOP // 2] == pytest.approx(0.5)
    assert smooth[HOP // 4] == pytest.approx(0.5 - 0.5 * np.cos(np.pi / 4))


def test_one_harmonic_is_a_sine_at_f0() -> None:
    n_frames = 250
    audio, _ = core.harmonic_synthesis(frames(440, n_frames), frames(0.5, n_frames),
                                       frames(1.0, n_frames), n_samples=n_frames * HOP,
                                       sample_rate=SR)
    t = np.arange(1, n_frames * HOP + 1) / SR  # DDSP's inclusive phase sum
    np.testing.assert_allclose(audio[0].numpy(), 0.5 * np.sin(2 * np.pi * 440 * t), atol=1e-4)


def test_harmonics_above_nyquist_are_masked() -> None:
    n_frames = 100
    distribution = torch.ones(1, n_frames, 5) / 5  # 3, 6, 9, 12, 15 kHz
    audio, _ = core.harmonic_synthesis(frames(3000, n_frames), frames(1.0, n_frames),
                                       distribution, n_samples=n_frames * HOP, sample_rate=SR)
    spectrum = np.abs(np.fft.rfft(audio[0].numpy() * np.hanning(n_frames * HOP)))
    freqs = np.fft.rfftfreq(n_frames * HOP, 1 / SR)
    energy = spectrum**2
    kept = energy[(np.abs(freqs - 3000) < 50) | (np.abs(freqs - 6000) < 50)].sum()
    assert kept / energy.sum() > 0.999  # nothing aliased back from 9, 12, 15 kHz


@pytest.mark.parametrize("direction", ["rising", "falling"])
def test_gliding_f0_never_aliases(direction: str) -> None:
    # f0 glides 1500 -> 2500 Hz (or back): the 4th harmonic crosses Nyquist (8 kHz) mid-way,
    # between frames 24 and 25, while the 1st to 3rd stay below it throughout. The frame
    # either side of the crossing is masked (the larger f0 of each frame and its
    # neighbours), so the 4th harmonic is silent wherever its frequency is at or above
    # Nyquist, including the samples interpolated between those two frames.
    n_frames, n_samples = 50, 50 * HOP
    f0 = torch.linspace(1500, 2500, n_frames)
    f0 = (f0 if direction == "rising" else f0.flip(0)).view(1, n_frames, 1)
    amplitude = torch.ones(1, n_frames, 1)
    fourth = 4 * core.upsample_frames(f0, n_samples=n_samples)[0, :, 0]
    above = fourth >= SR / 2
    assert 0.4 < above.double().mean() < 0.6  # the crossing is mid-way, not at either end

    only_fourth = torch.zeros(1, n_frames, 4)
    only_fourth[..., 3] = 1.0
    audio, _ = core.harmonic_synthesis(f0, amplitude, only_fourth, n_samples=n_samples,
                                       sample_rate=SR)
    assert torch.all(audio[0][above] == 0)  # nothing aliases back below Nyquist
    # ... and below 7.5 kHz (more than one frame from the crossing) the 4th plays in full.
    clear = fourth < 7500
    assert clear.sum() > n_samples / 4
    np.testing.assert_allclose(float(audio[0][clear].square().mean().sqrt()), 1 / np.sqrt(2),
                               rtol=0.02)

    # All four harmonics: after the crossing, the lower three are untouched by the mask.
    all_four = torch.full((1, n_frames, 4), 0.25)
    lower_three = all_four.clone()
    lower_three[..., 3] = 0.0
    audio, _ = core.harmonic_synthesis(f0, amplitude, all_four, n_samples=n_samples,
                                       sample_rate=SR)
    lower, _ = core.harmonic_synthesis(f0, amplitude, lower_three, n_samples=n_samples,
                                       sample_rate=SR)
    torch.testing.assert_close(audio[0][above], lower[0][above], atol=1e-6, rtol=0)
    assert float(lower[0][above].square().mean().sqrt()) > 0.25  # three sines of 0.25 each


def test_phase_is_continuous_across_chunks() -> None:
    # Two chunks, the second started from the first's final phase, equal one pass. The
    # frames either side of the seam are equal, so holding the last frame of the first
    # chunk interpolates exactly as the single pass does.
    n = 40
    f0 = torch.cat([torch.linspace(200, 500, n), torch.linspace(500, 900, n)]).view(1, -1, 1)
    amp = torch.rand(1, 2 * n, 1)
    dist = torch.rand(1, 2 * n, 6)
    amp[:, n - 1], dist[:, n - 1] = amp[:, n], dist[:, n]
    whole, _ = core.harmonic_synthesis(f0, amp, dist, n_samples=2 * n * HOP, sample_rate=SR)
    first, phase = core.harmonic_synthesis(f0[:, :n], amp[:, :n], dist[:, :n],
                                           n_samples=n * HOP, sample_rate=SR)
    second, _ = core.harmonic_synthesis(f0[:, n:], amp[:, n:], dist[:, n:], n_samples=n * HOP,
                                        sample_rate=SR, initial_phase=phase)
    torch.testing.assert_close(torch.cat([first, second], dim=-1), whole, atol=2e-4, rtol=0)


def test_synthesis_in_memory_chunks_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    f0 = torch.rand(1, 300, 1) * 400 + 100
    amp, dist = torch.rand(1, 300, 1), torch.rand(1, 300, 10)
    one, _ = core.harmonic_synthesis(f0, amp, dist, n_samples=300 * HOP, sample_rate=SR)
    monkeypatch.setattr(core, "SYNTH_CHUNK", 1000)
    chunked, _ = core.harmonic_synthesis(f0, amp, dist, n_samples=300 * HOP, sample_rate=SR)
    torch.testing.assert_close(one, chunked)


@pytest.mark.parametrize("mode", ["ddsp_cumsum", "ddsp_angular_cumsum"])
def test_ddsp_phase_modes_sum_sequentially_in_float32(mode: str) -> None:
    # Same signal as float64 up to rounding; the phase sum is float32 added one sample at a
    # time (tf.cumsum), not torch.cumsum's float64 accumulation; gradients still flow.
    n = 40
    f0 = torch.linspace(200, 900, n).view(1, -1, 1)
    amp, dist = torch.rand(1, n, 1, requires_grad=True), torch.rand(1, n, 6)
    ours, _ = core.harmonic_synthesis(f0, amp, dist, n_samples=n * HOP, sample_rate=SR)
    ddsp, phase = core.harmonic_synthesis(f0, amp, dist, n_samples=n * HOP, sample_rate=SR,
                                          phase_accumulation=mode)
    torch.testing.assert_close(ddsp, ours, atol=1e-2, rtol=0)  # plain cumsum drifts most
    assert 0 <= float(phase[0]) < 1
    ddsp.square().sum().backward()
    assert amp.grad is not None and torch.isfinite(amp.grad).all()
    x = torch.full((1, 3000, 1), 0.1)
    sequential = core._sequential_cumsum(x, dim=1)
    expected = np.cumsum(np.full(3000, 0.1, np.float32))  # float32, one add at a time
    assert np.array_equal(sequential[0, :, 0].detach().numpy(), expected)
    with pytest.raises(ValueError, match="initial_phase"):
        core.harmonic_synthesis(f0, amp, dist, n_samples=n * HOP, sample_rate=SR,
                                initial_phase=torch.zeros(1), phase_accumulation=mode)


def test_unknown_phase_accumulation_is_named() -> None:
    with pytest.raises(ValueError, match="float32"):
        core.harmonic_synthesis(frames(440, 2), frames(1, 2), frames(1, 2), n_samples=2 * HOP,
                                sample_rate=SR, phase_accumulation="float32")  # type: ignore[arg-type]


def test_flat_magnitudes_give_a_centred_impulse() -> None:
    ir = core.frequency_impulse_response(torch.ones(1, 1, 65))
    assert ir.shape == (1, 1, 128)
    assert int(ir[0, 0].abs().argmax()) == 64
    assert ir[0, 0, 64] == pytest.approx(1.0, abs=1e-5)


def test_fft_convolve_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    audio, ir = rng.standard_normal((1, 1000)), rng.standard_normal((1, 50))
    out = core.fft_convolve(torch.from_numpy(audio), torch.from_numpy(ir))
    np.testing.assert_allclose(out[0].numpy(), np.convolve(audio[0], ir[0])[:1000], atol=1e-9)


def test_framewise_convolution_with_one_repeated_ir_equals_fixed() -> None:
    rng = np.random.default_rng(1)
    audio = torch.from_numpy(rng.standard_normal((2, 640)))
    ir = torch.from_numpy(rng.standard_normal((2, 33)))
    fixed = torch.stack([core.fft_convolve(audio[i:i + 1], ir[i:i + 1])[0] for i in range(2)])
    framewise = core.fft_convolve(audio, ir[:, None].expand(2, 10, 33).contiguous())
    torch.testing.assert_close(framewise, fixed)


def test_fft_convolve_errors_name_the_sizes() -> None:
    with pytest.raises(AudioError, match="batch size 1 .* has 2"):
        core.fft_convolve(torch.zeros(1, 640), torch.zeros(2, 10, 9))
    with pytest.raises(AudioError, match="multiple of n_frames"):
        core.fft_convolve(torch.zeros(1, 641), torch.zeros(1, 10, 9))


def test_filtered_noise_follows_its_magnitudes() -> None:
    n_frames = 250
    low = torch.zeros(1, n_frames, 65)
    low[..., :8] = 1.0  # pass 0 … 1 kHz
    generator = torch.Generator().manual_seed(0)
    audio = core.filtered_noise(low, n_samples=n_frames * HOP, generator=generator)[0].numpy()
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / SR)
    assert spectrum[freqs < 1200].sum() / spectrum.sum() > 0.98


def test_harmonic_controls_are_scaled_and_masked() -> None:
    synth = Harmonic(sample_rate=SR)
    f0 = torch.tensor([[[3000.0], [10.0]]])
    controls = synth.get_controls(torch.zeros(1, 2, 1), torch.zeros(1, 2, 5), f0)
    dist = controls["harmonic_distribution"]
    torch.testing.assert_close(dist.sum(-1), torch.ones(1, 2))
    assert torch.all(dist[0, 0, 2:] == 0)  # 9 kHz and up at 3 kHz
    assert controls["amplitudes"][0, 1, 0] == 0  # 10 Hz is unvoiced
    assert 0 < controls["amplitudes"][0, 0, 0] <= 2.0


def test_noise_controls_start_quiet() -> None:
    magnitudes = FilteredNoise().get_controls(torch.zeros(1, 3, 65))["magnitudes"]
    assert torch.all(magnitudes < 1e-3)


def test_reverb_masks_the_direct_tap_and_adds_dry() -> None:
    reverb = Reverb(reverb_length=100)
    with torch.no_grad():
        reverb.ir.zero_()
        reverb.ir[0] = 5.0  # masked: must not double the dry signal
        reverb.ir[10] = 0.5
    impulse = torch.zeros(1, 200)
    impulse[0, 0] = 1.0
    out = reverb(impulse)[0].detach()
    assert out[0] == pytest.approx(1.0) and out[10] == pytest.approx(0.5)
    assert reverb.get_controls()["impulse_response"][0, 0] == 0
