"""The transfer controls that ``[timbre_transfer]`` and ``[ddsp~]`` share: one message each.

Each handler checks nothing itself: it hands ``(name, value)`` to the object's
``set_parameter``, which checks the range, stores or applies the value and replies
``done <name> <value>``.
"""

from __future__ import annotations

from typing import Any

from dlwa.pd.base import message


class TransferControls:
    """Mixin: the six DDSP transfer controls as messages (see the module docstring)."""

    def set_parameter(self, key: str, value: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @message("f0_octave_shift <octaves>")
    def f0_octave_shift_1(self, value: Any) -> None:
        """Octaves added to the input's pitch (−20…20)."""
        self.set_parameter("f0_octave_shift", value)

    @message("f0_confidence_threshold <0..1>")
    def f0_confidence_threshold_1(self, value: Any) -> None:
        """Frames less confident than this are unvoiced (noise only)."""
        self.set_parameter("f0_confidence_threshold", value)

    @message("loudness_db_shift <dB>")
    def loudness_db_shift_1(self, value: Any) -> None:
        """dB added to the input's loudness (−100…100)."""
        self.set_parameter("loudness_db_shift", value)

    @message("adjust <0|1>")
    def adjust_1(self, value: Any) -> None:
        """Auto adjust toward the model's training data."""
        self.set_parameter("adjust", value)

    @message("quiet <dB>")
    def quiet_1(self, value: Any) -> None:
        """dB by which auto adjust lowers what is played between notes (0…100)."""
        self.set_parameter("quiet", value)

    @message("autotune <0..1>")
    def autotune_1(self, value: Any) -> None:
        """How far auto adjust pulls notes onto semitones."""
        self.set_parameter("autotune", value)
