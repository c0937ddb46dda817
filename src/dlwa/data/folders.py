"""Scan a user's folder of audio or MIDI files and say clearly what is wrong with it.

A scan reads only file headers (fast even for hours of audio), sorts files by path so every
run sees them in the same order, and sorts them into usable, unreadable and too short.
By default (``strict=True``) any unreadable or too-short file is an error that lists them
all, so the user can fix the folder in one go; ``strict=False`` skips them with a warning.
Mixed sample rates are not an error (files are resampled when loaded) but are reported.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dlwa.audio.io import AudioInfo, audio_info

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3")
MIDI_EXTENSIONS: tuple[str, ...] = (".mid", ".midi")
_MAX_LISTED = 20


class DataError(ValueError):
    """A problem with the user's data; the message names the files and what to do."""


@dataclass(frozen=True)
class MidiInfo:
    """What a standard MIDI file's header says."""

    path: Path
    format: int
    n_tracks: int
    ticks_per_beat: int


@dataclass
class AudioFolder:
    """Result of :func:`scan_audio_folder`."""

    folder: Path
    files: list[AudioInfo]
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    too_short: list[AudioInfo] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        """Usable files, sorted."""
        return [info.path for info in self.files]

    @property
    def sample_rates(self) -> dict[int, int]:
        """Number of usable files at each sample rate in Hz."""
        return dict(sorted(Counter(info.sample_rate for info in self.files).items()))

    @property
    def duration_s(self) -> float:
        """Total length of the usable files in seconds."""
        return sum(info.duration_s for info in self.files)

    def summary(self) -> str:
        """One line for the user, e.g. ``12 files, 10.3 min, 44100 Hz (12)``."""
        rates = ", ".join(f"{rate} Hz ({count})" for rate, count in self.sample_rates.items())
        skipped = len(self.unreadable) + len(self.too_short)
        n_files = len(self.files)
        text = f"{n_files} file{'s' * (n_files != 1)}, {self.duration_s / 60:.1f} min, {rates}"
        return text + (f"; {skipped} skipped" if skipped else "")


@dataclass
class MidiFolder:
    """Result of :func:`scan_midi_folder`."""

    folder: Path
    files: list[MidiInfo]
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        """Usable files, sorted."""
        return [info.path for info in self.files]


def find_files(
    folder: str | os.PathLike[str], *, extensions: Iterable[str], recursive: bool = True
) -> list[Path]:
    """Files under ``folder`` whose suffix (any case) is in ``extensions``, sorted; hidden
    files and folders (name starting with ``.``) are skipped.

    Raises:
        DataError: the folder is missing, is a file, or holds no matching file.
    """
    folder = Path(folder)
    wanted = tuple(e.lower() for e in extensions)
    if not folder.exists():
        raise DataError(f"data folder {folder} does not exist; pass the folder holding your files")
    if not folder.is_dir():
        raise DataError(f"{folder} is a file; pass the folder that holds it ({folder.parent})")
    candidates = folder.rglob("*") if recursive else folder.glob("*")
    found: list[Path] = []
    others: list[Path] = []
    for path in candidates:
        if (
            any(part.startswith(".") for part in path.relative_to(folder).parts)
            or not path.is_file()
        ):
            continue
        (found if path.suffix.lower() in wanted else others).append(path)
    if not found:
        seen = (
            f"; it holds {len(others)} other file(s), e.g. {others[0].name}"
            if others
            else " (it is empty)"
        )
        raise DataError(f"no {'/'.join(wanted)} files in {folder}{seen}")
    return sorted(found)


def scan_audio_folder(
    folder: str | os.PathLike[str],
    *,
    min_duration_s: float = 0.0,
    recursive: bool = True,
    strict: bool = True,
    extensions: Iterable[str] = AUDIO_EXTENSIONS,
) -> AudioFolder:
    """Find and check the audio files in ``folder``.

    Args:
        folder: the user's data folder.
        min_duration_s: files shorter than this are "too short" (e.g. one example's length).
        recursive: look in sub-folders too.
        strict: raise on any unreadable or too-short file; ``False`` skips them with a warning.
        extensions: file suffixes to consider.

    Returns:
        The scan; ``files`` are usable, sorted by path.

    Raises:
        DataError: missing or empty folder; no usable file; with ``strict``, any unreadable
            or too-short file (all are listed).

    Warns:
        UserWarning: mixed sample rates, and skipped files when not ``strict``.
    """
    paths = find_files(folder, extensions=extensions, recursive=recursive)
    scan = AudioFolder(folder=Path(folder), files=[])
    for path in paths:
        try:
            info = audio_info(path)
        except (ValueError, OSError) as err:
            scan.unreadable.append((path, str(err.__cause__ or err)))
            continue
        (
            scan.too_short
            if info.duration_s < min_duration_s or info.n_samples == 0
            else scan.files
        ).append(info)
    problems = _describe_problems(scan, min_duration_s)
    if problems and (strict or not scan.files):
        raise DataError(f"problems in {scan.folder}:\n{problems}")
    if problems:
        warnings.warn(f"skipping files in {scan.folder}:\n{problems}", stacklevel=2)
    if len(scan.sample_rates) > 1:
        rates = ", ".join(f"{rate} Hz: {n} file(s)" for rate, n in scan.sample_rates.items())
        warnings.warn(
            f"{scan.folder} mixes sample rates ({rates}); files are resampled to the "
            "model's sample_rate when loaded",
            stacklevel=2,
        )
    return scan


def midi_info(path: str | os.PathLike[str]) -> MidiInfo:
    """Read a standard MIDI file's header (``MThd`` chunk).

    Raises:
        DataError: not a standard MIDI file, or a SMPTE-timed one.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(14)
    if len(head) < 14 or head[:4] != b"MThd":
        raise DataError(f"{path} is not a standard MIDI file (no MThd header)")
    length, file_format, n_tracks, division = struct.unpack(">IHHH", head[4:14])
    if length < 6 or file_format > 2 or n_tracks == 0:
        raise DataError(
            f"{path} has a broken MIDI header (format {file_format}, {n_tracks} tracks)"
        )
    if division & 0x8000:
        raise DataError(f"{path} uses SMPTE time; re-save it with ticks per beat")
    return MidiInfo(path=path, format=file_format, n_tracks=n_tracks, ticks_per_beat=division)


def scan_midi_folder(
    folder: str | os.PathLike[str], *, recursive: bool = True, strict: bool = True
) -> MidiFolder:
    """Find and check the MIDI files in ``folder`` (same rules as :func:`scan_audio_folder`).

    Raises:
        DataError: missing or empty folder, no usable file, or (``strict``) unreadable files.
    """
    scan = MidiFolder(folder=Path(folder), files=[])
    for path in find_files(folder, extensions=MIDI_EXTENSIONS, recursive=recursive):
        try:
            scan.files.append(midi_info(path))
        except (DataError, OSError) as err:
            scan.unreadable.append((path, str(err)))
    if scan.unreadable:
        listed = _listing("unreadable", [f"{p.name}: {why}" for p, why in scan.unreadable])
        if strict or not scan.files:
            raise DataError(f"problems in {scan.folder}:\n{listed}")
        warnings.warn(f"skipping files in {scan.folder}:\n{listed}", stacklevel=2)
    return scan


def _describe_problems(scan: AudioFolder, min_duration_s: float) -> str:
    lines = []
    if scan.unreadable:
        lines.append(
            _listing("unreadable", [f"{_rel(p, scan.folder)}: {why}" for p, why in scan.unreadable])
        )
    if scan.too_short:
        items = [f"{_rel(i.path, scan.folder)}: {i.duration_s:.2f} s" for i in scan.too_short]
        lines.append(_listing(f"shorter than {min_duration_s:g} s", items))
    if lines and not scan.files:
        lines.append("  no usable audio files remain")
    return "\n".join(lines)


def _listing(what: str, items: list[str]) -> str:
    shown = "\n".join(f"    {item}" for item in items[:_MAX_LISTED])
    more = f"\n    … and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"  {len(items)} file(s) {what}:\n{shown}{more}"


def _rel(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)
