"""GANSynth's spectrogram representation: shapes, round trips, IF, mel matrices, normaliser."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlwa.gansynth.spectral import (
    PRESPECIFIED_MAG_A,
    SpecgramNormalizer,
    SpecgramTransform,
    instantaneous_frequency,
    integrate_frequency,
    linear_to_mel_matrix,
    mel_to_linear_matrix,
    synthesis_window,
)

SR = 16000
N = 64000


def harmonic_tone(f0: float, n_harmonics: int = 8) -> torch.Tensor:
    """[1, 64000] float64: 1/k harmonics, 20 ms attack, released to silence by 3.8 s.

    It ends before the last n_fft - hop samples (where the single last frame cannot
    reconstruct, as in Magenta) and starts smoothly, as NSynth-like notes do.
    """
    t = torch.arange(N, dtype=torch.float64) / SR
    x = sum(0.5 / k * torch.sin(2 * math.pi * f0 * k * t + 0.3 * k)
            for k in range(1, n_harmonics + 1))
    envelope = torch.clamp(t / 0.02, max=1.0) * torch.clamp((3.8 - t) / 0.3, 0.0, 1.0)
    return (x * envelope)[None]


def test_prog_hires_geometry() -> None:
    transform = SpecgramTransform()
    assert (transform.n_fft, transform.hop, transform.pad_left) == (2048, 512, 3072)
    x = harmonic_tone(220.0).float()
    assert transform.stft(x).shape == (1, 128, 1024)
    assert transform.audio_to_specgram(x).shape == (1, 2, 128, 1024)
    mel = SpecgramTransform(mel=True)
    assert mel.n_mel == 1024
    assert mel.audio_to_specgram(x).shape == (1, 2, 128, 1024)
    assert mel.specgram_to_audio(mel.audio_to_specgram(x)).shape == (1, N)


def test_bad_geometry_is_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        SpecgramTransform(n_freq=1000)
    with pytest.raises(ValueError, match="fewer than audio_length"):
        SpecgramTransform(n_time=64)
    with pytest.raises(ValueError, match="64000 samples"):
        SpecgramTransform().stft(torch.zeros(1, 100))


def test_dc_bin_is_dropped_and_nyquist_kept() -> None:
    transform = SpecgramTransform(audio_length=4096, n_time=16, n_freq=512)
    n = torch.arange(4096, dtype=torch.float64)
    nyquist = torch.cos(math.pi * n)[None]  # all energy in the Nyquist bin
    assert transform.stft(nyquist)[0, 10].abs().argmax() == 511
    # A constant: Hann puts n_fft/2 in bin 0 (dropped) and n_fft/4 in bin 1 (column 0).
    frame = transform.stft(torch.ones(1, 4096, dtype=torch.float64))[0, 10].abs()
    assert frame[0] == pytest.approx(1024 / 4)
    assert frame[1:].max() < 1e-9


@pytest.mark.parametrize("f0", [110.0, 220.0, 440.0])
def test_linear_round_trip(f0: float) -> None:
    # Not exact by construction: the DC bin is dropped (each frame's mean is lost) and
    # log(|X| + 1e-6) adds 1e-6 to every magnitude. For a tone above 100 Hz with a smooth
    # attack the loss stays below -70 dB; 1e-3 of a ~1.0 peak is a loose bound on that.
    x = harmonic_tone(f0)
    transform = SpecgramTransform()
    for dtype in (torch.float64, torch.float32):
        y = transform.specgram_to_audio(transform.audio_to_specgram(x.to(dtype)))
        assert y.dtype == dtype
        assert (y.double() - x).abs().max() < 1e-3


def test_stft_round_trip_is_exact_for_a_zero_mean_signal() -> None:
    # The overlap-add window (TF's inverse_stft_window_fn) sums to one: STFT → iSTFT is
    # exact away from the last n_fft - hop samples, to float64 rounding.
    transform = SpecgramTransform()
    x = harmonic_tone(440.0)
    y = transform.istft(transform.stft(x))
    assert (y - x).abs().max() < 1e-4


def test_synthesis_window_overlap_adds_to_one() -> None:
    window = torch.hann_window(2048, periodic=True, dtype=torch.float64)
    synth = synthesis_window(2048, 512, dtype=torch.float64)
    total = (window * synth).reshape(4, 512).sum(dim=0)
    assert torch.allclose(total, torch.ones(512, dtype=torch.float64))


@pytest.mark.parametrize("f0", [110.0, 220.0, 440.0])
def test_mel_round_trip_keeps_pitch_and_energy(f0: float) -> None:
    # The mel variant is lossy by design (Magenta's own test skips its reconstruction):
    # mel_downscale 1 gives 1024 mel bands, narrower than a bin at low frequencies and
    # several bins wide at high ones, and the phase goes through the same smoothing. What
    # survives, and what GANSynth relies on: the pitch and most of the energy. Measured here:
    # peak within 0.25 Hz, RMS ratio 0.81-0.98 for these tones, fundamental level ±30 %.
    x = harmonic_tone(f0)
    transform = SpecgramTransform(mel=True)
    y = transform.specgram_to_audio(transform.audio_to_specgram(x))
    spectrum_x = torch.fft.rfft(x[0]).abs()
    spectrum_y = torch.fft.rfft(y[0]).abs()
    assert abs(float(spectrum_y.argmax()) * SR / N - f0) < 0.5
    rms_ratio = float(y.pow(2).mean().sqrt() / x.pow(2).mean().sqrt())
    assert 0.7 < rms_ratio < 1.1
    k = round(f0 * N / SR)
    fundamental = float(spectrum_y[k - 3:k + 4].max() / spectrum_x[k - 3:k + 4].max())
    assert 0.7 < fundamental < 1.3


def test_if_of_a_pure_tone_is_constant() -> None:
    transform = SpecgramTransform()
    hop, n_fft = transform.hop, transform.n_fft
    t = torch.arange(N, dtype=torch.float64)
    # On bin 101: the phase advances 2π · 101 · hop / n_fft = 50.5π per hop → +0.5π wrapped.
    on_bin = transform.audio_to_specgram(torch.sin(2 * math.pi * 101 * t / n_fft)[None])
    ifreq = on_bin[0, 1, 8:-2, 100]  # bin 101 is column 100 (DC dropped)
    assert torch.allclose(ifreq, torch.full_like(ifreq, 0.5), atol=1e-6)
    # Between bins, both neighbours report the tone's own advance (phase-vocoder property).
    k = 200.3
    between = transform.audio_to_specgram(torch.sin(2 * math.pi * k * t / n_fft)[None])
    advance = math.remainder(2 * math.pi * k * hop / n_fft, 2 * math.pi) / math.pi
    for column in (199, 200):  # bins 200 and 201
        values = between[0, 1, 8:-2, column]
        assert torch.allclose(values, torch.full_like(values, advance), atol=1e-3)


def test_if_integration_inverts() -> None:
    phase = (torch.rand(3, 50, 7, dtype=torch.float64) * 2 - 1) * math.pi
    recovered = integrate_frequency(instantaneous_frequency(phase))
    wrapped = torch.remainder(recovered - phase + math.pi, 2 * math.pi) - math.pi
    assert wrapped.abs().max() < 1e-9


def test_mel_matrix_shape_and_properties() -> None:
    m = linear_to_mel_matrix(1024, 1024, SR)
    assert m.shape == (1024, 1024)
    assert np.all(m[0] == 0.0)  # no DC row
    assert np.all(m >= 0.0) and np.all(m <= 1.0)
    # Every band (widened to 1.5 bins) holds a bin, but the lowest: it sits on the zeroed
    # DC row, as in Magenta, so mel bin 0 is always log(1e-6).
    assert m[:, 0].sum() == 0.0 and np.all(m[:, 1:].sum(axis=0) > 0)
    inverse = mel_to_linear_matrix(m)
    assert inverse.shape == (1024, 1024)
    with pytest.raises(ValueError, match="nyquist"):
        linear_to_mel_matrix(10, 100, SR, f_max=9000.0)


def test_normalizer_round_trip_and_clip() -> None:
    norm = SpecgramNormalizer()
    assert float(norm.a[0, 0]) == pytest.approx(PRESPECIFIED_MAG_A)
    x = torch.stack([torch.linspace(-13.0, 5.0, 64), torch.linspace(-1.0, 1.0, 64)])
    x = x.reshape(1, 2, 8, 8)
    assert torch.allclose(norm.denormalize(norm.normalize(x)), x, atol=1e-5)
    assert norm.normalize(x * 100).abs().max() <= 1.0


@pytest.mark.parametrize("n_freq", [None, 8])
def test_fitted_normalizer_maps_range_to_margin(n_freq: int | None) -> None:
    data = torch.randn(5, 2, 4, 8) * torch.tensor([3.0, 0.5])[None, :, None, None]
    norm = SpecgramNormalizer(n_freq)
    norm.fit(data, margin=0.8)
    y = norm.normalize(data)
    dims = (0, 2, 3) if n_freq is None else (0, 2)
    assert torch.allclose(y.amax(dim=dims), torch.tensor(0.8), atol=1e-5)
    assert torch.allclose(y.amin(dim=dims), torch.tensor(-0.8), atol=1e-5)
    assert torch.allclose(norm.denormalize(y), data, atol=1e-5)
