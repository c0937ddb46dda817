"""``[pyext. dlwa.pd tone]``: a decaying harmonic tone rendered into a Pd array.

A bridge demo until real models exist: it exercises everything a model object does
(array writes with resize and redraw, detached work, progress, errors, ``load``) with
plain numpy synthesis instead of a network.

Messages (inlet 1):

- ``render <array> <pitch_midi> <duration_s> [amplitude...]``: synthesise a tone at
  Pd's sample rate into ``array``; the amplitudes of harmonics 1, 2, … default to the
  current timbre. Replies ``progress …`` then ``done render <array> <n_samples>``.
- ``timbre <amplitude...>``: set the default harmonic amplitudes; ``done timbre <n>``.
- ``decay <decay_s>``: set the decay time of the fundamental; ``done decay <decay_s>``.
- ``load <name or path>``: a ``tone`` checkpoint (``config.json`` with ``decay_s``;
  weights ``harmonics``) sets timbre and decay; plus ``unload``, ``status``, ``help``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlwa.audio.conversions import midi_to_hz
from dlwa.audio.signals import decaying_tone
from dlwa.pd._host import pyext
from dlwa.pd.base import PdObject, message, name_arg, number

MAX_DURATION_S = 60.0
MAX_HARMONICS = 64
PEAK = 0.5


@dataclass(frozen=True)
class Timbre:
    """What a tone sounds like.

    Attributes:
        harmonics: Relative amplitudes of harmonics 1, 2, …; non-negative, not all zero.
        decay_s: Time for the fundamental to fall by 1/e; harmonic k decays k times faster
            over sqrt(k) (brighter attack, mellower tail).
    """

    harmonics: tuple[float, ...] = (1.0, 0.5, 0.33, 0.25, 0.2, 0.12)
    decay_s: float = 0.6


def check_harmonics(amplitudes: Sequence[Any]) -> tuple[float, ...]:
    """Validate harmonic amplitudes (numbers >= 0, 1..64 of them, not all zero)."""
    if not 1 <= len(amplitudes) <= MAX_HARMONICS:
        raise ValueError(f"give 1 to {MAX_HARMONICS} harmonic amplitudes: got {len(amplitudes)}")
    values = tuple(number(a, f"amplitude {i + 1}", low=0.0) for i, a in enumerate(amplitudes))
    if not any(values):
        raise ValueError("harmonic amplitudes are all 0: give at least one above 0 (e.g. 1)")
    return values


class tone(PdObject):  # Pd object names are lower case
    """Render decaying harmonic tones into Pd arrays (the bridge demo object)."""

    object_name = "tone"
    checkpoint_kind = "tone"
    tensor_framework = "numpy"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.timbre = Timbre()

    @message("render <array> <pitch_midi> <duration_s> [amplitude...]")
    def render_1(self, array: Any, pitch_midi: Any, duration_s: Any, *amplitudes: Any
                 ) -> Generator[None, None, None]:
        """Synthesise into ``array``; replies ``done render <array> <n_samples>``."""
        name = name_arg(array, "array")
        self.buffer(name)  # fail before the work if the array is missing
        pitch = number(pitch_midi, "pitch_midi", low=0, high=127)
        duration = number(duration_s, "duration_s", low=1e-3, high=MAX_DURATION_S)
        timbre = self.timbre
        if amplitudes:
            timbre = Timbre(check_harmonics(amplitudes), timbre.decay_s)
        yield
        self.state = "rendering"
        audio = decaying_tone(
            midi_to_hz(pitch), duration_s=duration, sample_rate=pyext._samplerate(),
            harmonics=timbre.harmonics, decay_s=timbre.decay_s, peak=PEAK,
            progress=self.progress,
        )
        self.done("render", name, self.write_array(name, audio))

    @message("timbre <amplitude...>")
    def timbre_1(self, *amplitudes: Any) -> None:
        """Set the default harmonic amplitudes; replies ``done timbre <n_harmonics>``."""
        self.timbre = Timbre(check_harmonics(amplitudes), self.timbre.decay_s)
        self.done("timbre", len(self.timbre.harmonics))

    @message("decay <decay_s>")
    def decay_1(self, decay_s: Any) -> None:
        """Set the fundamental's decay time; replies ``done decay <decay_s>``."""
        decay = number(decay_s, "decay_s", low=1e-3, high=MAX_DURATION_S)
        self.timbre = Timbre(self.timbre.harmonics, decay)
        self.done("decay", decay)

    def build_model(self, checkpoint: Any) -> Timbre:
        """A ``tone`` checkpoint is a timbre: weights ``harmonics``, config ``decay_s``."""
        harmonics = checkpoint.state_dict.get("harmonics")
        if harmonics is None or np.ndim(harmonics) != 1:
            raise ValueError(f"{checkpoint.path}: needs a 1-D weight 'harmonics'")
        decay = number(checkpoint.config.get("decay_s"), "config decay_s", low=1e-3)
        self.timbre = Timbre(check_harmonics([float(h) for h in harmonics]), decay)
        return self.timbre

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        """``timbre <amplitudes…>`` and ``decay <decay_s>``."""
        return [("timbre", *self.timbre.harmonics), ("decay", self.timbre.decay_s)]
