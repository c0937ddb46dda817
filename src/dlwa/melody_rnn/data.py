"""Melody datasets from MIDI files, extracted the way Magenta's melody pipeline does.

Each MIDI file is read with ``note_seq``, quantized to 16th notes (4 steps per quarter),
and its melodies are extracted with ``note_seq.extract_melodies`` (at least 7 bars and 5
distinct pitches, split at a bar of silence, truncated to 512 steps, the highest note
kept where notes overlap). Each melody is then squashed into the model's pitch range and
transposed to C, as Magenta's ``EncoderPipeline`` does. A file's melodies go to the
training or the validation split by a hash of its name, so the split never changes when
files are added. Extraction results are cached per file (``dlwa.data.FeatureCache``).

The built-in corpus is the Essen folk-song collection from music21's corpus (about 8,500
tunes, ABC), converted to MIDI with ``abc2midi`` (Debian ``abcmidi``); ``essen_folder``
makes that folder once and reuses it.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlwa.data.cache import FeatureCache
from dlwa.data.examples import split_of
from dlwa.data.folders import DataError, find_files

STEPS_PER_QUARTER = 4
MIN_BARS = 7
MAX_STEPS = 512
MIN_UNIQUE_PITCHES = 5
GAP_BARS = 1.0
VALIDATION_FRACTION = 0.1
ESSEN = "essen"
"""The name that stands for the built-in Essen corpus on the command line."""
MIDI_EXTENSIONS = (".mid", ".midi")
CACHE_VERSION = 1


@dataclass
class MelodySet:
    """Melodies of one split: events per melody and the file each came from."""

    melodies: list[np.ndarray] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def n_steps(self) -> int:
        return int(sum(len(m) for m in self.melodies))

    def __len__(self) -> int:
        return len(self.melodies)


def default_cache_dir() -> Path:
    """``~/.cache/dlwa/melody_rnn`` (data derived from the built-in corpus lives here)."""
    return Path.home() / ".cache" / "dlwa" / "melody_rnn"


def essen_folder(cache_dir: Path | None = None) -> Path:
    """A folder of MIDI files made from music21's Essen folk songs (made once, then reused).

    Raises:
        DataError: music21 or abc2midi is missing; says how to install them.
    """
    out = Path(cache_dir or default_cache_dir()) / "essen_midi"
    done = out / ".complete"
    if done.exists():
        return out
    try:
        from music21 import corpus
    except ImportError as exc:
        raise DataError("the Essen corpus needs music21: pip install 'dlwa[train]'") from exc
    abc2midi = shutil.which("abc2midi")
    if abc2midi is None:
        raise DataError("the Essen corpus needs abc2midi: apt install abcmidi (scripts/setup.sh)")
    sources = [Path(p) for p in corpus.getPaths(fileExtensions=("abc",))
               if "essenFolksong" in str(p)]
    if not sources:
        raise DataError("music21's corpus has no essenFolksong ABC files")
    out.mkdir(parents=True, exist_ok=True)
    for source in sources:
        work = out / source.stem
        work.mkdir(exist_ok=True)
        shutil.copy(source, work / source.name)
        subprocess.run([abc2midi, source.name, "-NGUI", "-silent"], cwd=work,
                       capture_output=True, check=False)
        (work / source.name).unlink()
    done.write_text("ok\n")
    return out


def resolve_data(data: str | Path, cache_dir: Path | None = None) -> Path:
    """A data argument as a folder: ``essen`` means the built-in corpus."""
    if str(data) == ESSEN and not Path(data).exists():
        return essen_folder(cache_dir)
    return Path(data)


def melodies_from_midi(
    path: Path, *, min_note: int, max_note: int, transpose_to_key: int | None = 0,
    min_bars: int = MIN_BARS, min_unique_pitches: int = MIN_UNIQUE_PITCHES,
) -> list[np.ndarray]:
    """The melodies of one MIDI file as event arrays (empty list if none qualify).

    Args:
        path: A MIDI file.
        min_note, max_note: The model's pitch range [min_note, max_note).
        transpose_to_key: Transpose each melody to this major key (0 = C), or None.
        min_bars: Shortest melody kept, in bars.
        min_unique_pitches: Fewest distinct pitches a melody must have.
    """
    from dlwa.melody_rnn._note_seq import load_note_seq

    note_seq = load_note_seq()

    try:
        sequence = note_seq.midi_file_to_note_sequence(str(path))
        quantized = note_seq.quantize_note_sequence(sequence, STEPS_PER_QUARTER)
        melodies = extract_melodies(quantized, min_bars=min_bars,
                                    min_unique_pitches=min_unique_pitches)
    except Exception:  # noqa: BLE001 - unreadable, multi-tempo or odd-metre files are skipped
        return []
    out = []
    for melody in melodies:
        melody.squash(min_note, max_note, transpose_to_key)
        out.append(np.asarray(list(melody), dtype=np.int16))
    return out


def extract_melodies(quantized: object, *, min_bars: int = MIN_BARS,
                     min_unique_pitches: int = MIN_UNIQUE_PITCHES) -> list:
    """Magenta's melody extraction from a quantized NoteSequence, per instrument.

    Scans each instrument from the start, bar by bar: ``Melody.from_quantized_sequence``
    takes notes until a bar of silence; the next search starts at the following bar line.
    Short melodies (< ``min_bars``) and those with fewer than ``min_unique_pitches`` pitch
    classes are dropped; long ones are cut to ``MAX_STEPS`` rounded down to whole bars.

    Returns:
        A list of ``note_seq.Melody``.
    """
    from dlwa.melody_rnn._note_seq import load_note_seq

    note_seq = load_note_seq()

    found = []
    for instrument in sorted({n.instrument for n in quantized.notes}):  # type: ignore[attr-defined]
        start = 0
        while True:
            melody = note_seq.Melody()
            try:
                melody.from_quantized_sequence(
                    quantized, search_start_step=start, instrument=instrument, gap_bars=GAP_BARS,
                    ignore_polyphonic_notes=True, pad_end=True)
            except note_seq.PolyphonicMelodyError:
                break
            if not melody:
                break
            bar = melody.steps_per_bar
            start = melody.end_step + (-melody.end_step) % bar
            if len(melody) < bar * min_bars:
                continue
            if len(melody) > MAX_STEPS:
                melody.set_length(MAX_STEPS - MAX_STEPS % bar)
            if np.count_nonzero(melody.get_note_histogram()) < min_unique_pitches:
                continue
            found.append(melody)
    return found


def load_melodies(
    data: str | Path,
    *,
    min_note: int,
    max_note: int,
    transpose_to_key: int | None = 0,
    validation_fraction: float = VALIDATION_FRACTION,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[MelodySet, MelodySet]:
    """Training and validation melodies from a folder of MIDI files (or ``essen``).

    Returns:
        ``(train, validation)``.

    Raises:
        DataError: the folder is missing, holds no MIDI file, or yields no melody.
    """
    folder = resolve_data(data, cache_dir)
    files = find_files(folder, extensions=MIDI_EXTENSIONS)
    cache = FeatureCache(Path(cache_dir or default_cache_dir()) / "melodies")
    params = {"version": CACHE_VERSION, "min_note": min_note, "max_note": max_note,
              "transpose_to_key": transpose_to_key, "steps_per_quarter": STEPS_PER_QUARTER}
    train, validation = MelodySet(), MelodySet()
    for i, path in enumerate(files):
        name = path.relative_to(folder).as_posix()
        features = cache.get_or_compute(path, params, lambda p: _pack(melodies_from_midi(
            p, min_note=min_note, max_note=max_note, transpose_to_key=transpose_to_key)))
        target = validation if split_of(name, validation_fraction=validation_fraction) == (
            "validation") else train
        for melody in _unpack(features):
            target.melodies.append(melody)
            target.sources.append(name)
        if progress is not None:
            progress(i + 1, len(files))
    if not train.melodies and not validation.melodies:
        raise DataError(
            f"no melodies found in the {len(files)} MIDI file(s) of {folder}: a melody needs "
            f"at least {MIN_BARS} bars and {MIN_UNIQUE_PITCHES} distinct pitches on one track")
    return train, validation


def _pack(melodies: list[np.ndarray]) -> dict[str, np.ndarray]:
    lengths = np.array([len(m) for m in melodies], dtype=np.int64)
    events = np.concatenate(melodies) if melodies else np.zeros(0, dtype=np.int16)
    return {"events": events.astype(np.int16), "lengths": lengths}


def _unpack(features: dict[str, np.ndarray]) -> Iterator[np.ndarray]:
    offsets = np.concatenate([[0], np.cumsum(features["lengths"])])
    for start, end in itertools.pairwise(offsets):
        yield features["events"][start:end].astype(np.int64)
