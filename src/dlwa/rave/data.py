"""Training audio for RAVE: the user's folder, resampled, held in memory as random crops.

acids-rave trains from an LMDB database that ``rave preprocess`` fills through ffmpeg. dlwa
reads the folder directly instead (soundfile and soxr, as every dlwa model does) and feeds
RAVE's own augmentations, so that a folder trains without a preprocessing step or ffmpeg.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlwa.audio.io import load_audio
from dlwa.data.examples import few_files, split_files
from dlwa.data.folders import DataError, scan_audio_folder

VALIDATION_FRACTION = 0.1


@dataclass
class AudioSet:
    """Mono recordings at the model's rate, split for training and validation."""

    train: list[np.ndarray]
    validation: list[np.ndarray]
    sample_rate: int
    summary: str

    @property
    def train_seconds(self) -> float:
        return sum(len(a) for a in self.train) / self.sample_rate


def load_audio_set(folder: str | os.PathLike[str], *, sample_rate: int, n_signal: int,
                   validation_fraction: float = VALIDATION_FRACTION) -> AudioSet:
    """Read every sound file of ``folder`` at ``sample_rate``.

    Fewer than ten files are split in time (the last tenth of each validates); more are
    split by file name, as the other dlwa models do.

    Raises:
        DataError: no usable audio, or too little for one ``n_signal`` crop.
    """
    scan = scan_audio_folder(folder, min_duration_s=0.0)
    paths = scan.paths
    audio = {path: load_audio(path, sample_rate=sample_rate)[0] for path in paths}
    if few_files(len(paths), validation_fraction):
        train, validation = [], []
        for clip in audio.values():
            cut = int(len(clip) * (1 - validation_fraction))
            train.append(clip[:cut])
            validation.append(clip[cut:])
    else:
        splits = split_files(paths, validation_fraction=validation_fraction, root=folder)
        train = [audio[p] for p in splits["train"]]
        validation = [audio[p] for p in splits["validation"]]
    train = [a for a in train if len(a) >= n_signal]
    validation = [a for a in validation if len(a) >= n_signal]
    if not train:
        raise DataError(f"{folder}: no file has {n_signal / sample_rate:.2f} s of training "
                        f"audio (one crop of --n-signal {n_signal} at {sample_rate} Hz)")
    if not validation:  # too short to hold out: validate on the training audio
        validation = train[:1]
    return AudioSet(train, validation, sample_rate, scan.summary())


class RandomCrops:
    """``length`` random crops of ``n_signal`` samples, drawn in proportion to file length,
    each passed through ``augment`` (RAVE's phase mangle and dequantisation)."""

    def __init__(self, clips: list[np.ndarray], n_signal: int, length: int, *,
                 augment: Callable[[np.ndarray], np.ndarray] | None = None,
                 seed: int = 0) -> None:
        self.clips, self.n_signal, self.length, self.augment = clips, n_signal, length, augment
        sizes = np.array([len(c) - n_signal + 1 for c in clips], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, index, int.from_bytes(os.urandom(4), "little")])
        clip = self.clips[rng.choice(len(self.clips), p=self.weights)]
        start = int(rng.integers(0, len(clip) - self.n_signal + 1))
        crop = clip[start:start + self.n_signal].astype(np.float32)
        if self.augment is not None:
            crop = self.augment(crop)
        return crop[None].astype(np.float32)  # [channels = 1, n_signal]


class FixedCrops:
    """Consecutive crops of the validation audio (the same every validation)."""

    def __init__(self, clips: list[np.ndarray], n_signal: int, limit: int = 64) -> None:
        self.crops = [c[i:i + n_signal] for c in clips
                      for i in range(0, len(c) - n_signal + 1, n_signal)][:limit]

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.crops[index][None].astype(np.float32)


def folder_name(folder: str | os.PathLike[str]) -> str:
    return Path(folder).resolve().name
