"""``dlwa bench gansynth``'s multiply-add count, checked against the convolutions the
generator really runs."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from dlwa.benchmarks.gansynth import generator_multiply_adds
from dlwa.gansynth import model as gansynth_model
from dlwa.gansynth.model import GANSynthConfig, Generator, upscale


def counted_multiply_adds(generator: Generator, monkeypatch: pytest.MonkeyPatch) -> float:
    """Multiply-adds of every ``conv2d`` one note's generation calls."""
    total = 0.0
    conv2d = F.conv2d

    def counting(x: torch.Tensor, weight: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        nonlocal total
        out = conv2d(x, weight, *args, **kwargs)
        total += out.numel() * weight[0].numel()
        return out

    monkeypatch.setattr(gansynth_model.F, "conv2d", counting)
    config = generator.config
    with torch.no_grad():
        generator(torch.randn(1, config.latent_vector_size), torch.eye(config.n_pitches)[:1])
    monkeypatch.undo()
    return total


@pytest.mark.parametrize("overrides", [{}, {"harmonic_map": True, "grown_blocks": 2}])
def test_the_count_is_what_the_generator_runs(monkeypatch: pytest.MonkeyPatch,
                                              overrides: dict) -> None:
    torch.manual_seed(0)
    config = GANSynthConfig.small(**overrides)
    plain, ours = generator_multiply_adds(config)
    generator = Generator(config).eval()
    assert counted_multiply_adds(generator, monkeypatch) == pytest.approx(ours)
    # Magenta's way: each block's first convolution over the upscaled image.
    monkeypatch.setattr(gansynth_model.EqualizedConv2d, "after_upscale",
                        lambda conv, x: conv(upscale(x, 2)))
    assert counted_multiply_adds(generator, monkeypatch) == pytest.approx(plain)
    assert ours < plain
