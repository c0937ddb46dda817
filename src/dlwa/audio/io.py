"""Reading and writing audio files with soundfile (numpy, float32).

Reads anything libsndfile reads (WAV incl. 32-bit float WAVE_FORMAT_EXTENSIBLE as Pd's
``writesf~`` writes it, FLAC, OGG/Vorbis, AIFF, MP3 with libsndfile ≥ 1.1); writes WAV,
FLAC and OGG. Mono audio is [n_samples]; multi-channel audio is channels first,
[n_channels, n_samples], like a batch.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

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
    if subtype.startswith("PCM") and float(np.max(np.abs(audio))) > 1.0:
        warnings.warn(
            f"audio peaks at {float(np.max(np.abs(audio))):.3f}, beyond ±1: {path.name} will clip; "
            "scale it down (dlwa.audio.normalize_peak) or use subtype='FLOAT'",
            stacklevel=2,
        )
    frames = audio if audio.ndim == 1 else audio.T
    sf_subtype = "VORBIS" if file_format == "OGG" else subtype
    sf.write(str(path), frames, sample_rate, subtype=sf_subtype, format=file_format)
    return path


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
