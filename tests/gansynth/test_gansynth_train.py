"""GANSynth training: schedule, one step's losses, a smoke-test run, resume and the CLI."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa import cli
from dlwa.gansynth.model import GANSynth, GANSynthConfig, generate, load_model
from dlwa.gansynth.train import (
    LOG_FILE,
    PREVIEW_DIR,
    STATE_FILE,
    DataOptions,
    Schedule,
    TrainConfig,
    blend_real,
    cpu_phase_weights,
    ema_decays,
    preset,
    train,
    training_step,
    warm_up_classifier,
)
from dlwa.training import OutputFolderError

SR = 16000
PITCHES = (60, 62, 64)


def quiet() -> TrainConfig:
    return TrainConfig(progress_bar=False)


def run(folder: Path, out: Path, **settings: object) -> Path:
    config = settings.pop("model_config", GANSynthConfig.small())
    resume = bool(settings.pop("resume", False))
    cfg = TrainConfig(progress_bar=False, **settings)  # type: ignore[arg-type]
    return train(folder, out, model_config=config, train_config=cfg,  # type: ignore[arg-type]
                 data=DataOptions(chop="none"), resume=resume, log=lambda _: None)


# -- schedule ------------------------------------------------------------------------------


def test_schedule_phases_and_alpha_at_chosen_image_counts() -> None:
    schedule = Schedule(num_resolutions=3, stable_images=100, transition_images=50,
                        total_images=500)
    assert schedule.final_start == 300
    assert schedule.at(0) == (1, 0.0)
    assert schedule.at(99) == (1, 0.0)
    assert schedule.at(100) == (2, 0.0)  # transition to 2 blocks starts at progress 0
    assert schedule.at(125) == (2, 0.5)
    assert schedule.at(149) == (2, pytest.approx(49 / 50))
    assert schedule.at(150) == (2, 1.0)  # stable at 2 blocks
    assert schedule.at(275) == (3, 1.5)
    assert schedule.at(300) == (3, 2.0)
    assert schedule.at(10_000) == (3, 2.0)
    assert schedule.phase(125) == "transition 2/3"
    assert schedule.phase(160) == "stable 2/3"


def test_schedule_sized_from_a_budget() -> None:
    schedule = Schedule.sized(7, 14_000, 8)
    assert schedule.stable_images == schedule.transition_images == 1000
    assert schedule.total_images == 14_000
    assert schedule.total_images - schedule.final_start == 2000  # the last phase is double
    tiny = Schedule.sized(3, 3, 8)  # every phase gets at least a batch
    assert tiny.stable_images == 8 and tiny.total_images == 5 * 8
    flat = Schedule(3, 10, 10, 100)
    assert flat.work(100, lambda blocks: 1.0) == 100.0
    assert flat.work(30, lambda blocks: float(blocks)) == 10 * 1 + 10 * 2 + 10 * 2


def test_weighted_schedule_skips_empty_phases_and_sizes_the_others() -> None:
    # 3 resolutions: S1 T2 S2 T3 S3 with weights 0 0 2 1 1 over 80 images of batch 4.
    schedule = Schedule.weighted(3, 80, 4, [0, 0, 2, 1, 1])
    assert schedule.phase_lengths == (0, 0, 40, 20, 20)
    assert schedule.total_images == 80 and schedule.final_start == 60
    assert schedule.at(0) == (2, 1.0)  # starts stable at two blocks
    assert schedule.at(39) == (2, 1.0)
    assert schedule.at(50) == (3, 1.5)
    assert schedule.at(60) == (3, 2.0) == schedule.at(10_000)
    assert [schedule.block_start(b) for b in (1, 2, 3)] == [0, 0, 40]
    assert schedule.work(80, float) == 40 * 2 + 20 * 3 + 20 * 3
    # A phase with a weight gets at least a batch; the last runs to the total.
    tiny = Schedule.weighted(3, 8, 4, [0, 0, 100, 1, 1])
    assert tiny.phase_lengths[3:] == (4, 4)
    with pytest.raises(ValueError, match="phase weights"):
        Schedule.weighted(3, 80, 4, [1, 1, 1])
    with pytest.raises(ValueError, match="phase weights"):
        Schedule.weighted(3, 80, 4, [1, 1, 1, 1, 0])
    # The uniform schedule reports the same lengths it always had.
    assert Schedule(3, 100, 50, 500).phase_lengths == (100, 50, 100, 50, 200)


def test_cpu_schedule_starts_at_16_by_128_and_spends_most_there() -> None:
    weights = cpu_phase_weights(7)
    schedule = Schedule.weighted(7, 100_000, 8, weights)
    assert schedule.at(0) == (4, 3.0)
    config = preset("small")
    assert (config.start_height * 8, config.start_width * 8) == (16, 128)
    assert schedule.phase_lengths[6] > 0.8 * schedule.total_images
    assert schedule.at(schedule.total_images) == (7, 6.0)
    assert all(n > 0 for n in schedule.phase_lengths[6:])
    # Smaller models start at their top block.
    assert Schedule.weighted(3, 100, 4, cpu_phase_weights(3)).at(0) == (3, 2.0)


def test_classifier_warm_up_teaches_the_discriminator_real_pitches() -> None:
    torch.manual_seed(0)
    config = GANSynthConfig.small()
    model = GANSynth(config)
    # Three "pitches" the classifier can tell apart: a bright row in a different place.
    images = torch.full((30, 2, *config.final_resolution), -0.5)
    labels = torch.arange(30) % 3
    for i, label in enumerate(labels):
        images[i, 0, :, 2 * int(label) + 2] = 0.8
    generator_before = copy.deepcopy(model.generator.state_dict())
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=8e-4, betas=(0.0, 0.99))
    rng = np.random.default_rng(0)
    first = warm_up_classifier(model, opt_d, images, labels, steps=1, batch_size=6,
                               num_blocks=3, progress=2.0, rng=rng, log=lambda _: None)
    lines: list[str] = []
    last = warm_up_classifier(model, opt_d, images, labels, steps=200, batch_size=6,
                              num_blocks=3, progress=2.0, rng=rng, log=lines.append)
    assert first > 0.9 and last < 0.5  # chance is ln 3 = 1.1
    assert len(lines) == 2 and lines[-1].startswith("pitch classifier warm-up 200/200")
    for name, value in model.generator.state_dict().items():  # the generator is untouched
        assert torch.equal(value, generator_before[name])


def test_blend_real_fades_the_new_resolution_in() -> None:
    images = torch.arange(16.0).reshape(1, 1, 4, 4)
    coarse = torch.nn.functional.avg_pool2d(images, 2).repeat_interleave(2, 2) \
        .repeat_interleave(2, 3)
    assert torch.equal(blend_real(images, 2, 1.0), images)
    assert torch.allclose(blend_real(images, 2, 0.0), coarse)
    assert torch.allclose(blend_real(images, 2, 0.25), 0.75 * coarse + 0.25 * images)


# -- one step --------------------------------------------------------------------------------


@pytest.mark.parametrize(("num_blocks", "progress"), [(1, 0.0), (2, 0.5), (3, 2.0)])
def test_training_step_losses_are_finite_and_weights_move(num_blocks: int,
                                                          progress: float) -> None:
    torch.manual_seed(0)
    config = GANSynthConfig.small()
    model = GANSynth(config)
    ema = GANSynth(config).generator.requires_grad_(False)
    ema.load_state_dict(model.generator.state_dict())
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=8e-4, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=8e-4, betas=(0.0, 0.99))
    real = torch.rand(4, 2, *config.final_resolution) * 2 - 1
    labels = torch.tensor([0, 1, 2, 0])
    before_g = model.generator.blocks[0].conv0.weight.clone()
    before_d = model.discriminator.blocks[0].conv1.weight.clone()
    before_ema = ema.blocks[0].conv0.weight.clone()
    losses = training_step(model, ema, opt_g, opt_d, real, labels, labels.flip(0),
                           num_blocks=num_blocks, progress=progress, cfg=quiet())
    assert set(losses) >= {"d_loss", "g_loss", "gradient_penalty", "real_ac", "fake_ac"}
    assert all(math.isfinite(v) for v in losses.values())
    assert losses["gradient_penalty"] >= 0 and losses["real_ac"] > 0
    assert not torch.equal(before_g, model.generator.blocks[0].conv0.weight)
    assert not torch.equal(before_d, model.discriminator.blocks[0].conv1.weight)
    # The moving average moves 0.1 % of the way towards the trained weights.
    step = model.generator.blocks[0].conv0.weight - before_ema
    assert torch.allclose(ema.blocks[0].conv0.weight - before_ema, 0.001 * step, atol=1e-6)


def test_each_blocks_average_warms_up_from_its_own_start() -> None:
    schedule = Schedule(num_resolutions=3, stable_images=80, transition_images=80,
                        total_images=480)
    assert [schedule.block_start(b) for b in (1, 2, 3)] == [0, 80, 240]
    # After 320 images of batch 8: block 1 trained 40 steps, block 2 30, block 3 10.
    decays = ema_decays(schedule, 320, 8, 0.999)
    assert decays == pytest.approx([41 / 50, 31 / 40, 11 / 20])
    assert ema_decays(schedule, 10**7, 8, 0.999) == [0.999] * 3
    assert ema_decays(schedule, 0, 8, 0.999)[2] == pytest.approx(0.1)


def test_training_step_averages_each_block_with_its_own_decay() -> None:
    torch.manual_seed(0)
    config = GANSynthConfig.small()
    model = GANSynth(config)
    ema = GANSynth(config).generator.requires_grad_(False)
    ema.load_state_dict(model.generator.state_dict())
    before = [b.conv0.weight.clone() for b in ema.blocks]
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=8e-4, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=8e-4, betas=(0.0, 0.99))
    real = torch.rand(4, 2, *config.final_resolution) * 2 - 1
    labels = torch.tensor([0, 1, 2, 0])
    training_step(model, ema, opt_g, opt_d, real, labels, labels, num_blocks=3, progress=1.5,
                  cfg=quiet(), block_decays=[1.0, 0.5, 0.0])
    trained = [b.conv0.weight for b in model.generator.blocks]
    assert torch.equal(ema.blocks[0].conv0.weight, before[0])
    assert torch.allclose(ema.blocks[1].conv0.weight, (before[1] + trained[1]) / 2, atol=1e-6)
    assert torch.allclose(ema.blocks[2].conv0.weight, trained[2])


# -- whole runs ------------------------------------------------------------------------------


def test_smoke_test_writes_a_loadable_generator(notes_folder: Path, tmp_path: Path) -> None:
    out = run(notes_folder, tmp_path / "model", smoke_test=True)
    model, checkpoint = load_model(out)
    assert checkpoint.kind == "gansynth"
    assert model.discriminator is None  # generator-only checkpoint
    assert set(checkpoint.config["pitches"]) == set(PITCHES)
    assert checkpoint.training["complete"] is True
    audio = generate(model, torch.randn(2, model.config.latent_vector_size), [60, 64])
    assert audio.shape == (2, GANSynthConfig.small().audio_length)
    assert torch.isfinite(audio).all()
    # The normaliser was fitted on the data (not Magenta's pre-specified numbers).
    assert checkpoint.config["data_normalizer"] == "specgrams_prespecified_normalizer" or \
        model.normalizer.a[0, 0] != pytest.approx(0.0661371661726)
    lines = [json.loads(x) for x in (out / LOG_FILE).read_text().splitlines()]
    assert lines and all(math.isfinite(line["d_loss"]) for line in lines)
    previews = sorted((out / PREVIEW_DIR).glob("*.wav"))
    assert {p.stem.split("_")[1] for p in previews} == {str(p) for p in PITCHES}


def test_preset_takes_the_pitches_of_the_data(notes_folder: Path, tmp_path: Path) -> None:
    small = preset("small")
    config = GANSynthConfig.small(data_normalizer="specgrams_simple_normalizer",
                                  pitches=tuple(range(24, 85)))
    assert small.audio_length == 64000 and small.final_resolution == (128, 1024)
    with pytest.raises(ValueError, match="unknown GANSynth config"):
        preset("huge")
    out = run(notes_folder, tmp_path / "m", model_config=config, smoke_test=True)
    # A given config keeps its own pitches, even where the data has none.
    assert load_model(out)[0].config.pitches == tuple(range(24, 85))


def test_resume_continues_from_the_saved_step_and_refuses_another_config(
        notes_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    run(notes_folder, out, images=40, batch_size=4, save_every=8, minutes=0.0)
    state = torch.load(out / STATE_FILE, weights_only=False)
    assert state["images"] == 4 and state["step"] == 1  # the time limit stops after a step
    assert load_model(out)[1].training["complete"] is False

    with pytest.raises(OutputFolderError, match="another configuration"):
        run(notes_folder, out, resume=True,
            model_config=GANSynthConfig.small(latent_vector_size=8))
    with pytest.raises(OutputFolderError, match="already holds a trained gansynth model"):
        run(notes_folder, out)

    run(notes_folder, out, resume=True)
    state = torch.load(out / STATE_FILE, weights_only=False)
    assert state["images"] == 40 and state["step"] == 10
    checkpoint = load_model(out)[1]
    assert checkpoint.training["complete"] is True and checkpoint.training["steps"] == 10
    steps = [json.loads(x)["step"] for x in (out / LOG_FILE).read_text().splitlines()]
    assert steps == sorted(steps) and steps[0] > 1 and steps[-1] == 10  # continued, not redone


@pytest.mark.usefixtures("small_preset")
def test_cli_trains_and_refuses_an_existing_model_folder(
        notes_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model"
    args = ["train", "gansynth", str(notes_folder), "--out", str(out), "--chop", "none"]
    assert cli.main([*args, "--smoke-test"]) == 0
    assert load_model(out)[0].config.pitches == PITCHES
    capsys.readouterr()
    assert cli.main([*args, "--smoke-test"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already holds a trained gansynth model" in err
    assert cli.main(["train", "gansynth", str(notes_folder), "--out", str(tmp_path / "x"),
                     "--batch-size", "1"]) == 2


def test_training_devices_are_the_shared_ones(notes_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose one of"):
        run(notes_folder, tmp_path / "gpu", smoke_test=True, device="gpu")
    assert not (tmp_path / "gpu").exists()  # refused before anything is written
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            run(notes_folder, tmp_path / "cuda", smoke_test=True, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_step_on_cuda_matches_the_cpu(notes_folder: Path, tmp_path: Path) -> None:
    runs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        train(notes_folder, out, model_config=GANSynthConfig.small(pitches=PITCHES),
              train_config=TrainConfig(smoke_test=True, device=device, progress_bar=False),
              log=lambda _: None)
        runs[device] = load_model(out)[0].generator.state_dict()
    for key, value in runs["cpu"].items():
        assert torch.allclose(value, runs["cuda"][key], atol=1e-3), key


@pytest.mark.usefixtures("small_preset")
def test_cli_schedule_and_classifier_warmup_reach_the_run(
        notes_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model"
    assert cli.main(["train", "gansynth", str(notes_folder), "--out", str(out), "--chop",
                     "none", "--schedule", "cpu", "--classifier-warmup", "3", "--images",
                     "40", "--batch-size", "4"]) == 0
    printed = capsys.readouterr().out
    assert "pitch classifier warm-up 3/3" in printed
    state = torch.load(out / STATE_FILE, weights_only=False)
    schedule = Schedule(**state["schedule"])
    assert schedule.at(0) == (3, 2.0)  # the cpu schedule: the small config's top block at once
    lines = [json.loads(x) for x in (out / LOG_FILE).read_text().splitlines()]
    assert lines[0]["num_blocks"] == 3


def test_the_cli_offers_the_choices_the_library_takes() -> None:
    """``dlwa.gansynth.cli`` copies the choices so that ``--help`` needs no torch."""
    from dlwa.gansynth import cli as gansynth_cli
    from dlwa.gansynth import data, model, train

    assert gansynth_cli.PRESETS == train.PRESETS
    assert gansynth_cli.SCHEDULES == train.SCHEDULES
    assert gansynth_cli.PITCH_SAMPLINGS == train.PITCH_SAMPLINGS
    assert gansynth_cli.PRECISIONS == model.PRECISIONS
    assert gansynth_cli.CHOPS == data.CHOPS
