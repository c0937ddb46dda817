"""A run killed (SIGKILL) while it writes its state resumes from the last complete save
and follows the uninterrupted run's loss curve; an existing model is never overwritten
without --resume or --force."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import numpy as np
import pytest
from training_helpers import (
    dlwa,
    environment,
    event_files,
    midi_folder,
    scalar_curve,
    tone_folder,
    weights,
)

pytestmark = pytest.mark.slow

# Loaded by the child process through PYTHONPATH: the n-th torch.save writes part of its
# file and the process kills itself with SIGKILL (no handler, no cleanup runs).
KILLER = textwrap.dedent("""
    import os, signal
    _n = int(os.environ.get("DLWA_TEST_KILL_AT_SAVE", "0"))
    if _n:
        import torch
        _real, _calls = torch.save, []
        def _save(obj, f, *args, **kwargs):
            _calls.append(1)
            if len(_calls) == _n:
                with open(f, "wb") as half:
                    half.write(b"PK half a training state")
                os.kill(os.getpid(), signal.SIGKILL)
            return _real(obj, f, *args, **kwargs)
        torch.save = _save
""")


def killed_at_save(tmp_path: Path, n: int) -> dict[str, str]:
    hooks = tmp_path / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(KILLER)
    path = os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH", "")]))
    return environment(PYTHONPATH=path, DLWA_TEST_KILL_AT_SAVE=str(n))


@pytest.mark.parametrize("model", ["ddsp", "melody_rnn"])
def test_sigkill_mid_write_then_resume_continues_the_same_curve(tmp_path: Path,
                                                                model: str) -> None:
    if model == "ddsp":
        data = tone_folder(tmp_path / "audio")
        args = ["train", "ddsp", str(data), "--steps", "6", "--batch-size", "2",
                "--save-every", "2", "--device", "cpu"]
        state = "train_state.pt"
    else:
        data = midi_folder(tmp_path / "midi")
        args = ["train", "melody_rnn", str(data), "--layer-sizes", "16", "--steps", "6",
                "--batch-size", "4", "--eval-every", "2", "--device", "cpu",
                "--cache-dir", str(tmp_path / "cache")]
        state = "training_state.pt"
    dlwa(*args, "--out", "whole", cwd=tmp_path)
    killed = dlwa(*args, "--out", "run", cwd=tmp_path, env=killed_at_save(tmp_path, 2),
                  check=False)
    assert killed.returncode == -signal.SIGKILL
    run = tmp_path / "run"
    assert list(run.glob(f".{state}.*.tmp"))  # the half-written state was left behind
    resumed = dlwa(*args, "--out", "run", "--resume", cwd=tmp_path)
    assert "at update 2" in resumed.stdout or "from step 2" in resumed.stdout
    assert not list(run.glob(".*.tmp"))
    whole = scalar_curve(tmp_path / "whole" / "logs", "loss/train")
    after = scalar_curve(event_files(run / "logs")[-1], "loss/train")
    assert sorted(after) == [3, 4, 5, 6]
    for step in after:
        assert after[step] == pytest.approx(whole[step], rel=1e-6), step
    a, b = weights(tmp_path / "whole"), weights(run)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-6, err_msg=name)


def test_existing_model_is_refused_without_resume_or_force(tmp_path: Path) -> None:
    data = midi_folder(tmp_path / "midi", n_files=6)
    args = ["train", "melody_rnn", str(data), "--smoke-test", "--device", "cpu",
            "--cache-dir", str(tmp_path / "cache")]
    dlwa(*args, "--out", "m", cwd=tmp_path)
    before = {p.relative_to(tmp_path): p.stat().st_mtime_ns for p in (tmp_path / "m").rglob("*")}
    again = dlwa(*args, "--out", "m", cwd=tmp_path, check=False)
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "already holds a trained melody_rnn model" in lines[0]
    assert "--resume" in lines[0] and "--force" in lines[0]
    after = {p.relative_to(tmp_path): p.stat().st_mtime_ns for p in (tmp_path / "m").rglob("*")}
    assert after == before
    replaced = dlwa(*args, "--out", "m", "--force", cwd=tmp_path)
    assert "wrote m" in replaced.stdout
    assert len(event_files(tmp_path / "m" / "logs")) == 1  # the old run's logs went with it


def test_force_keeps_the_old_model_when_the_new_data_is_unusable(tmp_path: Path) -> None:
    data = tone_folder(tmp_path / "audio", n_files=2)
    dlwa("train", "ddsp", str(data), "--smoke-test", "--device", "cpu", "--out", "d",
         cwd=tmp_path)
    before = sorted(p.name for p in (tmp_path / "d").iterdir())
    empty = tmp_path / "silence"
    empty.mkdir()
    from dlwa.audio.io import save_audio

    save_audio(empty / "quiet.wav", np.zeros(16000 * 3, np.float32), sample_rate=16000)
    failed = dlwa("train", "ddsp", str(empty), "--smoke-test", "--device", "cpu", "--out", "d",
                  "--force", cwd=tmp_path, check=False)
    assert failed.returncode == 2
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == before
    assert not list(tmp_path.glob(".d.replaced-*"))
    user_folder = tmp_path / "mine"
    user_folder.mkdir()
    (user_folder / "song.wav").write_bytes(b"RIFF")
    refused = dlwa("train", "ddsp", str(data), "--out", "mine", "--force", cwd=tmp_path,
                   check=False)
    assert refused.returncode == 2 and "holds no dlwa model or run" in refused.stderr
    assert (user_folder / "song.wav").read_bytes() == b"RIFF"
