"""GANSynth fine-tuning (``--init-from``): a trained model as the starting point of a new run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa import cli
from dlwa.checkpoints import CheckpointError
from dlwa.gansynth.data import DataError
from dlwa.gansynth.model import GANSynth, GANSynthConfig, load_model
from dlwa.gansynth.train import (
    LOG_FILE,
    STATE_FILE,
    DataOptions,
    Schedule,
    TrainConfig,
    draw_fake_labels,
    starting_point,
    train,
)

FITTED = GANSynthConfig.small(data_normalizer="specgrams_simple_normalizer")  # fit on the data


def run(folder: Path, out: Path, *, init_from: Path | str | None = None,
        log: list[str] | None = None, **settings: object) -> Path:
    config = settings.pop("model_config", None if init_from else GANSynthConfig.small())
    cfg = TrainConfig(progress_bar=False, **settings)  # type: ignore[arg-type]
    lines = log if log is not None else []
    return train(folder, out, model_config=config, train_config=cfg,  # type: ignore[arg-type]
                 data=DataOptions(chop="none"), init_from=init_from, log=lines.append)


@pytest.fixture(scope="module")
def base_run(notes_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished small run: checkpoint, train_state.pt (with its discriminator)."""
    out = tmp_path_factory.mktemp("base") / "run"
    return run(notes_folder, out, images=40, batch_size=4, seed=3, model_config=FITTED)


@pytest.fixture(scope="module")
def new_sounds(tmp_path_factory: pytest.TempPathFactory, tones: Callable[..., Path]) -> Path:
    """The user's own sounds: pure sines of the base run's pitches (other statistics)."""
    return tones(tmp_path_factory.mktemp("sines"), "sine", seconds=0.002, n_harmonics=1,
                 amplitude=0.9)


def distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return float(sum((a[k].float() - b[k].float()).pow(2).sum() for k in a) ** 0.5)


def test_a_run_folder_gives_generator_discriminator_and_normaliser(base_run: Path) -> None:
    start = starting_point(base_run)
    state = torch.load(base_run / STATE_FILE, weights_only=False)
    model = GANSynth(start.config)
    start.load_into(model)
    for key, value in state["model"].items():  # raw generator, discriminator, normaliser
        assert torch.equal(model.state_dict()[key], value), key
    saved, _ = load_model(base_run)
    for key, value in saved.generator.state_dict().items():  # the average, for the new EMA
        assert torch.equal(start.ema[key], value), key
    assert "generator and discriminator" in start.describe()


def test_a_bare_checkpoint_gives_its_averaged_generator_and_a_new_discriminator(
        base_run: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(base_run, bare, ignore=shutil.ignore_patterns(STATE_FILE))
    start = starting_point(bare)
    assert start.model is None and "a new discriminator" in start.describe()
    model = GANSynth(start.config)
    fresh_disc = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    start.load_into(model)
    saved, _ = load_model(base_run)
    for key, value in saved.generator.state_dict().items():
        assert torch.equal(model.generator.state_dict()[key], value), key
    assert torch.equal(model.normalizer.a, saved.normalizer.a)
    assert distance(model.discriminator.state_dict(), fresh_disc) == 0.0


def test_fine_tuning_continues_the_model_at_full_resolution(
        new_sounds: Path, base_run: Path, tmp_path: Path) -> None:
    log: list[str] = []
    out = run(new_sounds, tmp_path / "tuned", init_from=base_run, images=16, batch_size=4,
              seed=5, log=log)
    base, _ = load_model(base_run)
    tuned, checkpoint = load_model(out)
    assert tuned.config == base.config  # the model's own config and pitches
    assert checkpoint.training["init_from"] == str(base_run)
    assert any("fine-tuning" in line and "discriminator" in line for line in log)
    # The normaliser is the model's, not refitted on the new data (which would move it).
    refitted = run(new_sounds, tmp_path / "new", images=8, batch_size=4, model_config=FITTED)
    assert not torch.equal(load_model(refitted)[0].normalizer.a, base.normalizer.a)
    assert torch.equal(tuned.normalizer.a, base.normalizer.a)
    assert torch.equal(tuned.normalizer.b, base.normalizer.b)
    # Every step trains all blocks at full progress: nothing grows again.
    top = base.config.num_resolutions
    state = torch.load(out / STATE_FILE, weights_only=False)
    assert Schedule(**state["schedule"]).at(0) == (top, top - 1.0)
    lines = [json.loads(x) for x in (out / LOG_FILE).read_text().splitlines()]
    assert lines and {line["num_blocks"] for line in lines} == {top}
    # It moved, but from the starting model: far closer to it than a new model is.
    before = base.generator.state_dict()
    after = tuned.generator.state_dict()
    torch.manual_seed(5)
    fresh = GANSynth(base.config).generator.state_dict()
    assert 0.0 < distance(after, before) < 0.2 * distance(fresh, before)


def test_fine_tuning_is_refused_with_one_line_for_what_cannot_work(
        notes_folder: Path, base_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="leave out --resume and --config"):
        run(notes_folder, tmp_path / "a", init_from=base_run,
            model_config=GANSynthConfig.small())
    with pytest.raises(CheckpointError):
        run(notes_folder, tmp_path / "b", init_from=tmp_path / "nowhere")
    growing = tmp_path / "growing"
    run(notes_folder, growing, images=40, batch_size=4, minutes=0.0)  # stops after a step
    with pytest.raises(CheckpointError, match="still growing.*--resume it instead"):
        run(notes_folder, tmp_path / "c", init_from=growing)
    # Notes of a pitch the model does not have: a data error, before any training.
    two_pitches = tmp_path / "two_pitches"
    two_pitches.mkdir()
    for note in notes_folder.glob("*.wav"):  # the 64s as 62s: nine notes of 60 and 62
        shutil.copy(note, two_pitches / note.name.replace("_64.", "b_62."))
    narrow = tmp_path / "narrow"
    run(two_pitches, narrow, images=8, batch_size=4,
        model_config=GANSynthConfig.small(pitches=(60, 62)))
    with pytest.raises(DataError, match="64"):
        run(notes_folder, tmp_path / "d", init_from=narrow)
    for name in "abcd":
        assert not (tmp_path / name).exists()  # nothing left behind


def test_a_run_stopped_at_its_top_block_can_be_fine_tuned(
        notes_folder: Path, tmp_path: Path) -> None:
    # e.g. stopped by --max-minutes after it had grown: it plays its top block already
    stopped = run(notes_folder, tmp_path / "stopped", images=400, batch_size=4, minutes=0.0,
                  model_config=GANSynthConfig.small(grown_blocks=1))
    assert load_model(stopped)[1].training["complete"] is False
    tuned = run(notes_folder, tmp_path / "tuned", init_from=stopped, images=8, batch_size=4)
    assert load_model(tuned)[0].config.grown_blocks == 1


def test_cli_init_from(notes_folder: Path, base_run: Path, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tuned"
    args = ["train", "gansynth", str(notes_folder), "--chop", "none", "--images", "8",
            "--batch-size", "4"]
    assert cli.main([*args, "--out", str(out), "--init-from", str(base_run)]) == 0
    assert load_model(out)[1].training["init_from"] == str(base_run)
    capsys.readouterr()
    assert cli.main([*args, "--out", str(tmp_path / "x"), "--init-from",
                     str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing" in err
    assert not (tmp_path / "x").exists()


def test_uniform_pitch_sampling_asks_for_rare_pitches_as_often_as_common_ones() -> None:
    labels = torch.tensor([0] * 90 + [2] * 10)  # class 1: no notes in the data
    rng = np.random.default_rng(0)
    data = draw_fake_labels(labels, rng, 4000, "data")
    uniform = draw_fake_labels(labels, rng, 4000, "uniform")
    assert set(data.tolist()) == set(uniform.tolist()) == {0, 2}
    assert (data == 2).float().mean() == pytest.approx(0.1, abs=0.02)
    assert (uniform == 2).float().mean() == pytest.approx(0.5, abs=0.03)
    with pytest.raises(ValueError, match="data, uniform"):
        draw_fake_labels(labels, rng, 4, "even")


def test_cli_learning_rate_and_pitch_sampling_reach_the_run(
        notes_folder: Path, base_run: Path, tmp_path: Path) -> None:
    args = ["train", "gansynth", str(notes_folder), "--chop", "none", "--images", "8",
            "--batch-size", "4", "--init-from", str(base_run), "--pitch-sampling", "uniform"]
    assert cli.main([*args, "--out", str(tmp_path / "still"), "--learning-rate", "0"]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "moved")]) == 0
    state = torch.load(tmp_path / "still" / STATE_FILE, weights_only=False)
    assert state["train"]["pitch_sampling"] == "uniform"
    assert state["train"]["learning_rate"] == 0.0
    base = torch.load(base_run / STATE_FILE, weights_only=False)["model"]
    # A rate of 0 leaves the networks where they started; the default moves them.
    assert distance(state["model"], base) == 0.0
    moved = torch.load(tmp_path / "moved" / STATE_FILE, weights_only=False)["model"]
    assert distance(moved, base) > 0.0
