"""A-weighted loudness: levels, weighting, framing, numpy/torch and batch consistency."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa.audio import AudioError, a_weighted_loudness, a_weighting_db, sine

torch.set_num_threads(1)
SR = 16000
# Made by ddsp 3.7.0 itself (scripts/make_ddsp_fixtures.py): ddsp.spectral_ops.compute_loudness
# of the DDSP fixture's output audio and of a copy fading over 100 dB, at n_fft 512 and 2048.
DDSP_FIXTURE = Path(__file__).parents[1] / "ddsp" / "fixtures" / "expected.npz"


def reference_a_weighting_db(f_hz):
    """IEC 61672-1 closed form: R_A(f) = 12194² f⁴ / ((f² + 20.6²) √((f² + 107.7²)(f² + 737.9²)) (f² + 12194²))."""
    f2 = f_hz**2
    r_a = (
        12194.217**2
        * f2**2
        / (
            (f2 + 20.598997**2)
            * math.sqrt((f2 + 107.65265**2) * (f2 + 737.86223**2))
            * (f2 + 12194.217**2)
        )
    )
    return 20 * math.log10(r_a) + 2.0


def reference_loudness(x, n_fft, hop_length):
    """DDSP compute_loudness written out in numpy: centre pad, Hann, power, A-weight, mean, dB."""
    padded = np.pad(x.astype(np.float64), n_fft // 2)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    n_frames = len(x) // hop_length + 1
    frames = np.stack([padded[k * hop_length : k * hop_length + n_fft] for k in range(n_frames)])
    power = np.abs(np.fft.rfft(frames * window)) ** 2
    freqs = np.arange(n_fft // 2 + 1) * SR / n_fft
    weights_db = np.array(
        [max(reference_a_weighting_db(f), -80.0) if f > 0 else -80.0 for f in freqs]
    )
    mean = (power * 10 ** (weights_db / 10)).mean(axis=-1)
    return np.maximum(10 * np.log10(np.maximum(mean, 1e-8)), -80.0)  # DDSP's DB_RANGE = 80


@pytest.mark.parametrize(
    ("f_hz", "expected_db"),
    [
        (10**1.5, -39.4),
        (63.1, -26.2),
        (100, -19.1),
        (125, -16.1),
        (250, -8.6),
        (500, -3.2),
        (1000, 0.0),
        (2000, 1.2),
        (4000, 1.0),
        (8000, -1.1),
    ],
)
def test_a_weighting_matches_iec_table(f_hz, expected_db):
    assert a_weighting_db(np.array([f_hz]))[0] == pytest.approx(expected_db, abs=0.1)


def test_a_weighting_matches_closed_form():
    freqs = np.geomspace(20.0, 20000.0, 50)
    expected = [reference_a_weighting_db(f) for f in freqs]
    np.testing.assert_allclose(a_weighting_db(freqs), expected, atol=1e-9)


def test_a_weighting_floor():
    assert a_weighting_db(np.array([0.0, 5.0]), min_db=-80.0).tolist() == [-80.0, -80.0]


@pytest.mark.parametrize("n_fft", [512, 2048])
def test_matches_ddsp_compute_loudness(n_fft):
    fixture = np.load(DDSP_FIXTURE)
    audio, expected = fixture["loudness_audio"], fixture[f"ddsp_loudness_db_{n_fft}"]
    assert expected.shape == (2, 4096 // 64 + 1)
    assert expected.max() > 0 and (expected[1] == -80.0).any() == (n_fft == 512)  # full range
    ours = a_weighted_loudness(audio, sample_rate=SR, frame_rate=250, n_fft=n_fft)
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    ours_torch = a_weighted_loudness(torch.from_numpy(audio[1]), sample_rate=SR, n_fft=n_fft)
    np.testing.assert_allclose(ours_torch.numpy(), expected[1], atol=1e-4, rtol=0)


def test_matches_reference_implementation():
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    x[2000:] *= 0.01
    out = a_weighted_loudness(x, sample_rate=SR, frame_rate=250, n_fft=512)
    ref = reference_loudness(x, 512, 64)
    assert out.shape == ref.shape == (4000 // 64 + 1,)
    np.testing.assert_allclose(out, ref, atol=1e-3)


def test_level_difference_follows_amplitude_ratio():
    loud = a_weighted_loudness(
        sine(440.0, duration_s=1.0, sample_rate=SR, amplitude=0.5), sample_rate=SR
    )
    quiet = a_weighted_loudness(
        sine(440.0, duration_s=1.0, sample_rate=SR, amplitude=0.05), sample_rate=SR
    )
    np.testing.assert_allclose((loud - quiet)[5:-5], 20.0, atol=1e-3)
    half = a_weighted_loudness(
        sine(440.0, duration_s=1.0, sample_rate=SR, amplitude=0.25), sample_rate=SR
    )
    np.testing.assert_allclose((loud - half)[5:-5], 20 * math.log10(2), atol=1e-3)


def test_a_weighting_makes_100_hz_quieter_than_1_khz():
    def level(f_hz):
        x = sine(f_hz, duration_s=1.0, sample_rate=SR, amplitude=0.5)
        return float(np.median(a_weighted_loudness(x, sample_rate=SR, n_fft=2048)))

    difference = level(1000.0) - level(100.0)
    assert difference == pytest.approx(19.1, abs=0.5)


def test_silence_sits_at_the_floor():
    silence = np.zeros(1600, dtype=np.float32)
    np.testing.assert_array_equal(a_weighted_loudness(silence, sample_rate=SR), -80.0)
    np.testing.assert_array_equal(
        a_weighted_loudness(silence, sample_rate=SR, range_db=120.0), -120.0
    )
    quiet = sine(440.0, duration_s=0.1, sample_rate=SR, amplitude=1e-3)  # about −55 dB
    assert (a_weighted_loudness(quiet, sample_rate=SR)[3:-3] > -80.0).all()


def test_ref_db_shifts():
    x = sine(440.0, duration_s=0.2, sample_rate=SR, amplitude=0.5)
    np.testing.assert_allclose(
        a_weighted_loudness(x, sample_rate=SR, ref_db=20.7),
        a_weighted_loudness(x, sample_rate=SR) - 20.7,
        atol=1e-4,
    )


def test_frame_counts():
    x = np.zeros(64000, dtype=np.float32)
    assert a_weighted_loudness(x, sample_rate=SR).shape == (1001,)
    assert a_weighted_loudness(x, sample_rate=SR, padding="same").shape == (1000,)
    assert a_weighted_loudness(x, sample_rate=SR, frame_rate=100).shape == (401,)
    y = np.zeros(48000, dtype=np.float32)
    assert a_weighted_loudness(y, sample_rate=48000, frame_rate=250, n_fft=2048).shape == (251,)


def test_numpy_torch_and_batch_agree():
    rng = np.random.default_rng(1)
    batch = (rng.standard_normal((3, 3200)) * [[1.0], [0.1], [0.01]]).astype(np.float32)
    out = a_weighted_loudness(batch, sample_rate=SR)
    assert isinstance(out, np.ndarray) and out.shape == (3, 51) and out.dtype == np.float32
    for i in range(3):
        np.testing.assert_allclose(out[i], a_weighted_loudness(batch[i], sample_rate=SR), atol=1e-4)
    out_t = a_weighted_loudness(torch.from_numpy(batch), sample_rate=SR)
    assert isinstance(out_t, torch.Tensor)
    np.testing.assert_allclose(out_t.numpy(), out, atol=1e-4)


def test_gradients_flow():
    x = torch.from_numpy(sine(440.0, duration_s=0.1, sample_rate=SR, amplitude=0.5)).requires_grad_(
        True
    )
    a_weighted_loudness(x, sample_rate=SR).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_errors():
    with pytest.raises(AudioError, match=r"frame_rate=300 does not divide sample_rate=16000"):
        a_weighted_loudness(np.zeros(1600, dtype=np.float32), sample_rate=SR, frame_rate=300)
    with pytest.raises(AudioError, match="floating dtype, got int16"):
        a_weighted_loudness(np.zeros(1600, dtype=np.int16), sample_rate=SR)
    with pytest.raises(TypeError):
        a_weighted_loudness(np.zeros(1600, dtype=np.float32), SR)  # sample_rate is keyword-only
