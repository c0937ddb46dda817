"""SampleRNN training data: chunks of audio (``dlwa data chunk``) and the training examples.

``chunk_file`` cuts a recording into chunks as PRiSM's ``chunk_audio`` does (8-s chunks
overlapping by 1 s; a chunk with half its length below −64 dBFS is dropped). Training
reads a folder of audio (chunks or whole recordings), resamples it to the model's rate,
cuts it into examples a whole number of subsequences long, splits them (by file, or in
time when the files are few) and quantises them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlwa.audio.io import load_audio, save_audio
from dlwa.data import build_examples, scan_audio_folder
from dlwa.samplernn.model import SampleRNNConfig, quantize

SILENCE_DB = -64.0
"""PRiSM's silence threshold (dBFS) for dropping chunks."""


@dataclass
class ChunkReport:
    """What :func:`chunk_file` did: chunks written and dropped as silent."""

    written: list[Path]
    silent: int


def is_mostly_silent(audio: np.ndarray, sample_rate: int, *, threshold_db: float = SILENCE_DB
                     ) -> bool:
    """True when some stretch of half the chunk's length stays below ``threshold_db``
    (RMS over the stretch), PRiSM's rule (pydub's ``detect_silence``)."""
    window = max(1, len(audio) // 2)
    step = max(1, sample_rate // 100)
    power = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    for start in range(0, len(audio) - window + 1, step):
        mean = (power[start + window] - power[start]) / window
        if 10 * np.log10(max(mean, 1e-20)) < threshold_db:
            return True
    return False


def chunk_file(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
               chunk_s: float = 8.0, overlap_s: float = 1.0, sample_rate: int | None = None,
               threshold_db: float = SILENCE_DB) -> ChunkReport:
    """Cut ``path`` into ``<name>_chunk_<i>.wav`` files in ``out_dir`` (mono).

    Args:
        path: A sound file.
        out_dir: Where the chunks go (created).
        chunk_s: Chunk length in seconds (a shorter tail is dropped, as PRiSM does).
        overlap_s: Seconds shared by consecutive chunks.
        sample_rate: Resample to this rate (None: the file's own).
        threshold_db: Chunks with half their length below this level are dropped.

    Raises:
        ValueError: a chunk length not positive, or an overlap not shorter than it.
    """
    if chunk_s <= 0 or not 0 <= overlap_s < chunk_s:
        raise ValueError(f"--chunk-length {chunk_s:g} s must be positive and --overlap "
                         f"{overlap_s:g} s between 0 and the chunk length")
    audio, rate = load_audio(path, sample_rate=sample_rate)
    n = round(chunk_s * rate)
    hop = n - round(overlap_s * rate)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written, silent = [], 0
    stem = Path(path).stem.replace(" ", "_")
    for i, start in enumerate(range(0, len(audio) - n + 1, hop), start=1):
        chunk = audio[start:start + n]
        if is_mostly_silent(chunk, rate, threshold_db=threshold_db):
            silent += 1
            continue
        target = out / f"{stem}_chunk_{i}.wav"
        save_audio(target, chunk, sample_rate=rate)
        written.append(target)
    return ChunkReport(written, silent)


@dataclass
class Sequences:
    """Quantised training examples of one split: codes [n, length] int64."""

    codes: np.ndarray

    def __len__(self) -> int:
        return int(self.codes.shape[0])


def load_sequences(folder: str | os.PathLike[str], config: SampleRNNConfig, *,
                   example_s: float = 8.0, validation_fraction: float = 0.1,
                   progress: Callable[[int, int], None] | None = None
                   ) -> dict[str, Sequences]:
    """The folder's audio as quantised examples a whole number of ``seq_len`` long.

    Raises:
        DataError: the folder is missing, empty or unreadable, or holds no example.
    """
    length = max(1, round(example_s * config.sample_rate / config.seq_len)) * config.seq_len
    scan = scan_audio_folder(folder, min_duration_s=length / config.sample_rate)
    splits = build_examples(
        [info.path for info in scan.files], sample_rate=config.sample_rate, n_samples=length,
        threshold_db=SILENCE_DB, validation_fraction=validation_fraction, root=folder,
        progress=progress, remedy=f"give recordings of at least {length / config.sample_rate:g} "
        "s of sound, or a shorter --example-seconds")
    return {name: Sequences(quantize(examples.audio, config))
            for name, examples in splits.items()}
