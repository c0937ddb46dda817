"""GANSynth training notes from an NSynth-style folder or from any folder of the user's audio.

Two layouts are read (:func:`load_notes` picks by the presence of ``examples.json``):

- **NSynth-style**: ``examples.json`` maps note names to at least ``pitch`` (MIDI) and
  optionally ``instrument_family_str``, ``instrument_source_str`` and ``velocity``; the audio
  is ``audio/<name>.wav``. Each note is padded or trimmed to ``n_samples``.
- **Any folder of audio** (the course's ``chop.py`` / ``pad.py`` / ``make_dataset.py``):
  files are cut into notes (``chop``), padded or trimmed to ``n_samples``, silent notes
  dropped, and each labelled with a pitch (``label``):

  ========== ==================================================================
  ``chop``   notes
  ========== ==================================================================
  "fixed"    windows of ``n_samples`` every ``hop_length`` samples (``chop.py``);
             a file shorter than one window gives one padded note
  "onsets"   one note per detected onset (spectral flux), until the next onset
  "none"     one note per file, its first ``n_samples`` (``pad.py``)
  ========== ==================================================================

  ``label``: ``"name"`` reads the pitch from a ``<name>_<pitch>.wav`` file name (the
  course's convention, also what ``chop.py`` writes), ``"track"`` estimates it with dlwa's
  pitch tracker (median f0 of the confident frames, rounded to MIDI), and an int gives every
  note that pitch (the course's ``--pitch 32`` for unpitched material).

Every note is peak-normalised to ``peak`` (``None`` keeps its level). The folder is checked
before any audio is decoded, and problems are reported together, one line each, in one
:class:`~dlwa.data.DataError`. Notes of the user's audio are cached per file (content and
settings) when ``cache_dir`` is given, so re-running a training skips the chopping and the
pitch tracking.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dlwa.audio.conversions import hz_to_midi
from dlwa.audio.io import AudioFileError, audio_info, load_audio
from dlwa.audio.signals import normalize_peak
from dlwa.audio.validate import check_positive_int, check_sample_rate
from dlwa.data import (
    FeatureCache,
    cut_examples,
    drop_silent,
    example_offsets,
    scan_audio_folder,
)
from dlwa.data.folders import DataError

Chop = Literal["fixed", "onsets", "none"]
CHOPS: tuple[str, ...] = ("fixed", "onsets", "none")
Label = Literal["name", "track"] | int
NSYNTH_PITCHES: tuple[int, ...] = tuple(range(24, 85))  # GANSynth's NSynth subset
EXAMPLES_FILE = "examples.json"
_NAME_PITCH = re.compile(r"^(?P<stem>.*)_(?P<pitch>\d{1,3})$")
_MAX_LISTED = 20
_CACHE_VERSION = 1
Progress = Callable[[str, int, int], None]


@dataclass
class NoteSet:
    """Training notes with their labels.

    Attributes:
        audio: [n_notes, n_samples] float32.
        pitch: [n_notes] int64 MIDI pitch.
        names: note names (NSynth note names, or ``<file stem>_<i>`` for the user's audio).
        family: instrument family of each note (``"user"`` for the user's audio).
        source: instrument source of each note (``"user"`` for the user's audio).
        sample_rate: Hz.
    """

    audio: np.ndarray
    pitch: np.ndarray
    names: list[str]
    family: list[str]
    source: list[str]
    sample_rate: int

    def __len__(self) -> int:
        return int(self.audio.shape[0])

    @property
    def pitches(self) -> list[int]:
        """The distinct pitches present, ascending."""
        return sorted({int(p) for p in self.pitch})

    def pitch_counts(self) -> dict[int, int]:
        """Number of notes per pitch, by ascending pitch."""
        return dict(sorted(Counter(int(p) for p in self.pitch).items()))

    def source_counts(self) -> dict[str, int]:
        """Number of notes per instrument source."""
        return dict(sorted(Counter(self.source).items()))

    def family_counts(self) -> dict[str, int]:
        """Number of notes per instrument family."""
        return dict(sorted(Counter(self.family).items()))

    def summary(self) -> str:
        """A few lines for the user: counts, pitch range, notes per family and source."""
        seconds = self.audio.shape[0] * self.audio.shape[1] / self.sample_rate
        counts = self.pitch_counts()
        per_pitch = f"{min(counts.values())}–{max(counts.values())}" if counts else "0"
        head = (
            f"{len(self)} notes of {self.audio.shape[1] / self.sample_rate:g} s at "
            f"{self.sample_rate} Hz ({seconds / 60:.1f} min), {len(counts)} pitches "
            f"{_pitch_range(counts)}, {per_pitch} notes per pitch"
        )
        lines = [
            head,
            "families: " + ", ".join(f"{k} {v}" for k, v in self.family_counts().items()),
            "sources: " + ", ".join(f"{k} {v}" for k, v in self.source_counts().items()),
        ]
        return "\n".join(lines)


def load_notes(
    folder: str | os.PathLike[str],
    *,
    sample_rate: int,
    n_samples: int,
    pitches: Sequence[int] | None = None,
    label: Label = "name",
    chop: Chop = "fixed",
    hop_length: int | None = None,
    tracker: str = "yin",
    peak: float | None = 0.9,
    threshold_db: float = -60.0,
    instrument_sources: Sequence[str] | None = None,
    min_notes: int = 8,
    strict: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> NoteSet:
    """GANSynth training notes from ``folder`` (NSynth-style when it holds ``examples.json``).

    Args:
        folder: an NSynth-style folder, or any folder of audio files (searched recursively).
        sample_rate: Hz of the notes; files at other rates are resampled.
        n_samples: samples per note (64,000 for GANSynth's 4 s at 16 kHz).
        pitches: the model's pitch set; a note outside it is a problem. ``None`` accepts
            any MIDI pitch 0–127 (the set is then the data's own, ``NoteSet.pitches``).
        label: user audio only: ``"name"``, ``"track"`` or a fixed MIDI pitch (see module).
        chop: user audio only: ``"fixed"``, ``"onsets"`` or ``"none"`` (see module).
        hop_length: samples between ``"fixed"`` windows; ``None`` is ``n_samples``.
        tracker: pitch tracker for ``label="track"`` (see ``dlwa.ddsp.features``).
        peak: scale each note to this peak; ``None`` keeps the levels.
        threshold_db: user audio only: notes below this RMS level (dBFS) are dropped.
        instrument_sources: NSynth-style only: keep notes of these ``instrument_source_str``
            values (e.g. ``["acoustic"]``, as Magenta's ``train_instrument_sources``).
        min_notes: fewer usable notes than this is an error.
        strict: ``True``: any note problem (pitch outside the set, no pitch in the name, no
            clear pitch) is an error listing all of them; ``False``: such notes are skipped
            with one warning. Unreadable files and a broken ``examples.json`` are always errors.
        cache_dir: user audio only: cache each file's notes here (``None``: no cache).
        progress: called as ``progress(stage, n_done, n_total)``.

    Returns:
        The notes, in file (or ``examples.json`` name) order.

    Raises:
        DataError: the folder's problems, one line each; or fewer than ``min_notes`` notes.
    """
    sample_rate = check_sample_rate(sample_rate)
    n_samples = check_positive_int(n_samples, name="n_samples", example=64000)
    allowed = _check_pitches(pitches)
    folder = Path(folder)
    if (folder / EXAMPLES_FILE).is_file():
        notes = _load_nsynth(folder, sample_rate=sample_rate, n_samples=n_samples,
                             allowed=allowed, instrument_sources=instrument_sources,
                             strict=strict, progress=progress)
    else:
        if chop not in CHOPS:
            raise DataError(f"chop must be one of {', '.join(CHOPS)}, got {chop!r}")
        notes = _load_user_audio(folder, sample_rate=sample_rate, n_samples=n_samples,
                                 allowed=allowed, label=label, chop=chop,
                                 hop_length=hop_length, tracker=tracker,
                                 threshold_db=threshold_db, strict=strict,
                                 cache_dir=cache_dir, progress=progress)
    if len(notes) < min_notes:
        raise DataError(
            f"{folder} gives {len(notes)} usable note(s), fewer than min_notes={min_notes}; "
            "add audio, use a shorter hop_length or chop='onsets', or lower min_notes"
        )
    if peak is not None:
        for i in range(len(notes)):
            notes.audio[i] = normalize_peak(notes.audio[i], peak=peak)
    return notes


# --- NSynth-style folders -------------------------------------------------------------------


def read_examples_json(folder: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``examples.json`` of an NSynth-style folder and its problems (one line each).

    Returns:
        ``(examples, problems)``: the entries whose fields are usable, by name, and the
        problems found (bad fields, missing or unreadable audio files).

    Raises:
        DataError: the file is not JSON, or not an object of objects.
    """
    path = folder / EXAMPLES_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not valid JSON ({err}); re-export it") from err
    if not isinstance(raw, dict):
        raise DataError(f"{path} must map note names to objects, e.g. "
                        '{"bass_000-036-100": {"pitch": 36}}, but holds a '
                        f"{type(raw).__name__}")
    examples: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name, entry in raw.items():
        problem = _entry_problem(folder, name, entry)
        if problem:
            problems.append(f"{EXAMPLES_FILE}: {name}: {problem}")
        else:
            examples[name] = entry
    return examples, problems


def _entry_problem(folder: Path, name: str, entry: object) -> str | None:
    if not isinstance(entry, dict):
        return f"entry is a {type(entry).__name__}, not an object with a 'pitch'"
    pitch = entry.get("pitch")
    if "pitch" not in entry:
        return "no 'pitch' field (the MIDI pitch of the note)"
    if isinstance(pitch, bool) or not isinstance(pitch, int) or not 0 <= pitch <= 127:
        return f"'pitch' must be a MIDI note number 0–127, got {pitch!r}"
    for key in ("instrument_family_str", "instrument_source_str"):
        if key in entry and not isinstance(entry[key], str):
            return f"{key!r} must be a string, got {entry[key]!r}"
    velocity = entry.get("velocity", 0)
    if isinstance(velocity, bool) or not isinstance(velocity, int) or not 0 <= velocity <= 127:
        return f"'velocity' must be 0–127, got {velocity!r}"
    audio = folder / "audio" / f"{name}.wav"
    if not audio.is_file():
        return f"audio/{name}.wav is missing"
    try:
        audio_info(audio)
    except (AudioFileError, OSError) as err:
        return f"audio/{name}.wav is unreadable ({err})"
    return None


def _load_nsynth(folder: Path, *, sample_rate: int, n_samples: int, allowed: set[int],
                 instrument_sources: Sequence[str] | None, strict: bool,
                 progress: Progress | None) -> NoteSet:
    examples, problems = read_examples_json(folder)
    if problems:
        raise DataError(f"problems in {folder}:\n{_listing(problems)}")
    if instrument_sources is not None:
        wanted = set(instrument_sources)
        examples = {k: v for k, v in examples.items()
                    if v.get("instrument_source_str", "") in wanted}
    outside = [f"{name}: pitch {e['pitch']} is outside the model's pitches "
               f"{_pitch_range(allowed)}" for name, e in examples.items()
               if e["pitch"] not in allowed]
    if outside:
        _report(folder, outside, strict=strict,
                fix="pass pitches that include them, or strict=False to skip these notes")
        examples = {k: v for k, v in examples.items() if v["pitch"] in allowed}
    names = sorted(examples)
    audio = np.zeros((len(names), n_samples), dtype=np.float32)
    for i, name in enumerate(names):
        note, _ = load_audio(folder / "audio" / f"{name}.wav", sample_rate=sample_rate)
        audio[i] = fit_length(note, n_samples=n_samples)
        if progress is not None:
            progress("notes", i + 1, len(names))
    return NoteSet(
        audio=audio,
        pitch=np.array([examples[n]["pitch"] for n in names], dtype=np.int64),
        names=names,
        family=[examples[n].get("instrument_family_str", "unknown") for n in names],
        source=[examples[n].get("instrument_source_str", "unknown") for n in names],
        sample_rate=sample_rate,
    )


# --- Any folder of the user's audio ---------------------------------------------------------


def pitch_from_name(path: str | os.PathLike[str]) -> int | None:
    """The MIDI pitch in a ``<name>_<pitch>.<ext>`` file name, or ``None``."""
    match = _NAME_PITCH.match(Path(path).stem)
    return int(match["pitch"]) if match else None


def _load_user_audio(folder: Path, *, sample_rate: int, n_samples: int, allowed: set[int],
                     label: Label, chop: Chop, hop_length: int | None, tracker: str,
                     threshold_db: float, strict: bool,
                     cache_dir: str | os.PathLike[str] | None,
                     progress: Progress | None) -> NoteSet:
    fixed = _check_label(label, tracker=tracker)
    scan = scan_audio_folder(folder)  # unreadable files: an error listing them all
    paths = scan.paths
    if label == "name":
        problems = [_name_problem(p, folder, allowed) for p in paths]
        problems = [p for p in problems if p]
        if problems:
            _report(folder, problems, strict=strict,
                    fix="rename the files <name>_<pitch>.wav, or label them by tracking "
                        "(label='track') or with one fixed pitch (e.g. label=32)")
            paths = [p for p in paths if _name_problem(p, folder, allowed) is None]
    elif fixed is not None and fixed not in allowed:
        raise DataError(f"the fixed pitch {fixed} is outside the model's pitches "
                        f"{_pitch_range(allowed)}; choose one of them")
    params = {"version": _CACHE_VERSION, "sample_rate": sample_rate, "n_samples": n_samples,
              "chop": chop, "hop_length": hop_length, "threshold_db": threshold_db,
              "tracker": tracker if label == "track" else None}
    cache = FeatureCache(cache_dir) if cache_dir is not None else None

    def notes_of(path: Path) -> dict[str, np.ndarray]:
        audio, _ = load_audio(path, sample_rate=sample_rate)
        notes, starts = chop_notes(audio, sample_rate=sample_rate, n_samples=n_samples,
                                   chop=chop, hop_length=hop_length)
        notes, keep = drop_silent(notes, threshold_db=threshold_db)
        result = {"audio": notes, "start": starts[keep]}
        if label == "track":
            result["pitch"] = np.array([estimate_pitch(n, sample_rate=sample_rate,
                                                       tracker=tracker) for n in notes],
                                       dtype=np.int64)
        return result

    chunks, pitch, names, problems = [], [], [], []
    for index, path in enumerate(paths):
        found = cache.get_or_compute(path, params, notes_of) if cache else notes_of(path)
        rel = _rel(path, folder)
        stem = _NAME_PITCH.sub(r"\g<stem>", path.stem)
        for i, note in enumerate(found["audio"]):
            if label == "track":
                note_pitch = int(found["pitch"][i])
                problem = _tracked_problem(note_pitch, allowed)
                if problem:
                    start_s = found["start"][i] / sample_rate
                    problems.append(f"{rel} note at {start_s:.2f} s: {problem}")
                    continue
            else:
                note_pitch = fixed if fixed is not None else pitch_from_name(path)
            chunks.append(note)
            pitch.append(note_pitch)
            names.append(f"{stem}_{i}")
        if progress is not None:
            progress("files", index + 1, len(paths))
    if problems:
        _report(folder, problems, strict=strict,
                fix="use a fixed pitch for unpitched sound (e.g. label=32), pass pitches "
                    "that include them, or strict=False to skip these notes")
    audio = np.stack(chunks) if chunks else np.zeros((0, n_samples), dtype=np.float32)
    return NoteSet(audio=audio, pitch=np.array(pitch, dtype=np.int64), names=names,
                   family=["user"] * len(names), source=["user"] * len(names),
                   sample_rate=sample_rate)


def _check_label(label: Label, *, tracker: str) -> int | None:
    """The fixed pitch of ``label``, or ``None`` for ``"name"`` / ``"track"``."""
    if isinstance(label, bool) or not (label in ("name", "track") or isinstance(label, int)):
        raise DataError(f"label must be 'name', 'track' or a MIDI pitch (e.g. 32), "
                        f"got {label!r}")
    if label == "track":
        from dlwa.ddsp.features import PITCH_TRACKERS

        if tracker not in PITCH_TRACKERS:
            raise DataError(f"unknown pitch tracker {tracker!r}; use one of "
                            f"{', '.join(sorted(PITCH_TRACKERS))}")
    return label if isinstance(label, int) else None


def _name_problem(path: Path, folder: Path, allowed: set[int]) -> str | None:
    pitch = pitch_from_name(path)
    if pitch is None:
        return f"{_rel(path, folder)}: no pitch in the name (expected <name>_<pitch>)"
    if pitch not in allowed:
        return (f"{_rel(path, folder)}: pitch {pitch} is outside the model's pitches "
                f"{_pitch_range(allowed)}")
    return None


def _tracked_problem(pitch: int, allowed: set[int]) -> str | None:
    if pitch < 0:
        return "no clear pitch"
    if pitch not in allowed:
        return f"estimated pitch {pitch} is outside the model's pitches {_pitch_range(allowed)}"
    return None


# --- Cutting and labelling notes ------------------------------------------------------------


def fit_length(audio: np.ndarray, *, n_samples: int, fade_s: float = 0.0,
               sample_rate: int | None = None) -> np.ndarray:
    """Zero-pad or trim [n] audio to [n_samples] float32; a trimmed end can fade out linearly
    over ``fade_s`` seconds (needs ``sample_rate``) so the cut does not click."""
    out = np.zeros(n_samples, dtype=np.float32)
    out[: min(len(audio), n_samples)] = audio[:n_samples]
    if len(audio) > n_samples and fade_s > 0 and sample_rate is not None:
        n_fade = min(n_samples, round(fade_s * sample_rate))
        out[n_samples - n_fade:] *= np.linspace(1.0, 0.0, n_fade, dtype=np.float32)
    return out


def chop_notes(audio: np.ndarray, *, sample_rate: int, n_samples: int, chop: Chop = "fixed",
               hop_length: int | None = None,
               fade_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Cut one file's mono audio into notes of ``n_samples`` (see the module's table).

    Args:
        audio: [n_total] float.
        sample_rate: Hz.
        n_samples: samples per note.
        chop: ``"fixed"``, ``"onsets"`` or ``"none"``.
        hop_length: samples between ``"fixed"`` windows (``None``: ``n_samples``).
        fade_s: a note cut off before its sound ends (``"onsets"``, ``"none"``) fades out
            over this many seconds.

    Returns:
        ``(notes, starts)``: [n_notes, n_samples] float32 and each note's first sample
        [n_notes] int64.
    """
    if chop == "fixed":
        pad_last = len(audio) < n_samples
        starts = example_offsets(len(audio), n_samples=n_samples, hop_length=hop_length,
                                 pad_last=pad_last)
        notes = cut_examples(audio, n_samples=n_samples, hop_length=hop_length,
                             pad_last=pad_last)
        return notes, starts
    if chop == "none":
        note = fit_length(audio, n_samples=n_samples, fade_s=fade_s, sample_rate=sample_rate)
        return note[None], np.zeros(1, dtype=np.int64)
    starts = detect_onsets(audio, sample_rate=sample_rate)
    ends = [*starts[1:], len(audio)]
    notes = [fit_length(audio[s:e], n_samples=n_samples, fade_s=fade_s, sample_rate=sample_rate)
             for s, e in zip(starts, ends, strict=True)]
    if not notes:
        return np.zeros((0, n_samples), dtype=np.float32), starts
    return np.stack(notes), starts


def detect_onsets(audio: np.ndarray, *, sample_rate: int, n_fft: int = 1024,
                  hop_length: int = 256, delta: float = 0.07, wait_s: float = 0.05,
                  floor_db: float = -60.0) -> np.ndarray:
    """Note onsets by spectral flux with librosa's peak picking (``onset_detect`` defaults).

    The flux (summed rise of the log magnitude spectrum, 80 dB range) is scaled to [0, 1];
    a frame is an onset where it is the largest of the last 30 ms, exceeds the mean of the
    100 ms around it by ``delta``, is ``wait_s`` after the previous onset, and the frame is
    louder than ``floor_db`` once the window has passed it. A file that starts with sound
    has an onset at 0. The returned starts lie up to two hops (32 ms at 16 kHz) before the
    onsets they mark.

    Returns:
        [n_onsets] int64 sample indices, ascending.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < n_fft:
        audio = np.pad(audio, (0, n_fft - len(audio)))
    n_frames = 1 + (len(audio) - n_fft) // hop_length
    index = np.arange(n_fft)[None, :] + hop_length * np.arange(n_frames)[:, None]
    frames = audio[index] * np.hanning(n_fft).astype(np.float32)
    log_mag = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=-1)) + 1e-10)
    log_mag = np.maximum(log_mag, log_mag.max() - 80.0)
    flux = np.concatenate([[0.0], np.maximum(np.diff(log_mag, axis=0), 0).mean(axis=-1)])
    flux = flux / flux.max() if flux.max() > 0 else flux
    level_db = 10 * np.log10(np.mean(frames**2, axis=-1) + 1e-20)
    frame_s = hop_length / sample_rate
    pre_max, avg = max(1, round(0.03 / frame_s)), max(1, round(0.1 / frame_s))
    wait = max(1, round(wait_s / frame_s))
    onsets: list[int] = []
    if level_db[0] > floor_db:
        onsets.append(0)
    for t in range(1, n_frames):
        window_max = flux[max(0, t - pre_max):t + 1].max()
        window_mean = flux[max(0, t - avg):t + avg + 1].mean()
        loud = level_db[min(n_frames - 1, t + n_fft // hop_length)] > floor_db
        if (flux[t] >= window_max and flux[t] >= window_mean + delta and loud
                and (not onsets or t - onsets[-1] >= wait)):
            onsets.append(t)
    # On a log scale the flux jumps in the first frame whose window reaches the onset, so
    # the onset lies in that window's last hop; a note starts one hop before that.
    lead = n_fft - 2 * hop_length
    return np.array([max(0, t * hop_length + lead) if t else 0 for t in onsets], np.int64)


def estimate_pitch(audio: np.ndarray, *, sample_rate: int, tracker: str = "yin",
                   min_confidence: float = 0.8, min_voiced_s: float = 0.1) -> int:
    """A note's MIDI pitch: median f0 of its confident frames, rounded; −1 when unclear.

    Args:
        audio: [n_samples] float, one note.
        sample_rate: Hz.
        tracker: a name in ``dlwa.ddsp.features.PITCH_TRACKERS``.
        min_confidence: frames at least this confident count as pitched.
        min_voiced_s: fewer confident frames than this many seconds give −1.
    """
    from dlwa.ddsp.features import compute_f0

    frame_rate = next((r for r in (100, 50, 25, 20, 10, 5, 1) if sample_rate % r == 0), 1)
    f0_hz, confidence = compute_f0(audio, sample_rate=sample_rate, frame_rate=frame_rate,
                                   tracker=tracker)
    voiced = f0_hz[(confidence >= min_confidence) & (f0_hz > 0)]
    if len(voiced) < max(1, round(min_voiced_s * frame_rate)):
        return -1
    return int(np.round(np.median(hz_to_midi(voiced.astype(np.float64)))))


# --- Messages -------------------------------------------------------------------------------


def _check_pitches(pitches: Sequence[int] | None) -> set[int]:
    if pitches is None:
        return set(range(128))
    allowed = {int(p) for p in pitches}
    if not allowed or min(allowed) < 0 or max(allowed) > 127:
        raise DataError(f"pitches must be MIDI note numbers 0–127, got {list(pitches)!r}; "
                        "e.g. range(24, 85)")
    return allowed


def _report(folder: Path, problems: list[str], *, strict: bool, fix: str) -> None:
    """Raise (``strict``) or warn about note problems, one line each, with the fix."""
    text = f"problems in {folder} ({len(problems)}); {fix}:\n{_listing(problems)}"
    if strict:
        raise DataError(text)
    warnings.warn(f"skipping notes: {text}", stacklevel=3)


def _listing(items: list[str]) -> str:
    shown = "\n".join(f"  {item}" for item in items[:_MAX_LISTED])
    more = f"\n  … and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return shown + more


def _pitch_range(pitches: Any) -> str:
    """Pitches as runs, e.g. ``24–26, 28–84``."""
    values = sorted(pitches)
    if not values:
        return "(none)"
    runs: list[list[int]] = [[values[0], values[0]]]
    for value in values[1:]:
        if value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    text = [f"{a}–{b}" if b > a else str(a) for a, b in runs]
    return ", ".join(text[:12]) + (" …" if len(text) > 12 else "")


def _rel(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)
