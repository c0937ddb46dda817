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
    """Quarter-second harmonic notes of random pitch with short gaps: pitched, monophonic
    audio to train DDSP on."""
    from dlwa.audio.signals import harmonic_tone

    folder.mkdir(parents=True, exist_ok=True)
    note = int(0.25 * SR)
    for i in range(n_files):
        pitches = 60 + np.random.default_rng(i).integers(0, 12, size=int(seconds / 0.25) + 1)
        notes = [harmonic_tone(440.0 * 2 ** ((p - 69) / 12), duration_s=0.22, sample_rate=SR,
                               n_harmonics=5, amplitude=0.3) for p in pitches]
        audio = np.zeros(len(pitches) * note, np.float32)
        for k, tone in enumerate(notes):
            fade = np.minimum(1.0, np.arange(len(tone)) / (0.01 * SR))
            audio[k * note:k * note + len(tone)] = tone * fade
        save_audio(folder / f"take{i}.wav", audio[:int(seconds * SR)], sample_rate=SR)
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
