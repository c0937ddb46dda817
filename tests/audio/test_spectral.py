"""STFT, log-mel and the multi-scale spectral loss against numpy references."""

import itertools

import numpy as np
import pytest
import scipy.signal
import torch

from dlwa.audio import (
    AudioError,
    LogMelSpectrogram,
    MultiScaleSpectralLoss,
    log_mel_spectrogram,
    magnitude_spectrogram,
    mel_filterbank,
    multiscale_spectral_loss,
    sine,
    stft,
)

torch.set_num_threads(1)
SR = 16000


def reference_stft(x, n_fft, hop_length):
    """Centre padding with zeros, periodic Hann from scipy, rfft per frame: [n_frames, n_bins]."""
    padded = np.pad(x, n_fft // 2)
    window = scipy.signal.get_window("hann", n_fft, fftbins=True)
    n_frames = len(x) // hop_length + 1
    frames = np.stack([padded[k * hop_length : k * hop_length + n_fft] for k in range(n_frames)])
    return np.fft.rfft(frames * window, axis=-1)


def test_stft_matches_numpy_reference():
    x = np.random.default_rng(1).standard_normal(3000)
    ref = reference_stft(x, 256, 100)
    out = stft(torch.from_numpy(x), n_fft=256, hop_length=100).numpy()
    assert out.shape == ref.shape == (31, 129)
    np.testing.assert_allclose(out, ref, atol=1e-9)


def test_sine_peak_has_expected_magnitude():
    # 1000 Hz sits on bin 32 of a 512-point FFT at 16 kHz; Hann gain is n_fft / 4 for amplitude 1.
    x = torch.from_numpy(sine(1000.0, duration_s=0.5, sample_rate=SR, amplitude=0.5))
    mag = magnitude_spectrogram(x, n_fft=512, hop_length=128)
    interior = mag[5:-5]
    assert (interior.argmax(dim=-1) == 32).all()
    torch.testing.assert_close(
        interior[:, 32], torch.full((interior.shape[0],), 0.5 * 512 / 4), rtol=1e-3, atol=0
    )
    power = magnitude_spectrogram(x, n_fft=512, hop_length=128, power=2.0)
    torch.testing.assert_close(power, mag**2)


def test_batch_equals_items():
    rng = np.random.default_rng(2)
    batch = torch.from_numpy(rng.standard_normal((3, 2, 2000)).astype(np.float32))
    out = stft(batch, n_fft=128, hop_length=32, padding="same")
    assert out.shape == (3, 2, 63, 65)
    for i in range(3):
        for j in range(2):
            torch.testing.assert_close(
                out[i, j], stft(batch[i, j], n_fft=128, hop_length=32, padding="same")
            )


def test_log_mel_matches_reference_and_module():
    x = np.random.default_rng(3).standard_normal(4000)
    fb = mel_filterbank(sample_rate=SR, n_fft=512, n_mels=40).astype(np.float64)
    ref = np.log(np.maximum(np.abs(reference_stft(x, 512, 128)) ** 2 @ fb, 1e-5))
    out = log_mel_spectrogram(
        torch.from_numpy(x), sample_rate=SR, n_fft=512, hop_length=128, n_mels=40
    )
    assert out.shape == (32, 40)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-6)
    module = LogMelSpectrogram(sample_rate=SR, n_fft=512, hop_length=128, n_mels=40)
    assert not list(module.parameters()) and "filterbank" not in module.state_dict()
    batch = torch.from_numpy(np.stack([x, x[::-1].copy()])).float()
    out_module = module(batch)
    assert out_module.shape == (2, 32, 40)
    np.testing.assert_allclose(out_module[0].numpy(), ref, atol=1e-3)


def test_stft_errors():
    x = torch.zeros(1000)
    with pytest.raises(AudioError, match=r"window must have shape \(256,\) to match n_fft"):
        stft(x, n_fft=256, hop_length=64, window=torch.ones(128))
    with pytest.raises(AudioError, match="hop_length must be a positive integer"):
        stft(x, n_fft=256, hop_length=0)
    with pytest.raises(AudioError, match="floating dtype"):
        stft(torch.zeros(1000, dtype=torch.int64), n_fft=256, hop_length=64)


def _tone(f0_hz):
    return torch.from_numpy(sine(f0_hz, duration_s=0.5, sample_rate=SR, amplitude=0.5))


def test_multiscale_loss_zero_for_identical_and_grows_with_detuning():
    target = _tone(440.0)
    assert multiscale_spectral_loss(target, target.clone()).item() == 0.0
    losses = [
        multiscale_spectral_loss(target, _tone(440.0 * 2 ** (c / 1200))).item()
        for c in (5, 50, 200, 700)
    ]
    assert all(a < b for a, b in itertools.pairwise(losses)), losses
    assert losses[0] > 0


def test_multiscale_loss_terms_and_module():
    target, prediction = _tone(440.0), _tone(450.0)
    mag_only = multiscale_spectral_loss(target, prediction, logmag_weight=0.0)
    log_only = multiscale_spectral_loss(target, prediction, mag_weight=0.0)
    both = multiscale_spectral_loss(target, prediction)
    torch.testing.assert_close(both, mag_only + log_only)
    # One scale by hand: L1 of magnitudes, frames of 256 every 64 samples, "same" padding.
    one = multiscale_spectral_loss(target, prediction, fft_sizes=(256,), logmag_weight=0.0)
    ref_t = np.abs(reference_same_stft(target.numpy(), 256, 64))
    ref_p = np.abs(reference_same_stft(prediction.numpy(), 256, 64))
    assert one.item() == pytest.approx(np.abs(ref_t - ref_p).mean(), rel=1e-4)
    module = MultiScaleSpectralLoss()
    torch.testing.assert_close(module(target[None], prediction[None]), both)


def reference_same_stft(x, n_fft, hop_length):
    n_frames = -(-len(x) // hop_length)
    padded = np.pad(x, (0, (n_frames - 1) * hop_length + n_fft - len(x)))
    window = scipy.signal.get_window("hann", n_fft, fftbins=True)
    frames = np.stack([padded[k * hop_length : k * hop_length + n_fft] for k in range(n_frames)])
    return np.fft.rfft(frames * window, axis=-1)


def test_multiscale_loss_has_gradients():
    target = _tone(440.0)
    prediction = (_tone(445.0) * 0.8).requires_grad_(True)
    multiscale_spectral_loss(target, prediction).backward()
    assert prediction.grad is not None and torch.isfinite(prediction.grad).all()
    assert prediction.grad.abs().sum() > 0


def test_multiscale_loss_errors():
    with pytest.raises(AudioError, match=r"same shape, got \(100,\) and \(99,\); crop both"):
        multiscale_spectral_loss(torch.zeros(100), torch.zeros(99))
    with pytest.raises(AudioError, match=r"overlap must be in \[0, 1\), got 1.0; DDSP uses 0.75"):
        multiscale_spectral_loss(torch.zeros(100), torch.zeros(100), overlap=1.0)
