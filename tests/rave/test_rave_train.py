"""``dlwa train rave`` drives acids-rave (the optional extra) on a folder of audio: a few
steps of a tiny model, resumed, logged to TensorBoard and exported for nn~ and [rave~]."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dlwa.rave.compat import RaveNotInstalled, import_rave

try:
    import_rave()
except RaveNotInstalled:
    pytest.skip("the RAVE training stack: bash scripts/install-rave.sh", allow_module_level=True)

pytestmark = pytest.mark.slow

RATE = 16000
TINY = ["--config", "cpu", "--override", "CAPACITY = 4", "--n-signal", "65536",
        "--batch-size", "2", "--val-every", "2", "--threads", "2"]


def dlwa(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "dlwa", *args], capture_output=True,
                            text=True, timeout=600, check=False)
    if check and result.returncode != 0:
        raise AssertionError(result.stdout[-2000:] + result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rave_data")
    rng = np.random.default_rng(0)
    for i, hz in enumerate((110.0, 147.0, 196.0)):
        t = np.arange(6 * RATE) / RATE
        tone = 0.3 * np.sin(2 * np.pi * hz * t) + 0.02 * rng.standard_normal(len(t))
        sf.write(folder / f"take{i}.wav", tone.astype(np.float32), RATE)
    return folder


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rave_run") / "tiny"
    dlwa("train", "rave", str(data), "--out", str(out), *TINY, "--steps", "4",
         "--phase-1-steps", "2", "--no-export")
    return out


def test_a_run_writes_its_config_checkpoint_and_tensorboard_logs(run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert (run / "config.gin").is_file() and (run / "last.ckpt").is_file()
    assert "CAPACITY = 4" in (run / "config.gin").read_text()
    events = EventAccumulator(str(run / "logs"), size_guidance={"scalars": 0, "audio": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"validation", "fullband_spectral_distance", "multiband_spectral_distance",
            "regularization"} <= scalars  # as RAVE names them
    assert events.Tags()["audio"]  # validation audio, as RAVE logs it


def test_resume_continues_and_an_existing_run_is_never_overwritten(run: Path,
                                                                   data: Path) -> None:
    import torch

    before = torch.load(run / "last.ckpt", map_location="cpu", weights_only=False)
    mtimes = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    refused = dlwa("train", "rave", str(data), "--out", str(run), *TINY, "--steps", "6",
                   check=False)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines()[-1].endswith(
        "--resume to continue its training, or --force to replace it")
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == mtimes
    # resumed with the steps already done: nothing left to train, the weights stay
    dlwa("train", "rave", str(data), "--out", str(run), *TINY, "--steps", "4", "--resume")
    same = torch.load(run / "last.ckpt", map_location="cpu", weights_only=False)
    assert same["global_step"] == before["global_step"]
    for name, value in before["state_dict"].items():
        assert torch.equal(value, same["state_dict"][name]), name
    dlwa("train", "rave", str(data), "--out", str(run), *TINY, "--steps", "6", "--resume")
    after = torch.load(run / "last.ckpt", map_location="cpu", weights_only=False)
    assert before["global_step"] < after["global_step"]
    # (Lightning counts the generator's and the discriminator's optimiser steps)
    ts = dlwa("export", "rave", str(run), "--name", "tiny")
    assert "wrote" in ts.stdout
    from dlwa.rave.model import NNModel

    model = NNModel(run / "tiny.ts")
    assert set(model.methods) == {"encode", "decode", "forward"}
    assert model.sample_rate == RATE
    y = model.call("forward", np.zeros((1, 2048), np.float32))
    assert y.shape == (1, 2048) and np.isfinite(y).all()


def test_the_smoke_test_trains_and_exports_a_model_that_streams(data: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "smoke"
    result = dlwa("train", "rave", str(data), "--out", str(out), "--smoke-test", "--name", "s")
    assert f"wrote {out / 's.ts'}" in result.stdout
    config = __import__("json").loads((out / "config.json").read_text())
    assert config["kind"] == "rave" and config["training"]["steps"] > 0
    streamed = dlwa("stream", "rave", "--model", str(out), str(data / "take0.wav"),
                    str(tmp_path / "y.wav"))
    assert "wrote" in streamed.stdout
    y, rate = sf.read(tmp_path / "y.wav")
    assert rate == RATE and len(y) == 6 * RATE and np.isfinite(y).all()


def test_bad_data_is_one_line(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.mkdir()
    sf.write(short / "blip.wav", np.zeros(8000, np.float32), RATE)
    result = dlwa("train", "rave", str(short), "--out", str(tmp_path / "o"), *TINY,
                  check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"dlwa train: error: {short}: no file has 4.10 s of training audio (one crop of "
        "--n-signal 65536 at 16000 Hz)")
    assert not (tmp_path / "o").exists()


def test_configs_join_presets_and_acids_rave_files() -> None:
    from dlwa.rave.train import RaveTrainConfig, gin_files_and_bindings

    files, bindings = gin_files_and_bindings(RaveTrainConfig(
        config="cpu+causal", overrides=["CAPACITY = 32"], phase_1_steps=10))
    assert [Path(f).name for f in files] == ["v2_small.gin", "causal.gin"]
    # the user's override comes last, so it wins over the preset's capacity
    assert bindings == ["CAPACITY = 16", "SAMPLING_RATE = 16000", "PHASE_1_DURATION = 10",
                        "CAPACITY = 32"]
    with pytest.raises(ValueError, match="unknown RAVE config 'v9': choose one of .*v2_small"):
        gin_files_and_bindings(RaveTrainConfig(config="v9"))
