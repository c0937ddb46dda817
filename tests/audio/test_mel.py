"""Mel scales and filterbank against an independent per-bin reference."""

import math

import numpy as np
import pytest

from dlwa.audio import AudioError, fft_frequencies, hz_to_mel, mel_filterbank, mel_to_hz


def reference_htk_mel(f_hz):
    return 2595.0 / math.log(10.0) * math.log1p(f_hz / 700.0)


def reference_slaney_mel(f_hz):
    if f_hz < 1000.0:
        return 3.0 * f_hz / 200.0
    return 15.0 + 27.0 * math.log(f_hz / 1000.0) / math.log(6.4)


def reference_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, to_mel, norm):
    """Loop-by-loop triangles: bisection inverts the mel curve, each bin is checked by hand."""

    def from_mel(m):
        lo, hi = 0.0, sample_rate
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if to_mel(mid) < m else (lo, mid)
        return 0.5 * (lo + hi)

    m_lo, m_hi = to_mel(f_min), to_mel(f_max)
    edges = [from_mel(m_lo + (m_hi - m_lo) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    weights = np.zeros((n_fft // 2 + 1, n_mels))
    for b in range(n_fft // 2 + 1):
        f = b * sample_rate / n_fft
        for m in range(n_mels):
            left, centre, right = edges[m], edges[m + 1], edges[m + 2]
            if left < f <= centre:
                w = (f - left) / (centre - left)
            elif centre < f < right:
                w = (right - f) / (right - centre)
            else:
                w = 0.0
            weights[b, m] = w * (2.0 / (right - left) if norm == "slaney" else 1.0)
    return weights, edges


def test_mel_scales_known_points():
    assert hz_to_mel(1000.0, mel_scale="htk") == pytest.approx(1000.0, abs=0.02)
    assert hz_to_mel(1000.0, mel_scale="slaney") == pytest.approx(15.0)
    assert hz_to_mel(6400.0, mel_scale="slaney") == pytest.approx(42.0)
    for f in (0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0):
        assert hz_to_mel(f, mel_scale="htk") == pytest.approx(
            reference_htk_mel(f), rel=1e-9, abs=1e-9
        )
        assert hz_to_mel(f, mel_scale="slaney") == pytest.approx(reference_slaney_mel(f), abs=1e-9)
        for scale in ("htk", "slaney"):
            assert mel_to_hz(hz_to_mel(f, mel_scale=scale), mel_scale=scale) == pytest.approx(
                f, abs=1e-6
            )


@pytest.mark.parametrize(
    ("scale", "to_mel", "norm"),
    [
        ("htk", reference_htk_mel, None),
        ("slaney", reference_slaney_mel, "slaney"),
        ("slaney", reference_slaney_mel, None),
    ],
)
def test_filterbank_matches_reference(scale, to_mel, norm):
    fb = mel_filterbank(
        sample_rate=16000,
        n_fft=512,
        n_mels=40,
        f_min=20.0,
        f_max=7600.0,
        mel_scale=scale,
        norm=norm,
    )
    ref, _ = reference_filterbank(16000, 512, 40, 20.0, 7600.0, to_mel, norm)
    assert fb.shape == (257, 40) and fb.dtype == np.float32
    np.testing.assert_allclose(fb, ref, atol=1e-6 * ref.max())


def test_unnormalised_rows_sum_to_one_between_first_and_last_centre():
    fb = mel_filterbank(sample_rate=22050, n_fft=2048, n_mels=64, mel_scale="htk")
    _, edges = reference_filterbank(22050, 2048, 64, 0.0, 11025.0, reference_htk_mel, None)
    freqs = fft_frequencies(sample_rate=22050, n_fft=2048)
    inside = (freqs >= edges[1]) & (freqs <= edges[-2])
    np.testing.assert_allclose(fb[inside].sum(axis=1), 1.0, atol=1e-5)
    assert fb.max() <= 1.0 + 1e-6


def test_peaks_sit_at_band_centres():
    fb = mel_filterbank(sample_rate=16000, n_fft=1024, n_mels=32, mel_scale="slaney")
    _, edges = reference_filterbank(16000, 1024, 32, 0.0, 8000.0, reference_slaney_mel, None)
    bin_hz = 16000 / 1024
    peak_hz = fb.argmax(axis=0) * bin_hz
    np.testing.assert_allclose(peak_hz, edges[1:-1], atol=bin_hz / 2 + 1e-9)
    assert (np.diff(peak_hz) >= 0).all()


def test_slaney_norm_gives_unit_area_in_hz():
    fb = mel_filterbank(sample_rate=16000, n_fft=4096, n_mels=20, mel_scale="slaney", norm="slaney")
    area = fb.sum(axis=0) * (16000 / 4096)
    np.testing.assert_allclose(area, 1.0, rtol=0.02)


def test_empty_bands_warn():
    with pytest.warns(
        UserWarning, match=r"mel bands are empty .*n_mels=128 is too large for n_fft=128"
    ):
        mel_filterbank(sample_rate=16000, n_fft=128, n_mels=128)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"f_max": 9000.0},
            r"f_max=9000.0 Hz is above the Nyquist frequency 8000.0 Hz; use f_max=8000.0",
        ),
        ({"f_min": 500.0, "f_max": 400.0}, r"need 0 <= f_min < f_max"),
        ({"mel_scale": "bark"}, r"mel_scale must be 'htk' or 'slaney', got 'bark'"),
        ({"norm": "area"}, r"norm must be None or 'slaney'"),
        ({"n_mels": 0}, r"n_mels must be a positive integer such as 80"),
    ],
)
def test_filterbank_errors(kwargs, message):
    args = {"sample_rate": 16000, "n_fft": 512, "n_mels": 40} | kwargs
    with pytest.raises(AudioError, match=message):
        mel_filterbank(**args)
