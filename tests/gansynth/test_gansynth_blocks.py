"""GANSynth grown to fewer blocks (``grown_blocks``, ``--blocks``): it plays, trains and
fine-tunes at that block, its image upscaled to the full spectrogram."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dlwa import cli
from dlwa.checkpoints import CheckpointError
from dlwa.gansynth.ganspace import layer_names
from dlwa.gansynth.model import GANSynth, GANSynthConfig, generate, load_model, upscale
from dlwa.gansynth.train import LOG_FILE, STATE_FILE, DataOptions, Schedule, TrainConfig, train

GROWN = GANSynthConfig.small(grown_blocks=2)  # of 3 resolutions


def run(folder: Path, out: Path, **settings: object) -> Path:
    config = settings.pop("model_config", GROWN)
    options = {k: settings.pop(k) for k in ("init_from", "grown_blocks") if k in settings}
    cfg = TrainConfig(progress_bar=False, **settings)  # type: ignore[arg-type]
    return train(folder, out, model_config=config, train_config=cfg,  # type: ignore[arg-type]
                 data=DataOptions(chop="none"), log=lambda _: None, **options)  # type: ignore[arg-type]


def test_a_grown_model_plays_its_top_block_upscaled_to_the_full_spectrogram() -> None:
    torch.manual_seed(0)
    model = GANSynth(GROWN).eval()
    z = torch.randn(2, GROWN.latent_vector_size)
    assert model.generator_stage() == (2, 1.0)
    with torch.no_grad():
        audio = generate(model, z, [60, 64])
        image = model.generator(z, model.one_hot([60, 64]), num_blocks=2, progress=1.0,
                                full_resolution=False)
    assert image.shape[2:] == (4, 8)  # block 2's resolution, half the final (8, 16)
    expected = GROWN.transform().specgram_to_audio(model.normalizer.denormalize(upscale(image, 2)))
    assert audio.shape == (2, GROWN.audio_length)
    torch.testing.assert_close(audio, expected)
    # The same as the full model stopped at that stage, the way a Magenta run plays it then.
    full = GANSynth(GROWN.__class__(**{**GROWN.to_dict(), "grown_blocks": 0})).eval()
    full.load_state_dict(model.state_dict())
    full.progress = 1.0
    with torch.no_grad():
        torch.testing.assert_close(generate(full, z, [60, 64]), audio)
    assert layer_names(GROWN) == ["block1.conv0", "block1.conv1", "block2.conv0",
                                  "block2.conv1"]


@pytest.mark.usefixtures("small_preset")
def test_grown_blocks_is_checked_and_old_configs_play_every_block(
        notes_folder: Path, tmp_path: Path) -> None:
    saved = GROWN.to_dict()
    assert GANSynthConfig.from_dict(saved).blocks == 2
    del saved["grown_blocks"]
    assert GANSynthConfig.from_dict(saved).blocks == 3  # saved before the field: all blocks
    with pytest.raises(CheckpointError, match="grown_blocks"):
        GANSynthConfig.from_dict({**saved, "grown_blocks": 4})
    with pytest.raises(ValueError, match="grown_blocks must be at most num_resolutions"):
        run(notes_folder, tmp_path / "m", model_config=None, grown_blocks=4)
    with pytest.raises(ValueError, match="grown_blocks must be an integer from 0 to 10"):
        run(notes_folder, tmp_path / "m", model_config=None, grown_blocks=-1)
    assert not (tmp_path / "m").exists()


def test_training_grows_to_the_grown_block_and_leaves_the_rest_alone(
        notes_folder: Path, tmp_path: Path) -> None:
    out = run(notes_folder, tmp_path / "m", images=48, batch_size=4, seed=4)
    lines = [json.loads(x) for x in (out / LOG_FILE).read_text().splitlines()]
    assert max(line["num_blocks"] for line in lines) == 2
    assert {line["phase"] for line in lines} >= {"stable 2/2"}
    model, checkpoint = load_model(out)
    assert model.config.grown_blocks == 2 and checkpoint.training["complete"] is True
    torch.manual_seed(4)  # the run's initial weights
    initial = GANSynth(GROWN).generator
    for name, value in model.generator.blocks[2].state_dict().items():
        assert torch.equal(value, initial.blocks[2].state_dict()[name]), name
    assert not torch.equal(model.generator.blocks[1].conv1.weight, initial.blocks[1].conv1.weight)
    audio = generate(model, torch.randn(1, GROWN.latent_vector_size), [62])
    assert audio.shape == (1, GROWN.audio_length) and torch.isfinite(audio).all()


def test_fine_tuning_a_full_model_at_a_lower_block(notes_folder: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    base = run(notes_folder, tmp_path / "base", model_config=GANSynthConfig.small(),
               images=24, batch_size=4)
    out = tmp_path / "tuned"
    assert cli.main(["train", "gansynth", str(notes_folder), "--out", str(out), "--chop",
                     "none", "--init-from", str(base), "--blocks", "2", "--images", "8",
                     "--batch-size", "4"]) == 0
    assert "at its top block: generator and discriminator" in capsys.readouterr().out
    model, _ = load_model(out)
    assert model.config == GROWN
    state = torch.load(out / STATE_FILE, weights_only=False)
    assert Schedule(**state["schedule"]).at(0) == (2, 1.0)
    lines = [json.loads(x) for x in (out / LOG_FILE).read_text().splitlines()]
    assert {line["num_blocks"] for line in lines} == {2}
