"""TensorBoard logs of a training run: scalars, sound examples and pictures.

Every trainer writes its losses, learning rate and validation figures as scalars, and at
each save a few examples a person can hear and see (resynthesised audio and its
spectrogram, generated notes, a generated melody as a piano roll). Only rank 0 writes
(:class:`TrainLog` is silent on the others). Watch a run with ``tensorboard --logdir
<out>/logs``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

LOG_FOLDER = "logs"
"""The default ``--logdir``: inside the run's output folder."""


class TrainLog:
    """A TensorBoard writer for one run; every method does nothing when ``enabled`` is False.

    Args:
        logdir: Folder of event files (created on the first write).
        enabled: False on ranks other than 0.
    """

    def __init__(self, logdir: str | os.PathLike[str] | None, *, enabled: bool = True) -> None:
        self.logdir = None if logdir is None else Path(logdir)
        self._writer: Any = None
        self.enabled = enabled and logdir is not None

    @property
    def writer(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.logdir.mkdir(parents=True, exist_ok=True)
            self._writer = SummaryWriter(os.fspath(self.logdir))
        return self._writer

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        """``values``: tag (``loss/train``, ``learning_rate`` …) → number at ``step``."""
        if self.enabled:
            for tag, value in values.items():
                self.writer.add_scalar(tag, float(value), step)

    def audio(self, tag: str, step: int, audio: np.ndarray, sample_rate: int) -> None:
        """A mono sound example, and its spectrogram as the image ``<tag>/spectrogram``."""
        if not self.enabled:
            return
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        scaled = audio / peak if peak > 1.0 else audio  # TensorBoard expects [-1, 1]
        self.writer.add_audio(tag, scaled[None], step, sample_rate=sample_rate)
        self.image(f"{tag}/spectrogram", step, spectrogram_image(audio))

    def image(self, tag: str, step: int, image: np.ndarray) -> None:
        """An RGB image [height, width, 3] of uint8."""
        if self.enabled:
            self.writer.add_image(tag, image, step, dataformats="HWC")

    def text(self, tag: str, step: int, text: str) -> None:
        if self.enabled:
            self.writer.add_text(tag, text, step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


# A dark-to-bright ramp (black, purple, orange, pale yellow) for magnitudes.
_RAMP = np.array([[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]],
                 dtype=np.float64)


def colourise(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] [height, width] → RGB uint8 [height, width, 3] along the ramp."""
    position = np.clip(values, 0.0, 1.0) * (len(_RAMP) - 1)
    low = np.floor(position).astype(int).clip(0, len(_RAMP) - 2)
    frac = (position - low)[..., None]
    rgb = _RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac
    return rgb.round().astype(np.uint8)


def spectrogram_image(audio: np.ndarray, *, n_fft: int = 512, hop: int = 128,
                      range_db: float = 80.0) -> np.ndarray:
    """A log-magnitude spectrogram as an RGB image, low frequencies at the bottom."""
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    if audio.size < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.size))
    n_frames = 1 + (audio.size - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop][:n_frames]
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)).T
    db = 20 * np.log10(np.maximum(magnitude, 1e-10))
    scaled = (db - (db.max() - range_db)) / range_db
    return colourise(scaled[::-1])


def piano_roll_image(pitches: Sequence[int] | np.ndarray, *, low: int | None = None,
                     high: int | None = None, cell: int = 4) -> np.ndarray:
    """A melody as a piano roll: one column per step, one row per MIDI pitch, high at top.

    ``pitches`` holds a MIDI pitch per step, or a negative number for silence. Each cell is
    ``cell`` pixels square; octaves (C) are marked by faint lines.
    """
    pitches = np.asarray(pitches, dtype=int).reshape(-1)
    sounding = pitches[pitches >= 0]
    low = int(sounding.min()) - 2 if low is None and sounding.size else (low or 48)
    high = int(sounding.max()) + 2 if high is None and sounding.size else (high or 84)
    n_rows = high - low + 1
    roll = np.zeros((n_rows, max(len(pitches), 1)))
    for step, pitch in enumerate(pitches):
        if low <= pitch <= high:
            roll[high - pitch, step] = 1.0
    image = colourise(0.08 + 0.92 * roll)
    for pitch in range(low, high + 1):
        if pitch % 12 == 0:
            image[high - pitch][roll[high - pitch] == 0] = (40, 40, 60)
    return np.repeat(np.repeat(image, cell, axis=0), cell, axis=1)


def melody_pitches(events: Sequence[int] | np.ndarray) -> np.ndarray:
    """Magenta melody events (pitch = note on, -2 = hold, -1 = note off) → the pitch
    sounding at each step (-1 for silence), for :func:`piano_roll_image`."""
    out = np.full(len(events), -1, dtype=int)
    current = -1
    for i, event in enumerate(np.asarray(events, dtype=int)):
        if event >= 0:
            current = int(event)
        elif event == -1:
            current = -1
        out[i] = current
    return out
