"""Unit conversions against closed forms, for numpy, floats and torch."""

import math

import numpy as np
import pytest
import torch

from dlwa.audio import (
    amplitude_to_db,
    db_to_amplitude,
    db_to_power,
    exp_sigmoid,
    hz_to_midi,
    midi_to_hz,
    power_to_db,
    safe_log,
)


def test_midi_hz_known_values():
    assert midi_to_hz(69.0) == pytest.approx(440.0)
    assert midi_to_hz(60.0) == pytest.approx(261.6256, abs=1e-4)
    assert midi_to_hz(81.0) == pytest.approx(880.0)
    assert hz_to_midi(440.0) == pytest.approx(69.0)
    assert hz_to_midi(220.0) == pytest.approx(57.0)
    assert isinstance(hz_to_midi(440.0), float)


def test_midi_hz_round_trip_numpy_and_torch():
    pitch = np.linspace(0.0, 127.0, 50)
    np.testing.assert_allclose(hz_to_midi(midi_to_hz(pitch)), pitch, atol=1e-9)
    pitch_t = torch.linspace(20.0, 110.0, 50, dtype=torch.float64)
    torch.testing.assert_close(hz_to_midi(midi_to_hz(pitch_t)), pitch_t)


def test_unvoiced_hz_maps_to_midi_zero():
    np.testing.assert_array_equal(hz_to_midi(np.array([0.0, -5.0])), [0.0, 0.0])
    torch.testing.assert_close(hz_to_midi(torch.tensor([0.0, 440.0])), torch.tensor([0.0, 69.0]))


def test_db_amplitude_power():
    assert db_to_amplitude(-20.0) == pytest.approx(0.1)
    assert db_to_power(-20.0) == pytest.approx(0.01)
    assert amplitude_to_db(0.5) == pytest.approx(-6.0206, abs=1e-4)
    assert power_to_db(0.5) == pytest.approx(-3.0103, abs=1e-4)
    assert amplitude_to_db(0.0) == pytest.approx(-200.0)
    assert power_to_db(np.array([0.0]))[0] == pytest.approx(-200.0)
    amps = torch.tensor([1e-3, 1.0, 10.0])
    torch.testing.assert_close(db_to_amplitude(amplitude_to_db(amps)), amps)


def test_exp_sigmoid_matches_ddsp_formula_and_bounds():
    x = np.linspace(-10, 10, 11)
    expected = 2.0 / (1 + np.exp(-x)) ** math.log(10.0) + 1e-7
    np.testing.assert_allclose(exp_sigmoid(x), expected, rtol=1e-6)
    xt = torch.tensor(x, requires_grad=True)
    yt = exp_sigmoid(xt)
    np.testing.assert_allclose(yt.detach().numpy(), expected, rtol=1e-6)
    yt.sum().backward()
    assert (xt.grad > 0).all()
    assert exp_sigmoid(0.0) == pytest.approx(2.0 * 0.5 ** math.log(10.0) + 1e-7)
    assert exp_sigmoid(1000.0) == pytest.approx(2.0 + 1e-7)
    assert exp_sigmoid(-1000.0) == pytest.approx(1e-7)


def test_safe_log():
    assert safe_log(0.0) == pytest.approx(math.log(1e-5))
    np.testing.assert_allclose(safe_log(np.array([1.0, math.e])), [0.0, 1.0])
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    y = safe_log(x)
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
