"""GANSynth networks: growth, blending, layers, pitch handling, Magenta's architecture."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from dlwa.checkpoints import CheckpointError
from dlwa.gansynth.model import (
    EqualizedConv2d,
    EqualizedLinear,
    GANSynth,
    GANSynthConfig,
    magenta_variable_name,
    minibatch_stddev,
    pixel_norm,
    upscale,
)

# Magenta's mel_prog_hires / all_instruments (61 pitches): generator 7,311,246,
# discriminator 6,831,230 (computed layer by layer from networks.py; see test below).
MAGENTA_GENERATOR_PARAMS = 7_311_246
MAGENTA_DISCRIMINATOR_PARAMS = 6_831_230


@pytest.fixture
def model() -> GANSynth:
    torch.manual_seed(0)
    return GANSynth(GANSynthConfig.small())


def inputs(model: GANSynth, batch: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(batch, model.config.latent_vector_size)
    pitches = [model.config.pitches[i % model.config.n_pitches] for i in range(batch)]
    return z, model.one_hot(pitches)


@pytest.mark.parametrize("num_blocks", [1, 2, 3])
def test_shapes_at_every_stage(model: GANSynth, num_blocks: int) -> None:
    z, one_hot = inputs(model)
    scale = 2 ** (num_blocks - 1)
    for progress in {max(0.0, num_blocks - 1.5), float(num_blocks - 1)}:
        full = model.generator(z, one_hot, num_blocks=num_blocks, progress=progress)
        assert full.shape == (4, 2, 8, 16)  # Magenta: always the final resolution
        native = model.generator(z, one_hot, num_blocks=num_blocks, progress=progress,
                                 full_resolution=False)
        assert native.shape == (4, 2, 2 * scale, 4 * scale)
        # The same values: nearest upscaling commutes with the blend.
        assert torch.allclose(upscale(native, 2 ** (3 - num_blocks)), full, atol=1e-6)
        for images in (full, native):
            logits, pitch_logits = model.discriminator(images, num_blocks=num_blocks,
                                                       progress=progress)
            assert logits.shape == (4, 1) and pitch_logits.shape == (4, 3)


def test_generator_alpha_endpoints(model: GANSynth) -> None:
    z, one_hot = inputs(model)
    gen = model.generator
    newer = gen(z, one_hot, num_blocks=3, progress=2.0, full_resolution=False)
    at_0 = gen(z, one_hot, num_blocks=3, progress=1.0, full_resolution=False)
    at_1 = gen(z, one_hot, num_blocks=3, progress=2.0, full_resolution=False)
    half = gen(z, one_hot, num_blocks=3, progress=1.5, full_resolution=False)
    only_2 = gen(z, one_hot, num_blocks=2, progress=1.0, full_resolution=False)
    assert torch.allclose(at_0, upscale(only_2, 2), atol=1e-6)  # alpha 0: lower, upsampled
    assert torch.allclose(at_1, newer, atol=1e-6)  # alpha 1: the new block alone
    assert torch.allclose(half, 0.5 * at_0 + 0.5 * at_1, atol=1e-6)


def test_discriminator_alpha_endpoints(model: GANSynth) -> None:
    images = torch.rand(4, 2, 8, 16) * 2 - 1
    disc = model.discriminator
    # alpha 0 (progress 1): the 4 × 8 input through block 2's from_rgb only, like a
    # two-block discriminator given the downscaled images.
    at_0 = disc(images, num_blocks=3, progress=1.0)[0]
    two_blocks = disc(F.avg_pool2d(images, 2), num_blocks=2, progress=1.0)[0]
    assert torch.allclose(at_0, two_blocks, atol=1e-5)
    # progress 2 vs 1.5 differ: the blend is live.
    assert not torch.allclose(disc(images, num_blocks=3, progress=1.5)[0], at_0)


def test_progress_out_of_range_is_refused(model: GANSynth) -> None:
    z, one_hot = inputs(model)
    with pytest.raises(ValueError, match="progress must be in 0..1"):
        model.generator(z, one_hot, num_blocks=2, progress=1.5)
    with pytest.raises(ValueError, match="num_blocks must be in 1..3"):
        model.generator(z, one_hot, num_blocks=4)
    with pytest.raises(ValueError, match="final resolution"):
        model.discriminator(torch.zeros(2, 2, 3, 3))


def test_pixel_norm_gives_unit_rms_per_pixel() -> None:
    x = torch.randn(3, 10, 4, 5) * 7.0
    rms = pixel_norm(x).pow(2).mean(dim=1).sqrt()
    assert torch.allclose(rms, torch.ones_like(rms), atol=1e-5)
    assert torch.allclose(pixel_norm(3.0 * x), pixel_norm(x), atol=1e-5)  # scale-free


def test_minibatch_stddev_channel() -> None:
    x = torch.randn(5, 3, 2, 4)
    y = minibatch_stddev(x)
    assert y.shape == (5, 4, 2, 4)
    expected = torch.sqrt(x.var(dim=0, unbiased=False) + 1e-6).mean()
    assert torch.allclose(y[:, 3], expected.expand(5, 2, 4))
    assert torch.equal(y[:, :3], x)


def test_equalized_lr_scaling() -> None:
    conv = EqualizedConv2d(8, 4, 3, slope=0.0)
    assert conv.scale == pytest.approx(math.sqrt(2.0 / (3 * 3 * 8)))
    x = torch.randn(2, 8, 5, 5)
    plain = F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1)
    assert torch.allclose(conv(x), plain)
    # Weights stored at unit variance (the scale is applied at run time).
    big = EqualizedConv2d(256, 256, 3, slope=0.0)
    assert float(big.weight.detach().std()) == pytest.approx(1.0, abs=0.02)
    dense = EqualizedLinear(32, 3)
    assert dense.scale == pytest.approx(math.sqrt(1.0 / 32))  # He slope 1: linear output
    rgb = EqualizedConv2d(16, 2, 1, slope=1.0)
    assert rgb.scale == pytest.approx(math.sqrt(1.0 / 16))


def test_pitch_outside_the_set_is_a_value_error(model: GANSynth) -> None:
    assert model.pitch_labels([60, 64, 62]).tolist() == [0, 2, 1]
    assert model.one_hot([62]).tolist() == [[0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match=r"pitch 61 is not one this model was trained on"):
        model.one_hot([60, 61])
    magenta = GANSynth.__new__(GANSynth)  # only the config is needed for the message
    magenta.config = GANSynthConfig()
    with pytest.raises(ValueError, match=r"pitch 90 .*MIDI 24–84"):
        magenta.pitch_labels([90])


def test_magenta_all_instruments_parameter_count() -> None:
    config = GANSynthConfig()
    assert config.final_resolution == (128, 1024)
    assert [config.num_filters(b) for b in range(8)] == [256] * 5 + [128, 64, 32]
    with torch.device("meta"):
        model = GANSynth(config)
    count = lambda module: sum(p.numel() for p in module.parameters())
    assert count(model.generator) == MAGENTA_GENERATOR_PARAMS
    assert count(model.discriminator) == MAGENTA_DISCRIMINATOR_PARAMS
    # Block 1's conv0 sees z (256) + one-hot (61) over a 2 × 16 kernel.
    assert model.generator.blocks[0].conv0.weight.shape == (256, 317, 2, 16)
    assert model.discriminator.blocks[0].conv0.weight.shape == (256, 257, 3, 3)
    assert model.discriminator.classification.weight.shape == (61, 256)


def test_magenta_names_cover_every_parameter() -> None:
    model = GANSynth(GANSynthConfig.small())
    names = {key: magenta_variable_name(key) for key, _ in model.named_parameters()}
    assert len(set(names.values())) == len(names)
    assert names["generator.blocks.2.to_rgb.weight"] == (
        "Generator/progressive_gan_generator/progressive_gan_block_3/to_rgb/conv2d/kernel")
    assert names["discriminator.classification.bias"] == (
        "Discriminator/discriminator_cond/classification_logits/bias")
    with pytest.raises(ValueError, match="normalizer.a"):
        magenta_variable_name("normalizer.a")


def test_config_checks() -> None:
    data = GANSynthConfig.small().to_dict()
    assert GANSynthConfig.from_dict(data) == GANSynthConfig.small()
    with pytest.raises(CheckpointError, match="kernel_size"):
        GANSynthConfig.from_dict({**data, "kernel_size": 4})
    with pytest.raises(CheckpointError, match="audio_length"):
        GANSynthConfig.from_dict({**data, "audio_length": 100000})
    with pytest.raises(CheckpointError, match="data_type"):
        GANSynthConfig.from_dict({**data, "data_type": "wave"})


def test_small_model_trains_a_step_on_cpu(model: GANSynth) -> None:
    # Forward and backward through both networks with the WGAN-GP and pitch terms; the test
    # config is small enough for well under a second per batch (no timing assertion).
    z, one_hot = inputs(model, batch=8)
    labels = one_hot.argmax(dim=1)
    fake = model.generator(z, one_hot)
    real = torch.rand_like(fake) * 2 - 1
    mix = torch.rand(8, 1, 1, 1)
    between = (mix * real + (1 - mix) * fake.detach()).requires_grad_(True)
    score, _ = model.discriminator(between)
    grad, = torch.autograd.grad(score.sum(), between, create_graph=True)
    penalty = (grad.flatten(1).norm(dim=1) - 1.0).pow(2).mean()
    fake_score, fake_pitch = model.discriminator(fake)
    real_score, real_pitch = model.discriminator(real)
    loss = (fake_score.mean() - real_score.mean() + 10.0 * penalty
            + F.cross_entropy(real_pitch, labels) + F.cross_entropy(fake_pitch, labels))
    loss.backward()
    unused = {name for name, p in model.named_parameters() if p.grad is None}
    # With all blocks in and progress at its end, only the top block's to_rgb and from_rgb
    # carry weight (alpha 0 elsewhere), as in Magenta where those get zero gradients.
    assert unused == {f"{net}.blocks.{i}.{layer}.{leaf}"
                      for net, layer in (("generator", "to_rgb"), ("discriminator", "from_rgb"))
                      for i in (0, 1) for leaf in ("weight", "bias")}
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_conv_after_upscale_equals_conv_of_the_upscaled_image(kernel_size: int) -> None:
    """The generator's shortcut (four small kernels on the small image) is the same conv."""
    from dlwa.gansynth.model import EqualizedConv2d, upscale

    torch.manual_seed(kernel_size)
    conv = EqualizedConv2d(6, 5, kernel_size, slope=0.0)
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(2, 6, 3, 5, requires_grad=True)
    expected = conv(upscale(x, 2))
    got = conv.after_upscale(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)
    grads = torch.autograd.grad(got.square().sum(), [x, conv.weight])
    expected_grads = torch.autograd.grad(expected.square().sum(), [x, conv.weight])
    for a, b in zip(grads, expected_grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
