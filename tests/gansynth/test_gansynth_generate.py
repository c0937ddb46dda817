"""Spectrogram → audio generation and latent interpolation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlwa.gansynth.model import GANSynth, GANSynthConfig, generate, slerp


def test_generate_makes_audio_of_the_configured_length() -> None:
    torch.manual_seed(0)
    for data_type in ("linear", "mel"):
        model = GANSynth(GANSynthConfig.small(data_type=data_type)).eval()
        z = torch.randn(3, model.config.latent_vector_size)
        audio = generate(model, z, [60, 64, 62])
        assert audio.shape == (3, model.config.audio_length)
        assert torch.isfinite(audio).all()


def test_generate_refuses_unknown_pitch_and_mismatched_counts() -> None:
    model = GANSynth(GANSynthConfig.small()).eval()
    z = torch.randn(2, model.config.latent_vector_size)
    with pytest.raises(ValueError, match="pitch 61 is not one"):
        generate(model, z, [60, 61])
    with pytest.raises(ValueError, match="one pitch per latent"):
        generate(model, z, [60])
    with pytest.raises(ValueError, match=r"z must be \[batch, 16\]"):
        generate(model, torch.randn(2, 5), [60, 62])


def test_slerp_end_points_and_midpoint() -> None:
    torch.manual_seed(1)
    z0, z1 = torch.randn(256), torch.randn(256) * 2
    assert torch.allclose(slerp(z0, z1, 0.0), z0, atol=1e-6)
    assert torch.allclose(slerp(z0, z1, 1.0), z1, atol=1e-6)
    # Magenta's formula, not normalised: compare with it in float64 numpy.
    a, b = z0.double().numpy(), z1.double().numpy()
    omega = np.arccos(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))
    expected = (np.sin(0.3 * omega) * b + np.sin(0.7 * omega) * a) / np.sin(omega)
    assert np.allclose(slerp(z0.double(), z1.double(), 0.3).numpy(), expected)


def test_slerp_batched_and_degenerate() -> None:
    z0 = torch.randn(4, 8)
    z1 = torch.randn(4, 8)
    t = torch.linspace(0, 1, 4)
    out = slerp(z0, z1, t)
    assert out.shape == (4, 8)
    assert torch.allclose(out[0], z0[0], atol=1e-6) and torch.allclose(out[-1], z1[-1], atol=1e-6)
    # Same direction: no division by zero, a straight line.
    same = slerp(z0[0], 2 * z0[0], 0.5)
    assert torch.allclose(same, 1.5 * z0[0], atol=1e-5)
    # Orthogonal unit vectors: the midpoint stays on the unit circle.
    e0, e1 = torch.eye(2, dtype=torch.float64)
    mid = slerp(e0, e1, 0.5)
    assert torch.allclose(mid, torch.tensor([math.sqrt(0.5)] * 2, dtype=torch.float64))
