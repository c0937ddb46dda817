"""The harmonic map (a generator input) and the harmonic loss (a training option): where a
pitch's harmonics lie on the model's own frequency axis, and what the loss rewards."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from dlwa import cli
from dlwa.audio import harmonic_tone, midi_to_hz
from dlwa.gansynth.model import GANSynth, GANSynthConfig, downscale, harmonic_maps, load_model
from dlwa.gansynth.train import (
    LOG_FILE,
    TrainConfig,
    harmonic_loss,
    harmonic_targets,
    partial_frequency,
    preset,
    training_step,
)

SR = 16000
PITCHES = (48, 60, 72)


def tone(pitch: float, amplitude: float) -> torch.Tensor:
    """A 4-s harmonic tone at a (fractional) MIDI pitch, harmonics up to Nyquist."""
    return torch.from_numpy(harmonic_tone(
        float(midi_to_hz(pitch)), duration_s=4.0, sample_rate=SR, amplitude=amplitude,
        n_harmonics=int(SR / 2 / midi_to_hz(round(pitch))) - 1)).float()


@pytest.fixture(scope="module")
def tones() -> tuple[GANSynth, torch.Tensor, torch.Tensor]:
    """The small preset (Magenta's mel bands, 128 × 1024) and normalised spectrograms of
    harmonic tones at PITCHES, two levels each, with their pitch classes."""
    config = replace(preset("small"), pitches=PITCHES)
    model = GANSynth(config)
    audio = torch.stack([tone(p, a) for a in (0.5, 0.1) for p in PITCHES])
    specgrams = config.transform().audio_to_specgram(audio)
    model.normalizer.fit(specgrams)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    return model, model.normalizer.normalize(specgrams), labels


def test_the_map_marks_the_bins_where_a_tone_puts_its_energy(tones) -> None:
    model, specgrams, labels = tones
    for width in (128, 1024):
        maps = harmonic_maps(model.config, width)
        assert maps.shape == (len(PITCHES), width) and 0.5 < float(maps.max()) <= 1.0
        profile = downscale(specgrams, 1024 // width)[:, 0].mean(1)  # [notes, width]
        for note, label in enumerate(labels.tolist()):
            marked = maps[label] > 0.5
            contrast = profile[note, marked].mean() - profile[note, ~marked].mean()
            for other in {0, 1, 2} - {label}:  # another pitch's bins hold less of it
                wrong = maps[other] > 0.5
                assert contrast > profile[note, wrong].mean() - profile[note, ~wrong].mean()
            assert contrast > 0.1
    # The fundamental of MIDI 60 (261.6 Hz) on the linear axis: at bin f / 8000 · 1024 - 1
    # = 32.5, so the first marked bins are 32 and 33, and the second harmonic's at 66.
    linear = replace(model.config, data_type="linear")
    marked = (harmonic_maps(linear, 1024)[1] > 0.5).nonzero().flatten().tolist()
    assert marked[:3] == [32, 33, 66]


def test_the_loss_prefers_the_asked_for_pitch_and_its_instantaneous_frequency(tones) -> None:
    model, specgrams, labels = tones
    targets = harmonic_targets(model.config, specgrams, labels)
    assert set(targets.maps) == {16, 32, 64, 128, 256, 512, 1024}
    assert targets.if_profiles[128].shape == (3, 128)
    right = F.one_hot(labels, 3).float()
    wrong = F.one_hot((labels + 1) % 3, 3).float()
    for factor in (1, 8):
        images = downscale(specgrams, factor)
        assert harmonic_loss(images, right, targets) < harmonic_loss(images, wrong, targets) - 0.1
    # Instantaneous frequency away from the real notes' costs; magnitude alone keeps the
    # contrast term the same.
    shifted = specgrams.clone()
    shifted[:, 1] += 0.3
    assert harmonic_loss(shifted, right, targets) > harmonic_loss(specgrams, right, targets) + 0.2


def test_the_loss_hears_a_quarter_tone_off(tones) -> None:
    """The magnitude term cannot tell 25 cents (the same bins); the partials' instantaneous
    frequency can, at every resolution."""
    model, specgrams, labels = tones
    targets = harmonic_targets(model.config, specgrams, labels)
    right = F.one_hot(labels[:3], 3).float()
    detuned = torch.stack([tone(p + 0.25, 0.5) for p in PITCHES])
    detuned = model.normalizer.normalize(model.config.transform().audio_to_specgram(detuned))
    for factor in (1, 2, 8):
        in_tune = harmonic_loss(downscale(specgrams[:3], factor), right, targets)
        assert harmonic_loss(downscale(detuned, factor), right, targets) > in_tune + 0.3


def test_partial_frequency_is_that_of_the_loud_frames(tones) -> None:
    _, specgrams, _ = tones
    sounding = specgrams[:3]
    half = sounding.shape[2] // 2
    tail_silent = sounding.clone()
    tail_silent[:, 0, half:] = -1.0  # silence, whose phase is noise
    tail_silent[:, 1, half:] = torch.rand_like(tail_silent[:, 1, half:]) * 2 - 1
    loud = sounding[:, 0].mean(1) > 0  # bins where the tones have their partials
    moved = (partial_frequency(tail_silent) - partial_frequency(sounding)).abs()[loud]
    plain = (tail_silent[:, 1].mean(1) - sounding[:, 1].mean(1)).abs()[loud]
    assert float(moved.mean()) < 0.02
    assert float(plain.mean()) > 0.1
    # The loss moves the partials' frequency, never their loudness.
    images = sounding.clone().requires_grad_(True)
    partial_frequency(images).sum().backward()
    assert float(images.grad[:, 0].abs().max()) == 0.0 < float(images.grad[:, 1].abs().max())


def test_the_generator_reads_the_map_and_does_not_save_it() -> None:
    torch.manual_seed(0)
    config = GANSynthConfig.small(harmonic_map=True)
    model = GANSynth(config)
    block = model.generator.blocks[1]
    assert block.conv1.weight.shape[1] == config.num_filters(2) + 1
    assert not any("harmonics" in key for key in model.state_dict())
    z = torch.randn(2, config.latent_vector_size)
    one_hot = model.one_hot([60, 64])
    before = model.generator(z, one_hot)
    block.harmonics.zero_()  # no harmonics marked: another output
    assert not torch.allclose(before, model.generator(z, one_hot))
    # Saved configs without the field (every model before it) load without the map.
    saved = {k: v for k, v in GANSynthConfig.small().to_dict().items() if k != "harmonic_map"}
    assert GANSynthConfig.from_dict(saved).harmonic_map is False
    assert GANSynthConfig.from_dict(config.to_dict()).harmonic_map is True


def test_a_training_step_with_the_harmonic_loss(tones) -> None:
    model, specgrams, labels = tones
    ema = GANSynth(model.config).generator.requires_grad_(False)
    opts = [torch.optim.Adam(net.parameters(), lr=8e-4, betas=(0.0, 0.99))
            for net in (model.generator, model.discriminator)]
    targets = harmonic_targets(model.config, specgrams, labels)
    cfg = TrainConfig(progress_bar=False, harmonic_loss_weight=10.0)
    losses = training_step(model, ema, *opts, specgrams[:2], labels[:2], labels[:2],
                           num_blocks=1, progress=0.0, cfg=cfg, targets=targets)
    assert np.isfinite(losses["harmonic"]) and losses["harmonic"] != 0.0
    with pytest.raises(ValueError, match="harmonic targets"):
        training_step(model, ema, *opts, specgrams[:2], labels[:2], labels[:2], num_blocks=1,
                      progress=0.0, cfg=cfg)
    plain = training_step(model, ema, *opts, specgrams[:2], labels[:2], labels[:2],
                          num_blocks=1, progress=0.0, cfg=TrainConfig(progress_bar=False))
    assert plain["harmonic"] == 0.0


@pytest.mark.usefixtures("small_preset")
def test_cli_harmonic_map_and_loss_reach_the_model_and_the_log(notes_folder: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert cli.main(["train", "gansynth", str(notes_folder), "--out", str(out), "--chop",
                     "none", "--harmonic-map", "--harmonic-loss", "5", "--images", "16",
                     "--batch-size", "4"]) == 0
    assert load_model(out)[0].config.harmonic_map is True
    lines = [json.loads(x) for x in (out / LOG_FILE).read_text().splitlines()]
    assert all(line["harmonic"] != 0.0 for line in lines)
