"""Cut audio into fixed-length training examples and split files into train and validation.

Examples are [n_examples, n_samples] float32 windows every ``hop_length`` samples. The
split is decided per file by a hash of its name (its path relative to the data folder),
never by a random draw: a file stays in its split when others are added or removed, so
adding data never leaks validation audio into training. A folder of fewer files than
``1 / validation_fraction`` is split in time instead: each file's last share validates.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from dlwa.audio.io import load_audio
from dlwa.audio.signals import rms_db
from dlwa.audio.validate import check_audio, check_positive_int
from dlwa.data.folders import DataError

Split = Literal["train", "validation"]


@dataclass
class ExampleSet:
    """Examples of one split with where each came from.

    Attributes:
        audio: [n_examples, n_samples] float32.
        source: [n_examples] index into ``files``.
        offset: [n_examples] first sample of each example in its file (at ``sample_rate``).
        files: the files the examples were cut from.
        sample_rate: Hz.
    """

    audio: np.ndarray
    source: np.ndarray
    offset: np.ndarray
    files: list[Path]
    sample_rate: int

    def __len__(self) -> int:
        return int(self.audio.shape[0])


def example_offsets(
    n_total: int, *, n_samples: int, hop_length: int | None = None, pad_last: bool = False
) -> np.ndarray:
    """Start samples of the examples :func:`cut_examples` cuts from ``n_total`` samples.

    Full windows start at ``0, hop_length, …`` while they fit; with ``pad_last`` one more
    window covers the remaining tail (zero-padded), so no sample is lost.
    """
    n_samples = check_positive_int(n_samples, name="n_samples", example=64000)
    hop = n_samples if hop_length is None else hop_length
    hop_length = check_positive_int(hop, name="hop_length", example=n_samples)
    n_full = 0 if n_total < n_samples else 1 + (n_total - n_samples) // hop_length
    offsets = np.arange(n_full, dtype=np.int64) * hop_length
    covered = int(offsets[-1]) + n_samples if n_full else 0
    if pad_last and covered < n_total:
        offsets = np.append(offsets, n_full * hop_length)
    return offsets


def cut_examples(
    audio: np.ndarray, *, n_samples: int, hop_length: int | None = None, pad_last: bool = False
) -> np.ndarray:
    """Cut mono audio into fixed-length examples.

    Args:
        audio: [n_total] float audio.
        n_samples: samples per example.
        hop_length: samples between example starts; ``None`` means ``n_samples`` (no overlap).
        pad_last: zero-pad one last example over the leftover tail instead of dropping it.

    Returns:
        [n_examples, n_samples] float32 (a copy); ``n_examples`` may be 0.
    """
    check_audio(audio, ndim=1)
    offsets = example_offsets(
        len(audio), n_samples=n_samples, hop_length=hop_length, pad_last=pad_last
    )
    padded = np.zeros(int(offsets[-1]) + n_samples if len(offsets) else 0, dtype=np.float32)
    padded[: min(len(audio), len(padded))] = audio[: len(padded)]
    out = np.empty((len(offsets), n_samples), dtype=np.float32)
    for i, start in enumerate(offsets):
        out[i] = padded[start : start + n_samples]
    return out


def drop_silent(
    examples: np.ndarray, *, threshold_db: float = -60.0
) -> tuple[np.ndarray, np.ndarray]:
    """Drop examples whose RMS level is below ``threshold_db`` dBFS.

    Args:
        examples: [n_examples, n_samples].
        threshold_db: level under which an example counts as silence.

    Returns:
        ``(kept, keep)``: kept examples [n_kept, n_samples] and the boolean mask [n_examples].
    """
    if examples.shape[0] == 0:
        return examples, np.zeros(0, dtype=bool)
    keep = np.asarray(rms_db(examples.reshape(examples.shape[0], -1))) >= threshold_db
    return examples[keep], keep


def split_of(name: str, *, validation_fraction: float = 0.1, salt: str = "") -> Split:
    """The split a file belongs to, from the SHA-256 of ``salt + name``.

    The first 8 bytes of the hash, read as a fraction of 2^64, fall below
    ``validation_fraction`` for about that share of names.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise DataError(
            f"validation_fraction must be in [0, 1), got {validation_fraction}; try 0.1"
        )
    score = int.from_bytes(hashlib.sha256((salt + name).encode()).digest()[:8], "big") / 2**64
    return "validation" if score < validation_fraction else "train"


def split_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    validation_fraction: float = 0.1,
    root: str | os.PathLike[str] | None = None,
    salt: str = "",
) -> dict[Split, list[Path]]:
    """Split files into ``"train"`` and ``"validation"`` by :func:`split_of` on their names.

    Names are paths relative to ``root`` (POSIX form) or, without ``root``, file names.
    When at least two files and a positive fraction would leave validation empty, the
    file with the lowest hash score moves there, so small datasets still validate (this
    one choice can change as files are added, until some file hashes into validation).

    Returns:
        ``{"train": [...], "validation": [...]}``, each in the order given.
    """
    names = [_name(Path(p), root) for p in paths]
    splits: dict[Split, list[Path]] = {"train": [], "validation": []}
    for path, name in zip(paths, names, strict=True):
        splits[split_of(name, validation_fraction=validation_fraction, salt=salt)].append(
            Path(path)
        )
    if validation_fraction > 0 and len(paths) >= 2 and not splits["validation"]:
        scores = [hashlib.sha256((salt + n).encode()).digest()[:8] for n in names]
        chosen = Path(paths[int(np.argmin([int.from_bytes(s, "big") for s in scores]))])
        splits["train"].remove(chosen)
        splits["validation"].append(chosen)
    return splits


def few_files(n_files: int, validation_fraction: float) -> bool:
    """Too few files to hold out whole ones: fewer than ``1 / validation_fraction``.

    Then every file is split in time instead (its last ``validation_fraction`` validates),
    so two long recordings do not give one of them, half the data, to validation.
    """
    return 0 < validation_fraction < 1 and n_files * validation_fraction < 1 - 1e-9


def build_examples(
    paths: Sequence[str | os.PathLike[str]],
    *,
    sample_rate: int,
    n_samples: int,
    hop_length: int | None = None,
    threshold_db: float = -60.0,
    validation_fraction: float = 0.1,
    root: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    remedy: str | None = None,
) -> dict[Split, ExampleSet]:
    """Load files (mono, resampled to ``sample_rate``), cut, drop silence and split.

    The split is by file (:func:`split_files`), or in time within each file when the
    files are few (:func:`few_files`).

    Args:
        paths: audio files, e.g. ``scan_audio_folder(folder).paths``.
        sample_rate: Hz of the examples.
        n_samples: samples per example.
        hop_length: samples between example starts (``None``: ``n_samples``).
        threshold_db: examples below this RMS level are dropped as silence.
        validation_fraction: share of files for validation (see :func:`split_files`).
        root: data folder; split names are paths relative to it.
        progress: called as ``progress(n_done, n_files)`` after each file.
        remedy: what the user can do when there is no training example, in the terms of
            the caller's own options (default: this function's arguments).

    Returns:
        ``{"train": ExampleSet, "validation": ExampleSet}``.

    Raises:
        DataError: no training example at all (files too short or silent).
    """
    by_time = few_files(len(paths), validation_fraction)
    splits = ({"train": list(map(Path, paths)), "validation": list(map(Path, paths))}
              if by_time else
              split_files(paths, validation_fraction=validation_fraction, root=root))
    result: dict[Split, ExampleSet] = {}
    n_done = 0
    for split, files in splits.items():
        chunks, sources, offsets = [], [], []
        for index, path in enumerate(files):
            audio, _ = load_audio(path, sample_rate=sample_rate)
            starts = example_offsets(len(audio), n_samples=n_samples, hop_length=hop_length)
            examples, keep = drop_silent(
                cut_examples(audio, n_samples=n_samples, hop_length=hop_length),
                threshold_db=threshold_db,
            )
            starts = starts[keep]
            if by_time:  # the file's last share validates, the rest trains; no overlap
                cut = round(len(audio) * (1 - validation_fraction))
                inside = (starts >= cut) if split == "validation" else (starts + n_samples <= cut)
                examples, starts = examples[inside], starts[inside]
            chunks.append(examples)
            sources.append(np.full(len(examples), index, dtype=np.int64))
            offsets.append(starts)
            if split == "train" or not by_time:
                n_done += 1
                if progress is not None:
                    progress(n_done, len(paths))
        result[split] = ExampleSet(
            audio=np.concatenate(chunks) if chunks else np.zeros((0, n_samples), np.float32),
            source=np.concatenate(sources) if sources else np.zeros(0, np.int64),
            offset=np.concatenate(offsets) if offsets else np.zeros(0, np.int64),
            files=files,
            sample_rate=sample_rate,
        )
    if len(result["train"]) == 0:
        if remedy is None:
            remedy = "use shorter examples (n_samples), a lower threshold_db, or longer recordings"
        raise DataError(
            f"no training examples: the {len(splits['train'])} training file(s) hold no "
            f"{n_samples / sample_rate:g}-s window above {threshold_db:g} dBFS; {remedy}"
        )
    return result


def _name(path: Path, root: str | os.PathLike[str] | None) -> str:
    if root is None:
        return path.name
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name
