"""Training runs without a single UserWarning (issue #16, item 6).

``float(loss)`` on a loss that requires grad warns in torch ("Converting a tensor with
requires_grad=True to a scalar"); both training loops return ``float(loss.detach())``.
Each smoke-test training runs in a fresh interpreter with ``-W error::UserWarning``, so
any UserWarning, that one included, fails the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SR = 16000
pytestmark = pytest.mark.slow


def run_strict(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error::UserWarning"}
    return subprocess.run([sys.executable, "-W", "error::UserWarning", "-m", "dlwa", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_ddsp_training_warns_nothing(tmp_path: Path) -> None:
    from dlwa.audio.io import save_audio

    t = np.arange(int(2.5 * SR)) / SR
    (tmp_path / "wavs").mkdir()
    for i, f0 in enumerate((220.0, 262.0, 330.0, 392.0)):
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 5))
        save_audio(tmp_path / "wavs" / f"take{i}.wav", (0.2 * tone).astype(np.float32),
                   sample_rate=SR)
    done = run_strict("train", "ddsp", "wavs", "--out", "model", "--smoke-test", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    assert (tmp_path / "model" / "weights.safetensors").exists()


def test_melody_rnn_training_warns_nothing(tmp_path: Path) -> None:
    from dlwa.melody_rnn.generate import Note, write_midi

    rng = np.random.default_rng(0)
    (tmp_path / "midi").mkdir()
    for k in range(8):
        pitches = rng.choice([60, 62, 64, 65, 67, 69, 71, 72], 64)
        write_midi([Note(i * 0.25, i * 0.25 + 0.2, int(p), 80) for i, p in enumerate(pitches)],
                   tmp_path / "midi" / f"tune{k}.mid", qpm=120)
    done = run_strict("train", "melody_rnn", "midi", "--out", "model", "--smoke-test",
                      "--cache-dir", "cache", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    assert (tmp_path / "model" / "weights.safetensors").exists()


def test_the_warning_is_an_error_here(tmp_path: Path) -> None:
    # The check is live: the same interpreter flags turn torch's warning into a failure.
    code = ("import torch; w = torch.ones(1, requires_grad=True); float((w * 2).sum())")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0 and "requires_grad" in done.stderr
