"""The low-delay stream resampler: aligned output, any piece sizes, exact readiness rule."""

from __future__ import annotations

import numpy as np
import pytest

from dlwa.audio.stream_resample import StreamResampler


def _sine(freq: float, rate: int, n: int) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(n) / rate)


@pytest.mark.parametrize("orig, rate", [(48000, 16000), (16000, 48000), (44100, 16000),
                                        (16000, 44100), (22050, 16000), (16000, 16000)])
def test_a_sine_comes_out_aligned_at_the_new_rate(orig: int, rate: int) -> None:
    resampler = StreamResampler(orig, rate)
    x = _sine(440.0, orig, orig).astype(np.float32)
    rng = np.random.default_rng(0)
    pieces, start = [], 0
    while start < len(x):  # pieces of random sizes, some empty
        size = int(rng.integers(0, 700))
        pieces.append(resampler.push(x[start:start + size]))
        start += size
    y = np.concatenate(pieces)
    assert len(y) == resampler.available(orig) == resampler.n_out
    expected = _sine(440.0, rate, len(y))
    # Output j is the input at time j / rate: no leading delay (past the silent start).
    assert np.abs(y[64:] - expected[64:]).max() < 2e-4


def test_the_delay_is_the_kernel_half_width() -> None:
    resampler = StreamResampler(48000, 16000)
    assert resampler.delay == resampler.half < 48  # under 1 ms at 48 kHz
    out = resampler.push(np.zeros(3 * 100 + resampler.half, dtype=np.float32))
    assert len(out) == 100  # outputs 0…99 (input times 0…297); 100 needs one more sample
    assert len(resampler.push(np.zeros(1, dtype=np.float32))) == 1


def test_frequencies_above_the_new_nyquist_are_removed() -> None:
    resampler = StreamResampler(48000, 16000)
    y = resampler.push(_sine(10000.0, 48000, 48000).astype(np.float32))  # above 8 kHz
    assert np.abs(y[200:]).max() < 1e-3
