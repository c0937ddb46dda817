"""The ``dlwa`` command line: help, model registration, errors as one line."""

from __future__ import annotations

import subprocess
import sys
import types

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
