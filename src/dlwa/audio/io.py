"""Reading and writing audio files with soundfile (numpy, float32).

Reads anything libsndfile reads (WAV incl. 32-bit float WAVE_FORMAT_EXTENSIBLE as Pd's
``writesf~`` writes it, FLAC, OGG/Vorbis, AIFF, MP3 with libsndfile ≥ 1.1); writes WAV,
FLAC and OGG. Mono audio is [n_samples]; multi-channel audio is channels first,
[n_channels, n_samples], like a batch. Files too long for memory are read with
:func:`read_audio_blocks` and written with :class:`AudioWriter`, block by block.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import soundfile as sf

from dlwa.audio.resample import resample
from dlwa.audio.validate import AudioError, check_audio, check_sample_rate

SUBTYPES: tuple[str, ...] = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")
WRITE_FORMATS: dict[str, str] = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


class AudioFileError(AudioError):
    """An audio file that cannot be read or written; the message names the file."""


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file's header says."""

    path: Path
    sample_rate: int
    n_channels: int
    n_samples: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.sample_rate


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """Read an audio file's header without decoding it.

    Raises:
        FileNotFoundError: no such file.
        AudioFileError: not an audio file libsndfile can read.
    """
    path = _existing_file(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _unreadable(path, err) from err
    return AudioInfo(
        path=path,
        sample_rate=int(info.samplerate),
        n_channels=int(info.channels),
        n_samples=int(info.frames),
        format=str(info.format),
        subtype=str(info.subtype),
    )


def load_audio(
    path: str | os.PathLike[str], *, sample_rate: int | None = None, mono: bool = True
) -> tuple[np.ndarray, int]:
    """Read an audio file as float32.

    Args:
        path: file to read.
        sample_rate: resample to this rate in Hz (soxr, very high quality); ``None``
            keeps the file's rate.
        mono: average the channels into one.

    Returns:
        ``(audio, sample_rate)``: audio [n_samples] when ``mono``, else
        [n_channels, n_samples] (a mono file gives [1, n_samples]); the rate in Hz of the
        returned audio.

    Raises:
        FileNotFoundError: no such file.
        AudioFileError: unreadable, unsupported or empty file.
    """
    path = _existing_file(path)
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _unreadable(path, err) from err
    if data.shape[0] == 0:
        raise AudioFileError(f"{path} holds no samples; remove it or record some audio into it")
    audio = data.mean(axis=1) if mono else np.ascontiguousarray(data.T)
    if not np.isfinite(audio).all():
        raise AudioFileError(f"{path} contains NaN or infinite samples; re-export it")
    if sample_rate is not None and sample_rate != file_rate:
        audio = resample(audio, orig_sample_rate=file_rate, sample_rate=sample_rate)
        file_rate = sample_rate
    return audio.astype(np.float32, copy=False), int(file_rate)


def save_audio(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    *,
    sample_rate: int,
    subtype: str = "PCM_16",
) -> Path:
    """Write audio to a WAV, FLAC or OGG file chosen by the file's extension.

    Args:
        path: output file; its folder must exist.
        audio: [n_samples] or [n_channels, n_samples], floating, nominally in [−1, 1].
        sample_rate: Hz.
        subtype: ``"PCM_16"``, ``"PCM_24"``, ``"PCM_32"`` or ``"FLOAT"`` (32-bit float,
            WAV only); ignored for OGG (Vorbis).

    Returns:
        The path written.

    Raises:
        AudioError: bad audio, sample rate, extension or subtype.
        FileNotFoundError: the folder does not exist.

    Warns:
        UserWarning: samples beyond ±1 will clip in a PCM file.
    """
    path = Path(path)
    check_audio(audio, ndim=(1, 2))
    sample_rate = check_sample_rate(sample_rate)
    file_format, sf_subtype = _write_format(path, subtype)
    if subtype.startswith("PCM") and float(np.max(np.abs(audio))) > 1.0:
        _warn_clipping(path, float(np.max(np.abs(audio))))
    frames = audio if audio.ndim == 1 else audio.T
    sf.write(str(path), frames, sample_rate, subtype=sf_subtype, format=file_format)
    return path


def read_audio_blocks(
    path: str | os.PathLike[str], *, block_size: int = 65536, mono: bool = True
) -> Iterator[np.ndarray]:
    """Read an audio file block by block as float32, for files too long to hold in memory.

    The blocks, concatenated, equal :func:`load_audio` at the file's rate
    (:func:`audio_info` gives that rate and the length).

    Args:
        path: file to read.
        block_size: samples per block (the last one may be shorter).
        mono: average the channels into one.

    Yields:
        [n] blocks when ``mono``, else [n_channels, n].

    Raises:
        FileNotFoundError: no such file.
        AudioFileError: unreadable, unsupported or empty file, or NaN or infinite samples.
    """
    path = _existing_file(path)
    try:
        sound = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _unreadable(path, err) from err
    with sound:
        n_read = 0
        while True:
            try:
                data = sound.read(block_size, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise _unreadable(path, err) from err
            if data.shape[0] == 0 and n_read == 0:
                raise AudioFileError(f"{path} holds no samples; remove it or record some "
                                     "audio into it")
            if data.shape[0] == 0:
                return
            n_read += data.shape[0]
            block = data.mean(axis=1) if mono else np.ascontiguousarray(data.T)
            if not np.isfinite(block).all():
                raise AudioFileError(f"{path} contains NaN or infinite samples; re-export it")
            yield block


class AudioWriter:
    """Write a WAV, FLAC or OGG file block by block: :func:`save_audio` for long outputs.

    A context manager; the file is complete once closed. ``peak`` holds the largest
    absolute sample written so far, ``n_samples`` the samples (per channel) written.

    Args:
        path: output file; its folder must exist; the extension picks the format.
        sample_rate: Hz.
        n_channels: channels of the blocks ([n] for 1, [n_channels, n] otherwise).
        subtype: as for :func:`save_audio`.

    Raises:
        AudioError: bad sample rate, extension or subtype.
        FileNotFoundError: the folder does not exist.

    Warns:
        UserWarning: at close, when samples beyond ±1 were clipped in a PCM file.
    """

    def __init__(self, path: str | os.PathLike[str], *, sample_rate: int, n_channels: int = 1,
                 subtype: str = "PCM_16") -> None:
        self.path = Path(path)
        file_format, sf_subtype = _write_format(self.path, subtype)
        self.subtype = subtype
        self.n_channels = n_channels
        self.peak = 0.0
        self.n_samples = 0
        self._file = sf.SoundFile(str(self.path), "w", samplerate=check_sample_rate(sample_rate),
                                  channels=n_channels, subtype=sf_subtype, format=file_format)

    def write(self, audio: np.ndarray) -> None:
        """Append [n] (mono) or [n_channels, n] audio."""
        if audio.size == 0:
            return
        check_audio(audio, ndim=1 if self.n_channels == 1 else 2)
        self.peak = max(self.peak, float(np.max(np.abs(audio))))
        self.n_samples += audio.shape[-1]
        self._file.write(audio if audio.ndim == 1 else audio.T)

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self._file.closed:
            return
        self._file.close()
        if self.subtype.startswith("PCM") and self.peak > 1.0:
            _warn_clipping(self.path, self.peak)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _write_format(path: Path, subtype: str) -> tuple[str, str]:
    """libsndfile's format and subtype for writing ``path``; checks extension and folder."""
    file_format = WRITE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise AudioError(
            f"cannot write {path.name!r}: unsupported extension {path.suffix!r}; "
            f"use one of {sorted(WRITE_FORMATS)}"
        )
    if subtype not in SUBTYPES:
        raise AudioError(f"subtype must be one of {SUBTYPES}, got {subtype!r}")
    if file_format == "FLAC" and subtype in ("FLOAT", "PCM_32"):
        raise AudioError(f"FLAC stores at most 24-bit PCM, got subtype={subtype!r}; use 'PCM_24'")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist")
    return file_format, "VORBIS" if file_format == "OGG" else subtype


def _warn_clipping(path: Path, peak: float) -> None:
    warnings.warn(
        f"audio peaks at {peak:.3f}, beyond ±1: {path.name} will clip; "
        "scale it down (dlwa.audio.normalize_peak) or use subtype='FLOAT'",
        stacklevel=3,
    )


def _existing_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such audio file: {path}")
    if not path.is_file():
        raise AudioFileError(f"{path} is a folder, not an audio file")
    return path


def _unreadable(path: Path, err: Exception) -> AudioFileError:
    return AudioFileError(
        f"cannot read {path} as audio ({err}); supported formats are WAV, FLAC, OGG, AIFF "
        "and the others libsndfile knows: convert it, e.g. `sox in.m4a out.wav`"
    )
