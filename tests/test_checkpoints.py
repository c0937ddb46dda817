"""Unit tests of dlwa.checkpoints: round trips, strict loading, clear errors, lookup."""

from __future__ import annotations

import json
from dataclasses import dataclass

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
    # DLWA_CHECKPOINTS adds to the project's folder; an empty one keeps listings exact.
    monkeypatch.setattr(ck, "PROJECT_CHECKPOINTS", tmp_path / "project_checkpoints")
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


# ----- atomic saving


def tree_bytes(root):
    """Every file under ``root`` (relative path → bytes): a byte-exact snapshot."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture
def trained(tmp_path):
    """A checkpoint with extras, beside the files a training run and the user keep there."""
    path = ck.save_checkpoint(tmp_path / "models" / "m", "toy", {"hidden": 3}, small_state(),
                              extras={"stats.json": {"a": 1}, "old.bin": b"old extra"})
    (path / "train_log.jsonl").write_text('{"step": 1}\n')
    (path / "features").mkdir()
    (path / "features" / "take1.npz").write_bytes(b"cached features")
    (path / "my notes.txt").write_text("mine")
    return path


def new_state():
    return {"layer.weight": torch.ones(2, 3), "layer.bias": torch.ones(2)}


@pytest.mark.parametrize(("fail_in", "done_first"), [
    ("_write_tensors", True), ("_write_extra", True), ("_carry_over", True),
    ("_exchange", False)])
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_interrupted_save_leaves_the_old_checkpoint_byte_identical(
        trained, monkeypatch, fail_in, done_first, error):
    before = tree_bytes(trained)
    real = getattr(ck, fail_in)

    def fail(*args, **kwargs):
        if done_first:
            real(*args, **kwargs)  # the file is (partly) written, then the disk fills or Ctrl-C
        raise error

    monkeypatch.setattr(ck, fail_in, fail)
    with pytest.raises(type(error)):
        ck.save_checkpoint(trained, "toy", {"hidden": 4}, new_state(),
                           extras={"stats.json": {"a": 2}})
    assert tree_bytes(trained) == before
    assert sorted(p.name for p in trained.parent.iterdir()) == ["m"]  # no temp dir left
    assert ck.load_checkpoint(trained).config == {"hidden": 3}


def test_interrupt_right_after_the_swap_leaves_the_new_checkpoint_whole(trained, monkeypatch):
    real = ck._exchange

    def swap_then_interrupt(a, b):
        if not real(a, b):
            pytest.skip("this file system has no atomic exchange")
        raise KeyboardInterrupt

    monkeypatch.setattr(ck, "_exchange", swap_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(trained, "toy", {"hidden": 4}, new_state())
    assert ck.load_checkpoint(trained).config == {"hidden": 4}
    assert (trained / "my notes.txt").read_text() == "mine"
    assert sorted(p.name for p in trained.parent.iterdir()) == ["m"]


def test_save_swaps_in_the_new_checkpoint_and_keeps_other_files(trained):
    trained.chmod(0o750)
    log_inode = (trained / "train_log.jsonl").stat().st_ino
    ck.save_checkpoint(trained, "toy", {"hidden": 4}, new_state(), extras={"stats.json": {"a": 2}})
    loaded = ck.load_checkpoint(trained)
    assert loaded.config == {"hidden": 4} and loaded.extras == ["stats.json"]
    assert torch.equal(loaded.state_dict["layer.bias"], torch.ones(2))
    assert loaded.read_extra("stats.json") == {"a": 2}
    assert not (trained / "old.bin").exists()  # the old checkpoint's own extra went with it
    assert (trained / "train_log.jsonl").read_text() == '{"step": 1}\n'
    assert (trained / "train_log.jsonl").stat().st_ino == log_inode  # linked, not copied
    assert (trained / "features" / "take1.npz").read_bytes() == b"cached features"
    assert (trained / "my notes.txt").read_text() == "mine"
    assert trained.stat().st_mode & 0o777 == 0o750
    assert sorted(p.name for p in trained.parent.iterdir()) == ["m"]


def test_save_without_an_atomic_exchange_renames_twice(trained, monkeypatch):
    monkeypatch.setattr(ck, "_exchange", lambda a, b: False)
    ck.save_checkpoint(trained, "toy", {"hidden": 5}, new_state())
    assert ck.load_checkpoint(trained).config == {"hidden": 5}
    assert (trained / "my notes.txt").read_text() == "mine"
    assert sorted(p.name for p in trained.parent.iterdir()) == ["m"]


def test_save_through_a_symlink_replaces_the_real_directory(trained, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(trained)
    ck.save_checkpoint(link, "toy", {"hidden": 6}, new_state())
    assert link.is_symlink() and ck.load_checkpoint(trained).config == {"hidden": 6}


def test_staging_dirs_are_not_listed(ckpt_root):
    ck.save_checkpoint(ckpt_root / "violin", "ddsp", {}, small_state())
    ck.save_checkpoint(ckpt_root / ".violin.saving-0123abcd", "ddsp", {}, small_state())
    assert ck.list_checkpoints() == ["violin"]


# ----- schemas and weight checks, on a toy model


@dataclass
class ToyConfig:
    width: int = ck.setting(4, ge=1, le=64)
    gain: float = ck.setting(1.0, gt=0)
    mode: str = ck.setting("a", choices=("a", "b"))
    key: int | None = ck.setting(None, ge=0, le=11)
    sizes: tuple[int, ...] = ck.setting((2, 2), ge=1, max_items=3)
    label: str = "toy"
    added_later: bool = ck.setting(False, required=False)

    def cross_checks(self):
        if self.width < sum(self.sizes):
            yield "width", f">= the sum of sizes ({sum(self.sizes)})", self.width


GOOD = {"width": 8, "gain": 2, "mode": "b", "key": 3, "sizes": [2, 3], "label": "x"}


def test_config_from_dict_converts_and_defaults_optional_fields():
    config = ck.config_from_dict(ToyConfig, GOOD)
    assert config == ToyConfig(width=8, gain=2.0, mode="b", key=3, sizes=(2, 3), label="x")
    assert isinstance(config.gain, float) and config.added_later is False
    assert ck.config_from_dict(ToyConfig, {**GOOD, "key": None}).key is None


@pytest.mark.parametrize(("change", "message"), [
    ({"width": 0}, "f.json: config.width must be an integer from 1 to 64, got 0"),
    ({"width": True}, "config.width must be an integer from 1 to 64, got true"),
    ({"gain": 0}, "config.gain must be a finite number > 0, got 0"),
    ({"gain": float("inf")}, "config.gain must be a finite number > 0, got Infinity"),
    ({"mode": "c"}, 'config.mode must be one of "a", "b", got "c"'),
    ({"key": 12}, "config.key must be an integer from 0 to 11 or null, got 12"),
    ({"sizes": [1, 1, 1, 1]},
     "config.sizes must be a list of 1 to 3 items, each an integer >= 1, got a list of 4 items"),
    ({"sizes": [1, "x"]}, 'config.sizes[1] must be an integer >= 1, got "x"'),
    ({"label": 3}, "config.label must be a string, got 3"),
    ({"label": {"a": [[1]]}}, "config.label must be a string, got an object"),
    ({"width": 4}, "config.width must be >= the sum of sizes (5), got 4"),
    ({"extra": 1, "more": 2}, "unknown key 'config.extra' (and 1 more); the known keys are"),
])
def test_config_from_dict_names_the_field_and_what_it_takes(change, message):
    with pytest.raises(CheckpointError) as info:
        ck.config_from_dict(ToyConfig, {**GOOD, **change}, where="f.json")
    assert message in str(info.value) and "\n" not in str(info.value)
    without = {k: v for k, v in GOOD.items() if k != "mode"}
    with pytest.raises(CheckpointError, match=r"^config\.mode is missing: it must be one of"):
        ck.config_from_dict(ToyConfig, without)
    with pytest.raises(CheckpointError, match="^stats must be a JSON object, got 3$"):
        ck.config_from_dict(ToyConfig, 3, prefix="stats")


@pytest.mark.parametrize(("state", "message"), [
    ({"w": np.zeros((3, 2), np.float32)}, "'w' has shape [3, 2], the model expects [2, 3]"),
    ({"w": np.zeros((2, 3), np.int8)}, "'w' has dtype int8, the model expects float32"),
    ({"w": np.full((2, 3), np.nan, np.float32)}, "'w' holds NaN (6 of 6 values)"),
    ({"w": np.full((2, 3), -np.inf, np.float32)}, "'w' holds infinity (6 of 6 values)"),
    ({"w": np.full((2, 3), 2e6, np.float32)}, "'w' holds values up to 2e+06, beyond the 1e+06"),
    ({"v": np.zeros((2, 3), np.float32)}, "missing keys: w; unexpected keys: v"),
])
def test_check_weights_numpy(state, message):
    expected = {"w": np.zeros((2, 3), np.float32)}
    with pytest.raises(CheckpointError) as info:
        ck.check_weights(state, expected, where="w.safetensors")
    assert str(info.value).startswith("w.safetensors: ") and message in str(info.value)
    ck.check_weights(expected, expected)
    ck.check_weights({"i": np.full(3, 10**9, np.int64)})  # integers: no magnitude limit


def test_load_module_checks_before_it_builds(tmp_path):
    built = []

    def build(config):
        built.append(torch.device("meta") if torch.empty(0).is_meta else "cpu")
        return torch.nn.Linear(config.width, 2)

    ck.save_checkpoint(tmp_path / "m", "toy", {**GOOD, "width": 8},
                       torch.nn.Linear(8, 2).state_dict())
    module, _ = ck.load_module(tmp_path / "m", kind="toy", config_class=ToyConfig,
                               build=build)
    assert module.weight.shape == (2, 8) and not module.weight.is_meta
    assert built == [torch.device("meta"), "cpu"]  # the checks built it on the meta device
    ck.save_checkpoint(tmp_path / "m", "toy", {**GOOD, "width": 64},
                       torch.nn.Linear(8, 2).state_dict())
    with pytest.raises(CheckpointError, match=r"has shape \[2, 8\], the model expects \[2, 64\]"):
        ck.load_module(tmp_path / "m", kind="toy", config_class=ToyConfig, build=build)
