"""Delay compensation of the FFT convolutions against numpy's direct convolution.

DDSP crops ``delay_compensation`` samples into the full convolution; filtered noise uses
DDSP's automatic compensation for its linear-phase filters, ``(ir_size - 1) // 2 - 1``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwa.ddsp import core


def direct(audio: np.ndarray, ir: np.ndarray, delay: int) -> np.ndarray:
    full = np.convolve(audio, ir)
    return full[delay:delay + len(audio)]


@pytest.mark.parametrize("delay", [0, 3, 17])
def test_fixed_response_is_cropped_at_the_delay(delay: int) -> None:
    rng = np.random.default_rng(0)
    audio, ir = rng.standard_normal(200), rng.standard_normal(33)
    out = core.fft_convolve(torch.from_numpy(audio)[None], torch.from_numpy(ir)[None],
                            delay_compensation=delay)
    np.testing.assert_allclose(out[0].numpy(), direct(audio, ir, delay), atol=1e-9)


@pytest.mark.parametrize("delay", [0, 5])
def test_per_frame_responses_are_cropped_at_the_delay(delay: int) -> None:
    rng = np.random.default_rng(1)
    audio, ir = rng.standard_normal(240), rng.standard_normal(21)
    frames = torch.from_numpy(np.tile(ir, (1, 4, 1)))  # the same response in 4 frames
    out = core.fft_convolve(torch.from_numpy(audio)[None], frames, delay_compensation=delay)
    np.testing.assert_allclose(out[0].numpy(), direct(audio, ir, delay), atol=1e-9)


def test_filtered_noise_compensates_the_linear_phase_delay() -> None:
    rng = np.random.default_rng(2)
    magnitudes = torch.from_numpy(rng.uniform(0.1, 1.0, (1, 1, 17)))
    noise = torch.from_numpy(rng.uniform(-1, 1, (1, 256)))
    out = core.filtered_noise(magnitudes, n_samples=256, noise=noise)
    ir = core.frequency_impulse_response(magnitudes)[0, 0].numpy()
    expected = direct(noise[0].numpy(), ir, (len(ir) - 1) // 2 - 1)
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-9)
