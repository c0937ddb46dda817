"""The GANSynth importer against models and audio made by Magenta's own GANSynth code.

tests/gansynth/fixtures/ was made by scripts/make_gansynth_fixtures.py in the reference
environment (TensorFlow 2.21 + magenta 2.1.4, shims in scripts/gansynth_reference_env.py):
Magenta's ``lib.model.Model`` built at toy size, every variable (generator, its moving
averages, discriminator, optimiser slots) filled with seeded random values, saved in
Magenta's layout, reloaded with ``Model.load_from_path``, and the audio of
``generate_samples_from_z`` recorded for fixed latents and pitches (``<name>_expected.npz``).

- ``mel``: like ``mel_prog_hires`` (mel IF spectrograms), NSynth's 61 pitches, the
  pre-specified normaliser with non-default constants, 8 kHz.
- ``linear``: like ``prog_hires``, a course-style custom model: ``meta.json`` with five
  pitches, the per-bin normaliser from ``assets/``, a linear ``to_rgb``, 5 × 5 kernels,
  training that ended on its time limit.
- ``partial``: training stopped in stage 3 (block 3 of 4 fading in, progress 1.3), and an
  ``experiment.json`` with only non-default flags (Magenta fills in the rest).

``mel_matrix_1024.npz`` summarises Magenta's mel matrices at the released models' size.

The imported models' audio agrees with Magenta's within 1e-4 (float32 on both sides; about
1e-6 seen for mel, 5e-5 for linear, where TensorFlow's own float32 result is 5e-5 from
the float64 one).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa import checkpoints, cli
from dlwa.gansynth import convert
from dlwa.gansynth.convert import GANSynthImportError, convert_magenta
from dlwa.gansynth.model import MAGENTA_PITCHES, generate, load_model
from dlwa.training import OutputFolderError

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ("mel", "linear", "partial")
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("imported")
    return {name: convert_magenta(FIXTURES / name, root / name) for name in NAMES}


def magenta_audio(name: str) -> dict[str, np.ndarray]:
    return dict(np.load(FIXTURES / f"{name}_expected.npz"))


@pytest.mark.parametrize("name", NAMES)
def test_imported_model_reproduces_magenta_audio(imported, name) -> None:
    model, _ = load_model(imported[name])
    expected = magenta_audio(name)
    audio = generate(model, torch.from_numpy(expected["z"]), expected["pitches"].tolist())
    assert audio.dtype == torch.float32 and audio.shape == expected["audio"].shape
    peak = np.abs(expected["audio"]).max()
    assert 0.05 < peak < 2.0, "the fixture's notes should be neither silent nor huge"
    error = np.abs(audio.numpy() - expected["audio"]).max()
    assert error < TOLERANCE, f"{name}: max abs difference {error:.3g} (peak {peak:.3g})"


def test_config_comes_from_experiment_json(imported) -> None:
    mel = checkpoints.read_config(imported["mel"])
    assert mel["kind"] == "gansynth" and mel["sample_rate"] == 8000
    assert mel["config"] == {
        "latent_vector_size": 20, "pitches": list(MAGENTA_PITCHES), "start_height": 2,
        "start_width": 4, "num_resolutions": 4, "fmap_base": 48, "fmap_decay": 0.9,
        "fmap_max": 14, "kernel_size": 3, "to_rgb_activation": "tanh", "data_type": "mel",
        "data_normalizer": "specgrams_prespecified_normalizer", "sample_rate": 8000,
        "audio_length": 300, "mel_bands": "magenta", "harmonic_map": False,
        "grown_blocks": 0}
    assert mel["training"]["complete"] is True and mel["training"]["progress"] == 3.0
    assert mel["training"]["checkpoint"] == "stage_00006/model.ckpt-1500"
    linear = checkpoints.read_config(imported["linear"])["config"]
    assert linear["pitches"] == [32, 40, 47, 60, 72]  # meta.json's distinct pitches, sorted
    assert (linear["kernel_size"], linear["to_rgb_activation"], linear["data_type"]) == (
        5, "linear", "linear")
    assert (linear["start_height"], linear["start_width"], linear["audio_length"]) == (1, 2, 290)


def test_normaliser_scales(imported) -> None:
    mel, _ = load_model(imported["mel"])
    np.testing.assert_allclose(mel.normalizer.a.flatten().numpy(), [0.3, 0.9], rtol=1e-7)
    np.testing.assert_allclose(mel.normalizer.b.flatten().numpy(), [-0.5, 0.05], rtol=1e-7)
    linear, _ = load_model(imported["linear"])
    with np.load(FIXTURES / "linear" / "assets" / "specgrams_freq_normalizer.npz") as data:
        stats = data["normalizer"]  # [n_freq, (m_a, m_b, p_a, p_b)]
    assert linear.normalizer.a.shape == (2, 32)
    np.testing.assert_allclose(linear.normalizer.a.numpy(), stats[:, [0, 2]].T, rtol=1e-6)
    np.testing.assert_allclose(linear.normalizer.b.numpy(), stats[:, [1, 3]].T, rtol=1e-6)


def test_unfinished_training_keeps_its_progress(imported) -> None:
    meta = checkpoints.read_config(imported["partial"])
    training = meta["training"]
    assert training["stage"] == 3 and training["complete"] is False
    assert training["progress"] == pytest.approx(float(magenta_audio("partial")["progress"]))
    assert training["progress"] == pytest.approx(1.3)
    # Magenta's defaults filled in what experiment.json leaves out.
    assert meta["config"]["kernel_size"] == 3 and meta["config"]["data_type"] == "linear"
    assert meta["config"]["to_rgb_activation"] == "tanh"
    model, _ = load_model(imported["partial"])
    assert model.generator_stage() == (3, pytest.approx(1.3))
    block4 = model.generator.blocks[3]
    assert all(not p.any() for p in block4.parameters()), "a block not grown yet is zero"


def test_mel_matrices_match_magentas_at_the_released_size() -> None:
    # Magenta widens narrow low bands through numpy views, which moves the neighbouring
    # bands' edges too; without that, 853 of the 1024 mel bands of all_instruments differ.
    from dlwa.gansynth.spectral import SpecgramTransform

    l2m, m2l = (m.numpy() for m in SpecgramTransform(mel=True).mel_matrices(torch.float64))
    with np.load(FIXTURES / "mel_matrix_1024.npz") as magenta:
        for name, mine in (("l2m", l2m), ("m2l", m2l)):
            np.testing.assert_allclose(mine.sum(axis=0), magenta[f"{name}_col_sums"],
                                       rtol=1e-9, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(mine.sum(axis=1), magenta[f"{name}_row_sums"],
                                       rtol=1e-9, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(mine[:48, :48], magenta[f"{name}_corner"],
                                       rtol=1e-9, atol=1e-12, err_msg=name)


def test_generator_weights_are_the_moving_averages() -> None:
    opened = convert.open_model(FIXTURES / "mel")
    config = convert.config_from_flags(opened.flags, opened.pitches)
    state = convert.generator_weights(opened.tensors, config, 4, where="mel")
    kernel = opened.tensors["Generator/progressive_gan_generator/progressive_gan_block_2/"
                            "conv1/conv2d/kernel/ExponentialMovingAverage"]
    raw = opened.tensors["Generator/progressive_gan_generator/progressive_gan_block_2/"
                         "conv1/conv2d/kernel"]
    assert not np.allclose(kernel, raw), "the fixture's EMA copies must differ from the weights"
    np.testing.assert_array_equal(state["generator.blocks.1.conv1.weight"],
                                  kernel.transpose(3, 2, 0, 1))
    assert not any(k.startswith("discriminator") for k in state)


def test_magenta_progress_formulas() -> None:
    flags = {**convert.MAGENTA_DEFAULTS, "stable_stage_num_images": 100,
             "transition_stage_num_images": 100, "num_resolutions": 4}
    assert convert.magenta_progress(flags, 3, 330, None) == pytest.approx(1.3)
    assert convert.magenta_progress(flags, 3, 250, None) == 1.0  # stable part of stage 2
    assert convert.magenta_progress(flags, 4, 10**9, None) == 3.0  # capped at the end
    assert convert.magenta_progress({**flags, "train_progressive": False}, 4, 0, None) == 3.0
    timed = {**flags, "train_time_limit": 700.0, "train_time_stage_multiplier": 1.0}
    # Seven stages of 100 s: stage 3 (the second transition) is half done at 350 s.
    assert convert.magenta_progress(timed, 3, 0, 350.0) == pytest.approx(1.5)
    with pytest.raises(GANSynthImportError, match="training time"):
        convert.magenta_progress(timed, 3, 0, None)


def test_cli_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "from_cli"
    assert cli.main(["import", "gansynth", str(FIXTURES / "linear"), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    model, checkpoint = load_model(out)
    assert checkpoint.kind == "gansynth" and model.config.pitches == (32, 40, 47, 60, 72)


# ----- the course's layouts


def copy_fixture(tmp_path: Path, name: str = "linear") -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def stage_dir(model_dir: Path) -> Path:
    return next(model_dir.glob("stage_*"))


def test_absolute_checkpoint_path_and_earlier_stages(tmp_path: Path) -> None:
    model_dir = copy_fixture(tmp_path)
    stage = stage_dir(model_dir)
    # An absolute path, as Magenta's trainer writes it, on this machine ...
    (stage / "checkpoint").write_text(f'model_checkpoint_path: "{stage}/model.ckpt-2100"\n')
    (model_dir / "stage_00002").mkdir()  # earlier stages are ignored
    (model_dir / "stage_00002" / "checkpoint").write_text("garbage")
    first = convert.convert(model_dir)
    # ... or from the machine it was trained on: found by its name in the stage folder.
    (stage / "checkpoint").write_text(
        'model_checkpoint_path: "/scratch/elsewhere/stage_00008/model.ckpt-2100"\n'
        'all_model_checkpoint_paths: "/scratch/elsewhere/stage_00008/model.ckpt-2100"\n')
    second = convert.convert(model_dir)
    for key, value in first.state.items():
        np.testing.assert_array_equal(value, second.state[key])


def test_the_checkpoint_file_picks_the_checkpoint(tmp_path: Path) -> None:
    model_dir = copy_fixture(tmp_path)
    stage = stage_dir(model_dir)
    for path in stage.glob("model.ckpt-2100.*"):
        path.rename(stage / path.name.replace("2100", "7"))
    (stage / "model.ckpt-9999.index").write_bytes(b"not a checkpoint")
    (stage / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n')
    assert convert.latest_checkpoint(stage) == stage / "model.ckpt-7"
    (stage / "checkpoint").unlink()  # without it, the highest number
    assert convert.latest_checkpoint(stage) == stage / "model.ckpt-9999"


def test_train_meta_path_is_used_when_meta_json_is_not_in_the_folder(tmp_path: Path) -> None:
    model_dir = copy_fixture(tmp_path)
    moved = tmp_path / "dataset_meta.json"
    (model_dir / "meta.json").rename(moved)
    experiment = json.loads((model_dir / "experiment.json").read_text())
    (model_dir / "experiment.json").write_text(json.dumps({**experiment,
                                                           "train_meta_path": str(moved)}))
    assert convert.convert(model_dir).config.pitches == (32, 40, 47, 60, 72)
    moved.unlink()
    with pytest.raises(GANSynthImportError, match="train_meta_path .* is missing"):
        convert.convert(model_dir)


# ----- bad inputs: one clear error, nothing written


def fails(source: Path, out: Path, match: str, error: type[Exception] = GANSynthImportError
          ) -> str:
    def snapshot() -> dict[str, bytes] | None:
        if not out.exists():
            return None
        return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    before = snapshot()
    with pytest.raises(error, match=match) as info:
        convert_magenta(source, out)
    assert snapshot() == before, "nothing may be written"
    assert not list(out.parent.glob(f".{out.name}*")), "no temporary folder is left"
    return str(info.value)


def test_missing_experiment_json(tmp_path: Path) -> None:
    model_dir = copy_fixture(tmp_path)
    (model_dir / "experiment.json").unlink()
    message = fails(model_dir, tmp_path / "out", "experiment.json is missing")
    assert "\n" not in message and "stage_00008" in message  # says what the folder holds


def test_no_stage_folder(tmp_path: Path) -> None:
    model_dir = copy_fixture(tmp_path)
    shutil.rmtree(stage_dir(model_dir))
    fails(model_dir, tmp_path / "out", "no stage_\\* folder")


def test_not_a_folder(tmp_path: Path) -> None:
    fails(tmp_path / "nowhere", tmp_path / "out", "is not a folder")


def test_missing_checkpoint_named_in_checkpoint_file(tmp_path: Path) -> None:
    model_dir = copy_fixture(tmp_path)
    (stage_dir(model_dir) / "model.ckpt-2100.index").unlink()
    fails(model_dir, tmp_path / "out", "names model.ckpt-2100, but .* is missing")


def with_tensors(monkeypatch: pytest.MonkeyPatch, change) -> None:
    read = convert.tf_checkpoint.read_tensor_bundle

    def patched(prefix):
        tensors = dict(read(prefix))
        change(tensors)
        return tensors

    monkeypatch.setattr(convert.tf_checkpoint, "read_tensor_bundle", patched)


EMA = "Generator/progressive_gan_generator/progressive_gan_block_{}/{}/ExponentialMovingAverage"


def test_missing_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = EMA.format(2, "conv0/bias")
    with_tensors(monkeypatch, lambda t: t.pop(name))
    message = fails(FIXTURES / "mel", tmp_path / "out", "does not match")
    assert message.splitlines()[1].strip() == f"{name} is missing"


def test_wrong_shapes_one_line_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel, bias = EMA.format(3, "conv1/conv2d/kernel"), EMA.format(1, "to_rgb/bias")

    def change(t: dict[str, np.ndarray]) -> None:
        t[kernel] = np.zeros((3, 3, 7, 5), np.float32)
        t[bias] = np.zeros(3, np.float32)

    with_tensors(monkeypatch, change)
    lines = fails(FIXTURES / "mel", tmp_path / "out", "does not match").splitlines()
    assert [line.strip() for line in lines[1:]] == [
        f"{bias} has shape [3], experiment.json implies [2]",
        f"{kernel} has shape [3, 3, 7, 5], experiment.json implies [3, 3, 7, 7]"]


def test_wrong_pitch_set_is_explained(tmp_path: Path) -> None:
    model_dir = copy_fixture(tmp_path)
    (model_dir / "meta.json").unlink()  # the model then looks like an NSynth (61-pitch) one
    message = fails(model_dir, tmp_path / "out", "5 pitch classes, not 61")
    assert "meta.json" in message


def test_raw_weights_without_moving_averages_are_refused(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    with_tensors(monkeypatch, lambda t: [t.pop(k) for k in list(t)
                                          if k.endswith(convert.EMA_SUFFIX)])
    fails(FIXTURES / "mel", tmp_path / "out", "ExponentialMovingAverage is missing")


def test_missing_normaliser_file(tmp_path: Path) -> None:
    model_dir = copy_fixture(tmp_path)
    shutil.rmtree(model_dir / "assets")
    fails(model_dir, tmp_path / "out", "specgrams_freq_normalizer.npz is missing")


@pytest.mark.parametrize(("flag", "value", "match"), [
    ("data_type", "phase", "data_type 'phase' is not supported"),
    ("simple_arch", True, "simple_arch = True is not supported"),
    ("scale_mode", "H", "scale_mode = 'H' is not supported"),
    ("dataset_name", "nsynth_qualities_tfrecord", "conditions the generator"),
    ("latent_vector_size", 0, "latent_vector_size"),
    ("mag_normalizer_a", 0, "mag_normalizer_a must be a non-zero number, got 0"),
])
def test_unsupported_flags(tmp_path: Path, flag: str, value: object, match: str) -> None:
    model_dir = copy_fixture(tmp_path, "mel")
    experiment = json.loads((model_dir / "experiment.json").read_text())
    (model_dir / "experiment.json").write_text(json.dumps({**experiment, flag: value}))
    assert "\n" not in fails(model_dir, tmp_path / "out", match)


def test_non_empty_out_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    fails(FIXTURES / "mel", out, "not empty", OutputFolderError)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_an_existing_model_is_never_overwritten(imported) -> None:
    message = fails(FIXTURES / "linear", imported["mel"], "already holds a model",
                    OutputFolderError)
    assert "--resume" not in message


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["import", "gansynth", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code != 0 and not (tmp_path / "out").exists()
    err = capsys.readouterr().err.strip()
    assert "experiment.json is missing" in err and len(err.splitlines()) == 1
