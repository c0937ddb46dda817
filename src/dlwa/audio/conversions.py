"""Unit conversions and squashing functions: MIDI↔Hz, dB↔amplitude, exp_sigmoid, safe_log.

Every function is elementwise and takes a numpy array (or a Python float) or a torch
tensor, returning the same kind; torch inputs keep their gradients. Conventions:
``pitch_midi`` is a (fractional) MIDI note number with A4 = 69 = 440 Hz; ``*_db`` are
decibels, 20·log10 for amplitudes and 10·log10 for powers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar, cast

import numpy as np

from dlwa.audio.validate import is_tensor

if TYPE_CHECKING:
    import torch

ArrayLike = TypeVar("ArrayLike", np.ndarray, "torch.Tensor", float)

A4_HZ = 440.0
A4_MIDI = 69.0


def midi_to_hz(pitch_midi: ArrayLike) -> ArrayLike:
    """MIDI note number to frequency in Hz: ``440 · 2^((pitch_midi − 69) / 12)``."""
    return A4_HZ * 2.0 ** ((pitch_midi - A4_MIDI) / 12.0)


def hz_to_midi(f0_hz: ArrayLike) -> ArrayLike:
    """Frequency in Hz to fractional MIDI note number.

    Frequencies at or below 0 Hz (unvoiced frames) map to MIDI 0, as in DDSP, instead
    of ``-inf``.
    """
    if is_tensor(f0_hz):
        pitch = 12.0 * (f0_hz.clamp(min=1e-6) / A4_HZ).log2() + A4_MIDI
        return pitch.masked_fill(f0_hz <= 0, 0.0)
    f0 = np.asarray(f0_hz, dtype=np.result_type(f0_hz, np.float32))
    pitch_np = 12.0 * np.log2(np.maximum(f0, 1e-6) / A4_HZ) + A4_MIDI
    return _like(np.where(f0 <= 0, 0.0, pitch_np).astype(f0.dtype), f0_hz)


def db_to_amplitude(db: ArrayLike) -> ArrayLike:
    """Decibels to linear amplitude: ``10^(db / 20)``."""
    return 10.0 ** (db / 20.0)


def db_to_power(db: ArrayLike) -> ArrayLike:
    """Decibels to linear power: ``10^(db / 10)``."""
    return 10.0 ** (db / 10.0)


def amplitude_to_db(amplitude: ArrayLike, *, min_amplitude: float = 1e-10) -> ArrayLike:
    """Linear amplitude to decibels, ``20·log10(max(amplitude, min_amplitude))``.

    ``min_amplitude`` (> 0) sets the floor: 1e-10 gives at least −200 dB.
    """
    if is_tensor(amplitude):
        return 20.0 * amplitude.clamp(min=min_amplitude).log10()
    result = 20.0 * np.log10(np.maximum(amplitude, min_amplitude))
    return _like(result, amplitude)


def power_to_db(power: ArrayLike, *, min_power: float = 1e-20) -> ArrayLike:
    """Linear power to decibels, ``10·log10(max(power, min_power))``."""
    if is_tensor(power):
        return 10.0 * power.clamp(min=min_power).log10()
    result = 10.0 * np.log10(np.maximum(power, min_power))
    return _like(result, power)


def exp_sigmoid(
    x: ArrayLike,
    *,
    exponent: float = 10.0,
    max_value: float = 2.0,
    threshold: float = 1e-7,
) -> ArrayLike:
    """DDSP's exponentiated sigmoid, the squashing for amplitudes a network predicts.

    ``max_value · sigmoid(x)^ln(exponent) + threshold``: positive, bounded by
    ``max_value + threshold``, and with a slope that suits amplitudes spanning decades.

    Args:
        x: raw network output, any shape.
        exponent: base of the exponential curve (DDSP default 10).
        max_value: the largest output (DDSP default 2).
        threshold: the smallest output, keeping logs and divisions finite.
    """
    if is_tensor(x):
        return max_value * x.sigmoid() ** math.log(exponent) + threshold
    sig = 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))  # overflow-free sigmoid
    out = max_value * sig ** math.log(exponent) + threshold
    if isinstance(x, np.ndarray):
        return out.astype(np.result_type(x.dtype, np.float32))
    return _like(out, x)


def safe_log(x: ArrayLike, *, eps: float = 1e-5) -> ArrayLike:
    """Natural log of ``max(x, eps)``, finite for zeros (and with a zero gradient there)."""
    if is_tensor(x):
        return x.clamp(min=eps).log()
    result = np.log(np.maximum(x, eps))
    return _like(result, x)


def _like(result: np.ndarray, x: ArrayLike) -> ArrayLike:
    """Return a Python float for scalar input, the array otherwise."""
    return cast(ArrayLike, result if isinstance(x, np.ndarray) else float(result))
