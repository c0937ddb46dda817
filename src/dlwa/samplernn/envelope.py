"""Temperatures that change over time, written as SuperCollider envelopes.

``Env([0.7, 1.05], [4], [-2])`` starts at 0.7 and reaches 1.05 after 4 seconds along a
curve of −2; the last level holds after the end. As in SuperCollider's ``Env``:

- ``levels``: n values; ``times``: n − 1 segment durations in seconds;
- ``curves`` (optional, default linear): one for all segments or one per segment, each a
  number (0 linear; positive bends toward the end level late, negative early) or a name:
  ``lin``/``linear``, ``exp``/``exponential``, ``sin``/``sine``, ``step``, ``hold``.

:func:`parse_temperature` also takes a plain number (one temperature throughout).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CURVE_NAMES = ("lin", "linear", "exp", "exponential", "sin", "sine", "step", "hold")
_ENV = re.compile(r"^\s*Env\s*\((.*)\)\s*$", re.DOTALL)


class EnvelopeError(ValueError):
    """A temperature or envelope that cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class Envelope:
    """Levels joined by timed, curved segments (see the module docstring)."""

    levels: tuple[float, ...]
    times: tuple[float, ...]
    curves: tuple[float | str, ...]

    def __post_init__(self) -> None:
        if len(self.levels) < 1 or len(self.times) != len(self.levels) - 1:
            raise EnvelopeError(f"Env needs n levels and n - 1 times, got {len(self.levels)} "
                                f"levels and {len(self.times)} times")
        if any(not math.isfinite(t) or t < 0 for t in self.times):
            raise EnvelopeError(f"Env times must be seconds >= 0, got {list(self.times)}")
        if len(self.curves) not in (1, len(self.times)) and self.times:
            raise EnvelopeError(f"Env needs one curve or one per segment ({len(self.times)}), "
                                f"got {len(self.curves)}")

    def render(self, n_samples: int, sample_rate: int) -> np.ndarray:
        """The envelope's value at each of ``n_samples`` samples, float64."""
        t = np.arange(n_samples) / sample_rate
        out = np.full(n_samples, self.levels[-1], dtype=np.float64)
        start = 0.0
        for i, duration in enumerate(self.times):
            a, b = self.levels[i], self.levels[i + 1]
            curve = self.curves[i if len(self.curves) > 1 else 0]
            inside = (t >= start) & (t < start + duration)
            x = (t[inside] - start) / duration if duration > 0 else np.ones(inside.sum())
            out[inside] = _segment(a, b, x, curve)
            start += duration
        return out


def _segment(a: float, b: float, x: np.ndarray, curve: float | str) -> np.ndarray:
    if curve in ("lin", "linear") or curve == 0:
        return a + (b - a) * x
    if curve in ("exp", "exponential"):
        if a <= 0 or b <= 0:
            raise EnvelopeError("an 'exp' curve needs levels above 0")
        return a * (b / a) ** x
    if curve in ("sin", "sine"):
        return a + (b - a) * (0.5 - 0.5 * np.cos(np.pi * x))
    if curve == "step":
        return np.full_like(x, b)
    if curve == "hold":
        return np.full_like(x, a)
    c = float(curve)
    return a + (b - a) * (1.0 - np.exp(c * x)) / (1.0 - math.exp(c))


def parse_temperature(text: str | float) -> float | Envelope:
    """A number, or ``Env([levels], [times], [curves])`` as SuperCollider writes it.

    Raises:
        EnvelopeError: neither a positive number nor a well-formed ``Env``.
    """
    if isinstance(text, int | float):
        return _positive(float(text), str(text))
    source = str(text).strip()
    match = _ENV.match(source)
    if match is None:
        try:
            return _positive(float(source), source)
        except ValueError:
            raise EnvelopeError(f"temperature {source!r}: give a number such as 0.9 or an "
                                "envelope such as Env([0.7,1.05],[4],[-2])") from None
    try:
        parts = ast.literal_eval(f"({match.group(1)},)")
    except (SyntaxError, ValueError):
        parts = _with_bare_names(match.group(1))
    if not 2 <= len(parts) <= 3:
        raise EnvelopeError(f"{source}: Env takes [levels], [times] and optional [curves]")
    levels, times = _numbers(parts[0], "levels", source), _numbers(parts[1], "times", source)
    curves = parts[2] if len(parts) == 3 else ["lin"]
    curves = [curves] if isinstance(curves, int | float | str) else list(curves)
    for curve in curves:
        if not (isinstance(curve, int | float) and math.isfinite(curve)
                or curve in CURVE_NAMES):
            raise EnvelopeError(f"{source}: a curve is a number or one of "
                                f"{', '.join(CURVE_NAMES)}, got {curve!r}")
    for level in levels:
        _positive(level, source)
    return Envelope(tuple(levels), tuple(times), tuple(curves))


def temperature_track(value: float | Envelope, n_samples: int, sample_rate: int
                      ) -> np.ndarray:
    """The temperature at each sample."""
    if isinstance(value, Envelope):
        return value.render(n_samples, sample_rate)
    return np.full(n_samples, float(value))


def _with_bare_names(body: str) -> tuple:
    """``Env([1,2],[3],[\\exp])`` or ``[exp]``: curve names written without quotes."""
    quoted = re.sub(r"\\?([A-Za-z]+)", r"'\1'", body)
    try:
        return ast.literal_eval(f"({quoted},)")
    except (SyntaxError, ValueError):
        raise EnvelopeError(f"Env({body}): write it as Env([0.7,1.05],[4],[-2])") from None


def _numbers(value: object, what: str, source: str) -> list[float]:
    if isinstance(value, int | float):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, int | float) for v in value):
        raise EnvelopeError(f"{source}: Env {what} must be a list of numbers")
    return [float(v) for v in value]


def _positive(value: float, source: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise EnvelopeError(f"temperature {source}: must be above 0 (1 samples as trained, "
                            "lower is tamer, higher wilder)")
    return value
