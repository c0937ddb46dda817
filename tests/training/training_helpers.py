"""Shared by the training tests: small real data, torchrun, TensorBoard event files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from dlwa.audio.io import save_audio

SR = 16000
SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def tone_folder(folder: Path, n_files: int = 3, seconds: float = 2.5) -> Path:
    """Harmonic notes with short gaps: pitched, monophonic audio to train DDSP on."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        rng = np.random.default_rng(i)
        t = np.arange(int(seconds * SR)) / SR
        pitches = 60 + rng.integers(0, 12, size=int(np.ceil(seconds / 0.25)))
        f0 = 440.0 * 2 ** ((pitches[(t // 0.25).astype(int)] - 69) / 12)
        phase = 2 * np.pi * np.cumsum(f0) / SR
        tone = sum(np.sin(k * phase) / k for k in range(1, 6))
        envelope = np.minimum(1.0, (t % 0.25) / 0.01) * ((t % 0.25) < 0.22)
        save_audio(folder / f"take{i}.wav", (0.3 * tone * envelope).astype(np.float32),
                   sample_rate=SR)
    return folder


def midi_folder(folder: Path, n_files: int = 12) -> Path:
    """Tunes of 8th notes on a C major scale, of different lengths."""
    from dlwa.melody_rnn.generate import Note, write_midi

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(n_files):
        pitches = rng.choice(SCALE, 32 + 8 * k)
        notes = [Note(i * 0.25, i * 0.25 + 0.2, int(p), 80) for i, p in enumerate(pitches)]
        write_midi(notes, folder / f"tune{k:02d}.mid", qpm=120)
    return folder


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def dlwa(*args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
         ) -> subprocess.CompletedProcess:
    """``dlwa <args>`` in a new process."""
    done = subprocess.run([sys.executable, "-m", "dlwa", *args], cwd=cwd, env=env or environment(),
                          capture_output=True, text=True, timeout=600, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"dlwa {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def torchrun(*args: str, cwd: Path, n: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node n <args>`` (a free port each time)."""
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={n}", *args], cwd=cwd, env=environment(),
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise AssertionError(f"torchrun {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(folder / "weights.safetensors")


def events(path: Path):
    """An EventAccumulator over one event file (or a folder of them), fully loaded."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0,
                                                              "audio": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def scalar_curve(path: Path, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in events(path).Scalars(tag)}


def event_files(logdir: Path) -> list[Path]:
    """Event files, oldest first."""
    return sorted(logdir.glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime_ns)
