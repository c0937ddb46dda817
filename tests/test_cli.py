"""The ``dlwa`` command line: help, model registration, errors as one line."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from dlwa import cli


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "generate", "transfer", "import", "eval", "bench", "render",
                    "demo", "open", "checkpoints"):
        assert command in out


def test_python_dash_m_runs_the_same_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "dlwa", "--version"], capture_output=True,
                          text=True, check=True)
    assert proc.stdout.startswith("dlwa ")


def test_model_packages_register_sub_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake = types.ModuleType("fake_model_cli")

    def register(verbs: cli.ModelVerbs) -> None:
        parser = verbs.add("train", "fake", lambda args: calls.append(args.data) or 0, "train fake")
        parser.add_argument("data")

    fake.register = register
    monkeypatch.setitem(sys.modules, "fake_model_cli", fake)
    monkeypatch.setattr(cli, "MODEL_CLI_MODULES", ("fake_model_cli",))
    assert cli.main(["train", "fake", "some/folder"]) == 0
    assert calls == ["some/folder"]


def test_registering_an_unknown_verb_names_the_valid_ones() -> None:
    verbs = cli.ModelVerbs({"train": None})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="train"):
        verbs.add("fly", "fake", lambda a: 0, "")


def test_user_errors_print_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "no-such-group"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlwa bench: error: unknown benchmark group")
    assert "\n" not in err


def test_render_of_a_missing_patch_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["render", "missing.pd", "--out", "x.wav"]) == 2
    assert "no such patch" in capsys.readouterr().err


def test_checkpoints_shows_kind_rate_size_data_and_path(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from dlwa import checkpoints

    mine = tmp_path / "mine"
    checkpoints.save_checkpoint(mine / "bell", "tone", {"decay_s": 0.5},
                                {"harmonics": np.ones(3, dtype=np.float32)}, sample_rate=48000,
                                training={"data": "my_bells/", "n_train_examples": 12})
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tmp_path / "empty") + ":" + str(mine))
    assert cli.main(["checkpoints"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (bell,) = [line for line in lines if line.startswith("bell ")]
    for fact in ("tone", "48 kHz", " B", "my_bells/ (12 examples)", str((mine / "bell").resolve())):
        assert fact in bell, bell
    # DLWA_CHECKPOINTS adds folders: the project's checkpoints are still listed after them.
    assert any(line.startswith("ddsp_violin ") for line in lines)
    assert f"{tmp_path / 'empty'}, {mine}, {checkpoints.PROJECT_CHECKPOINTS}" in lines[-1]


def test_dlwa_checkpoints_folders_are_searched_before_the_project(tmp_path, monkeypatch) -> None:
    import numpy as np

    from dlwa import checkpoints

    state = {"harmonics": np.ones(3, dtype=np.float32)}
    checkpoints.save_checkpoint(tmp_path / "a" / "ddsp_violin", "tone", {}, state)
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tmp_path / "a"))
    assert checkpoints.find_checkpoint("ddsp_violin") == (tmp_path / "a" / "ddsp_violin").resolve()
    assert checkpoints.find_checkpoint("ddsp_flute").parent == checkpoints.PROJECT_CHECKPOINTS
    assert checkpoints.checkpoint_dirs() == [tmp_path / "a", checkpoints.PROJECT_CHECKPOINTS]


@pytest.mark.parametrize("display", [None, ":97"])
def test_open_without_a_display_fails_at_once_with_one_line(display: str | None) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if display is not None:
        env["DISPLAY"] = display  # no X server listens there
    # A hang check, not a timing: Pd waiting for a GUI that never starts would block forever.
    proc = subprocess.run([sys.executable, "-m", "dlwa", "open", "pd_patches/tone.pd"],
                          check=False, capture_output=True, text=True, env=env, timeout=5,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.startswith("dlwa open: error: ") and "\n" not in err, err
    assert "display" in err
