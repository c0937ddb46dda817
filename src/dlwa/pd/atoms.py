"""Pd messages as the pyext API sees them: ``Symbol``, atom conversions, Pd's printing.

Conversions follow ``../shared/reference/pyext-spec.md``: Pd atoms → Python (§2.4: Pd
floats are 32-bit, integral ones become ``int``, symbols become ``Symbol``) and Python →
Pd (§2.5, with the numeric extension: anything with ``__index__``/``__float__``, 1-D
arrays element-wise). ``format_message`` shows a message as Pd 0.53's ``[print]`` does,
``parse_message`` reads one as a message box does. Used by the stand-in (``standin``).
"""

from __future__ import annotations

import array as _array
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

import numpy as np


def _warn(text: str) -> None:
    print(text, file=sys.stderr)


Atom = float | str
"""A Pd atom as the stand-in stores it: a float (32-bit value) or a symbol name."""

Message = tuple[str, list[Atom]]
"""A Pd message: selector and atoms."""


# ---------------------------------------------------------------------------
# Symbol (§2.6)


class Symbol(str):
    """A Pd symbol: a ``str`` subclass, so ``Symbol("a") == "a"`` (the spec's recommendation).

    ``repr`` is ``<Symbol name>``; the class cannot be subclassed.
    """

    __slots__ = ()

    def __new__(cls, name: str = "") -> Self:
        if not isinstance(name, str):
            raise TypeError(f"Symbol() takes a str or Symbol, not {type(name).__name__}")
        return super().__new__(cls, name)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("pyext.Symbol cannot be subclassed")

    def __repr__(self) -> str:
        return f"<Symbol {self!s}>"


_s_ = Symbol("")
_s_bang = Symbol("bang")
_s_list = Symbol("list")
_s_symbol = Symbol("symbol")
_s_float = Symbol("float")
_s_int = Symbol("int")


def to_pd_float(x: float) -> float:
    """Round a number to the 32-bit float a Pd atom holds."""
    return float(np.float32(x))


def atom_to_python(atom: Atom) -> int | float | Symbol:
    """Convert one Pd atom to Python (§2.4): integral floats become ``int``."""
    if isinstance(atom, str):
        return Symbol(atom)
    x = to_pd_float(atom)
    if math.isfinite(x) and x == int(x):
        return int(x)
    return x


MAX_ARRAY_FRAMES = 268_435_455
"""The most frames a Pd array holds (Pd computes byte sizes as int)."""


def is_complex(v: Any) -> bool:
    """Whether ``v`` is a complex number, or a numpy array or torch tensor of them."""
    if isinstance(v, complex):
        return True
    dtype = getattr(v, "dtype", None)
    if dtype is None:
        return False
    return getattr(dtype, "kind", None) == "c" or bool(getattr(dtype, "is_complex", False))


def refuse_complex(v: Any, what: str) -> None:
    """Raise TypeError for complex values, as the external does: Pd has real numbers only."""
    if is_complex(v):
        raise TypeError(f"complex value ({type(v).__name__}) cannot be {what}: Pd has real "
                        "numbers only; send .real, .imag or abs() of it")


def pd_symbol(text: str) -> str:
    """``text`` as a Pd symbol; a lone surrogate raises UnicodeEncodeError, as in Pd."""
    text.encode("utf-8")
    return str(text)


def _is_sequence(v: Any) -> bool:
    """Lists, tuples, bytes, ``array.array`` and 1-D arrays/tensors (not strings)."""
    if isinstance(v, str):
        return False
    if isinstance(v, (list, tuple, bytes, bytearray, _array.array)):
        return True
    ndim = getattr(v, "ndim", None)
    if ndim is not None:
        return bool(ndim == 1)
    return isinstance(v, Sequence)


def _number(v: Any) -> float | None:
    """Return ``v`` as a Pd float if it is a number (incl. numpy/torch scalars), else None."""
    if isinstance(v, (bool, int, float)):
        return to_pd_float(v)
    if isinstance(v, str) or _is_sequence(v):
        return None
    for attr in ("__index__", "__float__"):
        if hasattr(type(v), attr):
            try:
                return to_pd_float(getattr(v, attr)())
            except Exception:  # noqa: BLE001, S112 - e.g. a multi-element tensor: try the next
                continue
    return None


def _atom(v: Any, warn: Callable[[str], None]) -> Atom:
    """Convert one item of a sequence to an atom; unconvertible items become the empty symbol."""
    if isinstance(v, str):
        return pd_symbol(v)
    refuse_complex(v, "sent to Pd")
    x = _number(v)
    if x is not None:
        return x
    warn(f"Could not convert argument {type(v).__name__}")
    return ""


def python_to_pd(value: Any, warn: Callable[[str], None] = _warn) -> Message:
    """Convert what a script outputs to a Pd message (§2.5, with the numeric extension).

    Args:
        value: The value given to ``_outlet``/``_send`` (several values arrive as a tuple).
        warn: Where to report values that cannot be converted (Pd's console).

    Returns:
        ``(selector, atoms)``: ``None`` → ``bang``; a number → ``float``; a string →
        ``symbol``; ``(str, sequence)`` → an anything message with that selector;
        any other 1-D sequence → ``list`` (empty → ``bang``).
    """
    if value is None:
        return "bang", []
    if isinstance(value, str):
        return "symbol", [pd_symbol(value)]
    refuse_complex(value, "sent to Pd")
    x = _number(value)
    if x is not None:
        return "float", [x]
    if _is_sequence(value):
        items = list(value)
        if (
            len(items) == 2 and isinstance(items[0], str) and not isinstance(items[1], str)
            and _is_sequence(items[1])
        ):
            return pd_symbol(items[0]), [_atom(a, warn) for a in items[1]]
        if not items:
            return "bang", []
        return "list", [_atom(a, warn) for a in items]
    warn(f"Could not convert argument {type(value).__name__}")
    return "symbol", [""]


def _format_float(x: float) -> str:
    return f"{x:g}"


def _format_symbol(s: str) -> str:
    out = []
    for i, ch in enumerate(s):
        dollar = ch == "$" and i + 1 < len(s) and s[i + 1].isdigit()
        out.append("\\" + ch if ch in " ,;\\" or dollar else ch)
    return "".join(out)


def format_atoms(atoms: Iterable[Atom]) -> str:
    """Format atoms as Pd 0.53 prints them (``%g`` floats, escaped symbols)."""
    return " ".join(
        _format_symbol(a) if isinstance(a, str) else _format_float(a) for a in atoms
    )


def format_message(selector: str, atoms: Sequence[Atom]) -> str:
    """Format a message as ``[print]`` shows it, without the ``name:`` prefix."""
    if selector == "bang" or (selector == "list" and not atoms):
        return "bang"
    if selector == "float" and len(atoms) == 1:
        return format_atoms(atoms)
    if selector == "symbol":
        return "symbol " + format_atoms(atoms[:1])
    if selector == "list":
        if not isinstance(atoms[0], str):
            return format_atoms(atoms)
        return ("list " if len(atoms) > 1 else "symbol ") + format_atoms(atoms)
    return " ".join([_format_symbol(selector), format_atoms(atoms)]).rstrip(" ")


_PD_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def is_pd_number(word: str) -> bool:
    """Whether Pd reads ``word`` as a float atom (``3``, ``-0.5``, ``1e+06``; not ``nan``)."""
    return _PD_NUMBER.match(word) is not None


def parse_message(text: str) -> Message:
    """Parse a message as a Pd message box would: ``"3"``, ``"1 2"``, ``"foo 1 bar"``."""
    atoms: list[Atom] = [
        to_pd_float(float(word)) if _PD_NUMBER.match(word) else word for word in text.split()
    ]
    if not atoms:
        return "bang", []
    if isinstance(atoms[0], str):
        return atoms[0], atoms[1:]
    return ("float" if len(atoms) == 1 else "list"), atoms
