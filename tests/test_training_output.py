"""Training never overwrites what the user made (issue #13, item 1).

Every ``dlwa train <model>`` refuses an ``--out`` that holds a model or other files unless
``--resume`` is given, checks a resumed run's kind and configuration, writes nothing when
it fails, and says so in one line.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa.checkpoints import PROJECT_CHECKPOINTS
from dlwa.cli import main
from dlwa.training import OutputFolderError, check_output, save_state

SR = 16000


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` with its SHA-256, to compare before and after."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def wav_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four short harmonic tones, enough for a DDSP smoke test."""
    from dlwa.audio.io import save_audio

    folder = tmp_path_factory.mktemp("wavs")
    t = np.arange(int(2.5 * SR)) / SR
    for i, f0 in enumerate((220.0, 262.0, 330.0, 392.0)):
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 5))
        save_audio(folder / f"take{i}.wav", (0.2 * tone).astype(np.float32), sample_rate=SR)
    return folder


@pytest.fixture(scope="module")
def midi_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dlwa.melody_rnn.generate import Note, write_midi

    folder = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for k in range(8):
        pitches = rng.choice([60, 62, 64, 65, 67, 69, 71, 72], 64)
        write_midi([Note(i * 0.25, i * 0.25 + 0.2, int(p), 80) for i, p in enumerate(pitches)],
                   folder / f"tune{k}.mid", qpm=120)
    return folder


def copy_of(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(PROJECT_CHECKPOINTS / name, target)
    return target


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


def ddsp_train(data: Path, out: Path, *extra: str) -> int:
    return main(["train", "ddsp", str(data), "--out", str(out), "--smoke-test", *extra])


def melody_train(data: Path, out: Path, tmp_path: Path, *extra: str) -> int:
    return main(["train", "melody_rnn", str(data), "--out", str(out), "--smoke-test",
                 "--cache-dir", str(tmp_path / "cache"), *extra])


# ----- a trained model is never overwritten


def test_ddsp_training_refuses_a_trained_ddsp_model(wav_folder, tmp_path, capsys):
    model = copy_of("ddsp_violin", tmp_path)
    before = snapshot(model)
    assert ddsp_train(wav_folder, model) == 2
    line = one_error_line(capsys)
    assert "already holds a trained ddsp model" in line and "--resume" in line
    assert snapshot(model) == before


def test_melody_rnn_training_refuses_a_trained_model(midi_folder, tmp_path, capsys):
    model = copy_of("melody_rnn_basic", tmp_path)
    before = snapshot(model)
    assert melody_train(midi_folder, model, tmp_path) == 2
    assert "already holds a trained melody_rnn model" in one_error_line(capsys)
    assert snapshot(model) == before


@pytest.mark.parametrize("resume", [False, True])
def test_ddsp_training_refuses_a_model_of_another_kind(wav_folder, tmp_path, capsys, resume):
    model = copy_of("melody_rnn_basic", tmp_path)  # it has a training state, too
    before = snapshot(model)
    assert ddsp_train(wav_folder, model, *(["--resume"] if resume else [])) == 2
    assert "holds a 'melody_rnn' model, not a ddsp one" in one_error_line(capsys)
    assert snapshot(model) == before


def test_resume_needs_an_unfinished_run(wav_folder, tmp_path, capsys):
    model = copy_of("ddsp_violin", tmp_path)  # finished: no train_state.pt
    before = snapshot(model)
    assert ddsp_train(wav_folder, model, "--resume") == 2
    assert "without the training state (train_state.pt)" in one_error_line(capsys)
    assert snapshot(model) == before
    assert ddsp_train(wav_folder, tmp_path / "nothing", "--resume") == 2
    assert "no run to continue" in one_error_line(capsys)
    assert not (tmp_path / "nothing").exists()


def test_a_folder_of_other_files_is_left_alone(wav_folder, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    assert ddsp_train(wav_folder, folder) == 2
    assert "is not empty (notes.txt)" in one_error_line(capsys)
    assert snapshot(folder) == {"notes.txt": hashlib.sha256(b"my notes").hexdigest()}


def test_out_naming_a_file_is_one_line(wav_folder, midi_folder, tmp_path, capsys):
    existing = tmp_path / "take.wav"
    existing.write_bytes(b"precious")
    assert ddsp_train(wav_folder, existing) == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert melody_train(midi_folder, existing, tmp_path) == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert existing.read_bytes() == b"precious"


# ----- a failing run leaves no trace


def test_failing_run_writes_nothing(tmp_path, capsys):
    empty_data = tmp_path / "data"
    empty_data.mkdir()
    new, empty = tmp_path / "new", tmp_path / "empty"
    empty.mkdir()
    for out in (new, empty):
        assert ddsp_train(empty_data, out) == 2
        assert "Traceback" not in capsys.readouterr().err
    assert not new.exists() and list(empty.iterdir()) == []


# ----- resuming


def test_ddsp_resume_checks_the_configuration(wav_folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert ddsp_train(wav_folder, out) == 0
    capsys.readouterr()
    before = snapshot(out)
    assert ddsp_train(wav_folder, out, "--resume", "--size", "full") == 2
    line = one_error_line(capsys)
    assert "another configuration" in line and "saved 16000, asked 48000" in line
    assert snapshot(out) == before
    assert ddsp_train(wav_folder, out, "--resume", "--steps", "2") == 0
    assert "resuming from step 1" in capsys.readouterr().out


def test_melody_rnn_resume_checks_the_configuration(midi_folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert melody_train(midi_folder, out, tmp_path, "--config", "basic_rnn") == 0
    capsys.readouterr()
    before = snapshot(out)
    assert melody_train(midi_folder, out, tmp_path, "--config", "lookback_rnn", "--resume") == 2
    assert "another configuration" in one_error_line(capsys)
    assert snapshot(out) == before


# ----- state files are replaced atomically


def test_interrupted_state_save_keeps_the_previous_state(tmp_path, monkeypatch):
    path = tmp_path / "train_state.pt"
    save_state({"step": 1}, path)

    def failing_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        save_state({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train_state.pt"]


def test_check_output_writes_nothing(tmp_path):
    with pytest.raises(OutputFolderError):
        check_output(tmp_path / "a" / "b", kind="ddsp", state_file="s.pt", resume=True)
    assert check_output(tmp_path / "a" / "b", kind="ddsp", state_file="s.pt",
                        resume=False) == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []
