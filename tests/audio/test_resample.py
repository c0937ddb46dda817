"""Resampling keeps frequencies, lengths add up, aliasing is suppressed (soxr and torch)."""

import numpy as np
import pytest
import scipy.signal
import soxr
import torch

from dlwa.audio import AudioError, resample, resample_torch, resampled_length, sine

torch.set_num_threads(1)
RATE_PAIRS = [(16000, 44100), (44100, 16000), (48000, 16000), (22050, 48000), (16000, 24000)]


def dominant_hz(x, sample_rate):
    """Frequency of the strongest component, refined by parabolic interpolation."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=8 * len(x)))
    k = int(spectrum.argmax())
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + offset) * sample_rate / (8 * len(x))


@pytest.mark.parametrize("n_samples", [1, 2, 7, 160, 441, 1000, 16001])
@pytest.mark.parametrize(("orig", "new"), RATE_PAIRS)
def test_length_arithmetic(n_samples, orig, new):
    expected = (2 * n_samples * new + orig) // (2 * orig)  # round half up
    assert resampled_length(n_samples, orig_sample_rate=orig, sample_rate=new) == expected
    x = np.random.default_rng(0).standard_normal(n_samples).astype(np.float32)
    assert resample(x, orig_sample_rate=orig, sample_rate=new).shape == (expected,)
    assert abs(len(soxr.resample(x, orig, new)) - expected) <= 1  # soxr agrees up to rounding
    assert resample_torch(torch.from_numpy(x), orig_sample_rate=orig, sample_rate=new).shape == (
        expected,
    )


@pytest.mark.parametrize(("orig", "new"), RATE_PAIRS)
def test_sine_frequency_and_waveform_are_preserved(orig, new):
    x = sine(1000.0, duration_s=0.2, sample_rate=orig, amplitude=0.5)
    reference = sine(1000.0, duration_s=0.2, sample_rate=new, amplitude=0.5)
    for y in (
        resample(x, orig_sample_rate=orig, sample_rate=new),
        resample_torch(torch.from_numpy(x), orig_sample_rate=orig, sample_rate=new).numpy(),
    ):
        assert y.shape == reference.shape and y.dtype == np.float32
        assert dominant_hz(y, new) == pytest.approx(1000.0, abs=0.5)
        inner = slice(len(y) // 10, -len(y) // 10)
        np.testing.assert_allclose(y[inner], reference[inner], atol=2e-3)


def test_soxr_and_torch_agree_below_their_cutoffs():
    noise = np.random.default_rng(1).standard_normal(4410)
    sos = scipy.signal.butter(8, 5000.0, fs=44100, output="sos")
    x = (0.1 * scipy.signal.sosfiltfilt(sos, noise)).astype(np.float32)
    a = resample(x, orig_sample_rate=44100, sample_rate=16000)
    b = resample_torch(torch.from_numpy(x), orig_sample_rate=44100, sample_rate=16000).numpy()
    inner = slice(100, -100)
    assert np.abs(a[inner] - b[inner]).max() < 0.01 * np.abs(a).max()


def test_downsampling_removes_content_above_new_nyquist():
    x = sine(10000.0, duration_s=0.25, sample_rate=44100, amplitude=0.5)  # above 8 kHz
    for y in (
        resample(x, orig_sample_rate=44100, sample_rate=16000),
        resample_torch(torch.from_numpy(x), orig_sample_rate=44100, sample_rate=16000).numpy(),
    ):
        inner = y[400:-400]
        assert np.sqrt(np.mean(inner**2)) < 0.5 * 10 ** (-50 / 20)


def test_multichannel_equals_per_channel():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3000)).astype(np.float32)
    y = resample(x, orig_sample_rate=48000, sample_rate=16000)
    assert y.shape == (2, 1000) and y.flags.c_contiguous
    for c in range(2):
        np.testing.assert_allclose(
            y[c], resample(x[c], orig_sample_rate=48000, sample_rate=16000), atol=1e-6
        )
    yt = resample_torch(torch.from_numpy(x), orig_sample_rate=48000, sample_rate=16000)
    for c in range(2):
        torch.testing.assert_close(
            yt[c], resample_torch(torch.from_numpy(x[c]), orig_sample_rate=48000, sample_rate=16000)
        )


def test_same_rate_is_identity_and_float64_kept():
    x = np.zeros(100, dtype=np.float64)
    assert resample(x, orig_sample_rate=16000, sample_rate=16000) is x
    assert resample(x + 0.1, orig_sample_rate=16000, sample_rate=8000).dtype == np.float64


def test_torch_gradients():
    x = torch.randn(1000, requires_grad=True)
    resample_torch(x, orig_sample_rate=16000, sample_rate=22050).pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_errors():
    with pytest.raises(AudioError, match="orig_sample_rate must be a positive whole number of Hz"):
        resample(np.zeros(10, dtype=np.float32), orig_sample_rate=0, sample_rate=16000)
    with pytest.raises(AudioError, match="floating dtype"):
        resample(np.zeros(10, dtype=np.int16), orig_sample_rate=8000, sample_rate=16000)
    with pytest.raises(AudioError, match=r"rolloff must be in \(0, 1\]"):
        resample_torch(torch.zeros(10), orig_sample_rate=8000, sample_rate=16000, rolloff=1.5)
