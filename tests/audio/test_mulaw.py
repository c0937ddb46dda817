"""Mu-law and linear quantisation: code layout, error bound, numpy/torch agreement."""

import math

import numpy as np
import pytest
import torch

from dlwa.audio import (
    AudioError,
    linear_decode,
    linear_encode,
    mu_law_compress,
    mu_law_decode,
    mu_law_encode,
    mu_law_expand,
)


def test_code_layout():
    x = np.array([-1.0, 0.0, 1.0, 2.0, -3.0], dtype=np.float32)
    codes = mu_law_encode(x)
    assert codes.dtype == np.int64
    assert codes.tolist() == [0, 128, 255, 255, 0]
    assert mu_law_encode(x, n_levels=16).tolist() == [0, 8, 15, 15, 0]


def test_compress_closed_form():
    x = np.array([0.5, -0.25], dtype=np.float32)
    expected = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)
    np.testing.assert_allclose(mu_law_compress(x), expected, rtol=1e-6)
    np.testing.assert_allclose(mu_law_expand(mu_law_compress(x)), x, rtol=1e-5)


def test_round_trip_error_bound():
    x = np.linspace(-1.0, 1.0, 20001, dtype=np.float64)
    error = np.abs(mu_law_decode(mu_law_encode(x)) - x)
    mu = 255
    bound = (np.abs(x) + 1 / mu) * (math.exp(math.log1p(mu) / mu) - 1)
    assert (error <= bound + 1e-6).all()
    assert error[np.abs(x) < 0.01].max() < 1e-3  # fine steps near silence
    assert error.max() < 0.025


def test_codes_are_monotonic_and_use_every_level():
    x = np.linspace(-1.0, 1.0, 100001, dtype=np.float32)
    codes = mu_law_encode(x)
    assert (np.diff(codes) >= 0).all()
    assert set(codes.tolist()) == set(range(256))


def test_numpy_and_torch_agree():
    x = np.random.default_rng(0).uniform(-1, 1, (4, 1000)).astype(np.float32)
    codes = mu_law_encode(x)
    codes_t = mu_law_encode(torch.from_numpy(x))
    assert codes_t.dtype == torch.int64
    np.testing.assert_array_equal(codes_t.numpy(), codes)
    np.testing.assert_allclose(mu_law_decode(codes_t).numpy(), mu_law_decode(codes), atol=1e-7)
    for row in range(4):
        np.testing.assert_array_equal(mu_law_encode(x[row]), codes[row])


def test_linear_round_trip():
    x = np.linspace(-1.0, 1.0, 5001, dtype=np.float32)
    error = np.abs(linear_decode(linear_encode(x)) - x)
    assert error.max() <= 1 / 255 + 1e-6
    assert linear_encode(torch.tensor([-1.0, 1.0])).tolist() == [0, 255]


def test_errors():
    with pytest.raises(
        AudioError, match=r"codes must lie in 0 … 255 for n_levels=256, got values from 0 to 300"
    ):
        mu_law_decode(np.array([0, 300]))
    with pytest.raises(AudioError, match=r"codes must lie in 0 … 15"):
        mu_law_decode(torch.tensor([-1, 3]), n_levels=16)
    with pytest.raises(AudioError, match=r"n_levels must be an integer >= 2 such as 256, got 1"):
        mu_law_encode(np.zeros(4, dtype=np.float32), n_levels=1)
    with pytest.raises(AudioError, match="floating dtype"):
        mu_law_encode(np.zeros(4, dtype=np.int16))
