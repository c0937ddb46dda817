"""Unit tests of dlwa.checkpoints: round trips, strict loading, clear errors, lookup."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dlwa import checkpoints as ck
from dlwa.checkpoints import CheckpointError


@pytest.fixture
def ckpt_root(tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    root.mkdir()
    monkeypatch.setenv(ck.ENV_CHECKPOINTS, str(root))
    return root


def small_state():
    return {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
            "layer.bias": torch.zeros(2)}


def test_round_trip_torch(tmp_path):
    path = ck.save_checkpoint(
        tmp_path / "m", "toy", {"hidden": 3}, small_state(), sample_rate=16000,
        training={"data": "synthetic", "steps": 10},
        extras={"stats.json": {"mean_pitch": 60.5}, "pca.safetensors": {"c": torch.ones(2)},
                "notes.txt": b"hello"},
    )
    meta = json.loads((path / "config.json").read_text())
    assert meta["kind"] == "toy" and meta["format_version"] == ck.FORMAT_VERSION
    loaded = ck.load_checkpoint(path, expected_kind="toy", expected_keys=small_state())
    assert loaded.name == "m" and loaded.sample_rate == 16000
    assert loaded.config == {"hidden": 3} and loaded.training["steps"] == 10
    assert torch.equal(loaded.state_dict["layer.weight"], small_state()["layer.weight"])
    assert loaded.read_extra("stats.json") == {"mean_pitch": 60.5}
    assert torch.equal(loaded.read_extra("pca.safetensors")["c"], torch.ones(2))
    assert loaded.read_extra("notes.txt") == b"hello"
    with pytest.raises(CheckpointError, match="no extra 'x.json'.*notes.txt"):
        loaded.read_extra("x.json")


def test_round_trip_numpy_without_torch_tensors(tmp_path):
    state = {"w": np.linspace(0, 1, 5, dtype=np.float32)}
    path = ck.save_checkpoint(tmp_path / "n", "tone", {}, state)
    loaded = ck.load_checkpoint(path, framework="numpy")
    assert isinstance(loaded.state_dict["w"], np.ndarray)
    np.testing.assert_array_equal(loaded.state_dict["w"], state["w"])


def test_wrong_kind_names_both(tmp_path):
    path = ck.save_checkpoint(tmp_path / "m", "ddsp", {}, small_state())
    with pytest.raises(CheckpointError, match="'ddsp' checkpoint, not 'rave'"):
        ck.load_checkpoint(path, expected_kind="rave")


def test_strict_keys_list_missing_and_unexpected(tmp_path):
    path = ck.save_checkpoint(tmp_path / "m", "toy", {}, small_state())
    with pytest.raises(CheckpointError) as info:
        ck.load_checkpoint(path, expected_keys=["layer.weight", "other.weight"])
    message = str(info.value)
    assert "missing keys: other.weight" in message
    assert "unexpected keys: layer.bias" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"format_version": 1}', "has no 'kind'"),
        ('{"kind": "toy"}', "format_version None"),
        ('{"kind": "toy", "format_version": "1"}', "format_version '1'"),
        ('{"kind": "toy", "format_version": 99}', "newer than this dlwa reads"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path, content, match):
    path = ck.save_checkpoint(tmp_path / "m", "toy", {}, small_state())
    (path / "config.json").write_text(content)
    with pytest.raises(CheckpointError, match=match) as info:
        ck.load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_missing_or_corrupt_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        ck.load_checkpoint(tmp_path / "empty")
    path = ck.save_checkpoint(tmp_path / "m", "toy", {}, small_state())
    (path / "weights.safetensors").write_bytes(b"garbage, not safetensors")
    with pytest.raises(CheckpointError, match="not a valid safetensors file") as info:
        ck.load_checkpoint(path)
    assert "\n" not in str(info.value)
    (path / "weights.safetensors").unlink()
    with pytest.raises(CheckpointError, match="has no weights"):
        ck.load_checkpoint(path)


def test_listed_extra_missing(tmp_path):
    path = ck.save_checkpoint(tmp_path / "m", "toy", {}, small_state(),
                              extras={"stats.json": {}})
    (path / "stats.json").unlink()
    with pytest.raises(CheckpointError, match="missing: stats.json"):
        ck.load_checkpoint(path)


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(CheckpointError, match="kind must be"):
        ck.save_checkpoint(tmp_path / "a", "", {}, small_state())
    with pytest.raises(CheckpointError, match="not JSON-serialisable"):
        ck.save_checkpoint(tmp_path / "b", "toy", {"x": object()}, small_state())
    with pytest.raises(CheckpointError, match="bad extra file name"):
        ck.save_checkpoint(tmp_path / "c", "toy", {}, small_state(), extras={"config.json": {}})
    with pytest.raises(CheckpointError, match="needs bytes"):
        ck.save_checkpoint(tmp_path / "d", "toy", {}, small_state(), extras={"x.bin": 3})


def test_find_by_name_path_and_errors(ckpt_root, tmp_path):
    ck.save_checkpoint(ckpt_root / "violin", "ddsp", {}, small_state())
    ck.save_checkpoint(ckpt_root / "flute", "ddsp", {}, small_state())
    ck.save_checkpoint(ckpt_root / "bach", "melody_rnn", {}, small_state())
    (ckpt_root / "not-a-checkpoint").mkdir()
    patch_dir = tmp_path / "patches"
    ck.save_checkpoint(patch_dir / "models" / "mine", "ddsp", {}, small_state())

    assert ck.list_checkpoints() == ["bach", "flute", "violin"]
    assert ck.list_checkpoints(kind="ddsp") == ["flute", "violin"]
    assert ck.find_checkpoint("violin") == (ckpt_root / "violin").resolve()
    found = ck.find_checkpoint("models/mine", base_dir=patch_dir)
    assert found == (patch_dir / "models" / "mine").resolve()
    found = ck.find_checkpoint("./models/mine", base_dir=patch_dir)
    assert found == (patch_dir / "models" / "mine").resolve()
    with pytest.raises(CheckpointError, match=r"no checkpoint named 'cello'.*flute, violin\)"):
        ck.find_checkpoint("cello", kind="ddsp")
    with pytest.raises(CheckpointError, match="no checkpoint at .*models/none"):
        ck.find_checkpoint("models/none", base_dir=patch_dir)
    with pytest.raises(CheckpointError, match="has no config.json"):
        ck.find_checkpoint("not-a-checkpoint")
    with pytest.raises(CheckpointError, match="empty checkpoint name"):
        ck.find_checkpoint(" ")


def test_name_beside_the_patch(ckpt_root, tmp_path):
    ck.save_checkpoint(tmp_path / "local", "toy", {}, small_state())
    assert ck.find_checkpoint("local", base_dir=tmp_path) == (tmp_path / "local").resolve()


def test_default_folder_is_the_project_checkpoints(monkeypatch):
    monkeypatch.delenv(ck.ENV_CHECKPOINTS, raising=False)
    assert ck.checkpoints_dir() == ck.PROJECT_CHECKPOINTS
    assert ck.PROJECT_CHECKPOINTS.parent.joinpath("pyproject.toml").is_file()
