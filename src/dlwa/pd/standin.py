"""A headless stand-in for the ``pyext`` module that ``pyext_py3`` provides inside Pd.

It lets pytest and scripts drive the exact classes Pd loads, with the semantics of
``../shared/reference/pyext-spec.md`` (our external implements the same):

- ``_class`` with 1-based, range-checked ``_outlet``; ``_send``, ``_bind``/``_unbind``;
  ``_detach``, ``_shouldexit``, ``_canvas_dir``, ``_samplerate()``, ``_blocksize()``;
  the ``__init__`` → outlets → ``_init`` creation order and the ``_del`` hook (§1.8).
- Message dispatch in the order of §2.3; atoms → Python as in §2.4 (Pd floats are 32-bit,
  integral ones become ``int``, symbols become ``Symbol``); Python → Pd as in §2.5 with
  the numeric extension (anything with ``__index__``/``__float__``, 1-D arrays).
- ``Symbol`` as a ``str`` subclass (§2.6) and a numpy-backed ``Buffer`` over arrays the
  test creates with ``make_array`` (§2.7).
- Detached handlers run synchronously, as the real external does in ``pd -batch``.

The test-facing API sits at the bottom: ``create``, ``send``, ``send_message``,
``send_to``, ``outputs``, ``sent``, ``console``, ``delete``, ``stop``, ``make_array``,
``array``, ``set_samplerate`` and ``reset``. Messages come back formatted as Pd's
``[print]`` would show them, e.g. ``"3"``, ``"symbol abc"``, ``"list note 60 100"``,
``"note 60 100"``, ``"bang"``.
"""

from __future__ import annotations

import math
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from dlwa.pd.atoms import (
    MAX_ARRAY_FRAMES,
    Atom,
    Message,
    Symbol,
    _s_,
    _s_bang,
    _s_float,
    _s_int,
    _s_list,
    _s_symbol,
    atom_to_python,
    format_message,
    parse_message,
    python_to_pd,
    refuse_complex,
    to_pd_float,
)

__all__ = [
    "Buffer", "Symbol", "_arraysupport", "_blocksize", "_class", "_priority", "_s_",
    "_s_bang", "_s_float", "_s_int", "_s_list", "_s_symbol", "_samplerate", "_send",
    "array", "console", "create", "delete", "detach_mode", "install", "is_dirty",
    "make_array", "messages", "outputs", "reset", "send", "send_message", "send_to",
    "sent", "set_samplerate", "stop",
]

# ---------------------------------------------------------------------------
# Host state shared by all objects (one Pd instance)


@dataclass
class _Host:
    sample_rate: float = 48000.0
    block_size: int = 64
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    sent: list[tuple[str, Message]] = field(default_factory=list)
    bindings: dict[str, list[Callable[..., Any]]] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)


_host = _Host()


def _post(text: str) -> None:
    """Write lines to the stand-in console (recorded) and to stderr, as Pd's console would."""
    for line in text.rstrip("\n").splitlines() or [""]:
        _host.console.append(line)
        print(line, file=sys.stderr)


# ---------------------------------------------------------------------------
# Module-level functions (§2.1)


def _send(receiver: str, *args: Any) -> None:
    """Send a message to a named receiver; ``_send(name)`` alone sends ``bang``.

    The stand-in records it (see ``sent``) and delivers it to ``_bind`` callables.
    """
    value = None if not args else args[0] if len(args) == 1 else args
    message = python_to_pd(value, _post)
    _host.sent.append((str(receiver), message))
    _deliver(str(receiver), message)


def _samplerate() -> float:
    """Pd's sample rate in Hz, as a float."""
    return float(_host.sample_rate)


def _blocksize() -> int:
    """Pd's block size (64)."""
    return int(_host.block_size)


def _arraysupport() -> bool:
    """True: this build has numpy support."""
    return True


def _priority(n: int) -> None:
    """Change the current thread's OS priority; a no-op in the stand-in."""


# ---------------------------------------------------------------------------
# Buffer (§2.7)


class Buffer:
    """A Pd array (``[table name]`` or a graph's array) seen as float32 samples.

    Raises:
        ValueError: no array of that name exists (the spec's recommendation).
    """

    def __init__(self, name: str) -> None:
        self.symbol = Symbol(str(name))
        if self.symbol not in _host.arrays:
            raise ValueError(f"no Pd array named '{self.symbol}'")

    @property
    def _data(self) -> np.ndarray:
        return _host.arrays[self.symbol]

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self._data[index]
        return float(self._data[self._index(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            self._assign(index, value, resize=False)
        else:
            refuse_complex(value, "written to a Pd array")
            self._data[self._index(index)] = float(value)
            self.dirty()

    def __delitem__(self, index: Any) -> None:
        raise TypeError("pyext.Buffer items cannot be deleted")

    def _index(self, index: Any) -> int:
        if not hasattr(type(index), "__index__"):
            raise TypeError("pyext.Buffer indices must be integers or slices")
        i, n = int(index.__index__()), len(self._data)
        if not -n <= i < n:
            raise IndexError("pyext.Buffer index out of range")
        return i % n

    def _assign(self, index: slice, value: Any, *, resize: bool) -> None:
        refuse_complex(value, "written to a Pd array")
        if np.iscomplexobj(value):
            refuse_complex(np.asarray(value), "written to a Pd array")
        values = np.asarray(value, dtype=np.float32).reshape(-1)
        if resize and values.size == 0:
            raise ValueError("pyext.Buffer.write: no data (a Pd array has at least one element)")
        if resize and values.size != len(self._data):
            self.resize(values.size)
        target = self._data[index]
        if values.size not in (1, target.size):
            raise ValueError(
                f"pyext.Buffer: cannot assign {values.size} values to a slice of {target.size}"
            )
        self._data[index] = values
        self.dirty()

    def write(self, data: Any, resize: bool = True) -> Self:
        """Write all samples at once, first resizing the array to fit (unless ``resize=False``)."""
        self._assign(slice(None), data, resize=resize)
        return self

    def __iter__(self) -> Any:
        return (float(x) for x in self._data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self._data
        return data if dtype is None else data.astype(dtype)

    def __mul__(self, other: Any) -> np.ndarray:
        product: np.ndarray = self._data * other
        return product

    __rmul__ = __mul__

    def __add__(self, other: Any) -> np.ndarray:
        total: np.ndarray = self._data + other
        return total

    __radd__ = __add__

    def __neg__(self) -> np.ndarray:
        return -self._data

    def __imul__(self, other: Any) -> Self:
        self._data[:] *= other
        self.dirty()
        return self

    def __iadd__(self, other: Any) -> Self:
        self._data[:] += other
        self.dirty()
        return self

    def dirty(self) -> None:
        """Ask Pd to redraw the array (the stand-in records the name; see ``is_dirty``)."""
        _host.dirty.add(self.symbol)

    def resize(self, frames: int, keep: int = 1, zero: int = 1) -> Self:
        """Resize the array to ``frames`` samples, keeping (and zero-filling) as asked."""
        if frames < 0:
            raise ValueError("pyext.Buffer.resize: frames must be >= 0")
        if frames > MAX_ARRAY_FRAMES:
            raise OverflowError(f"pyext.Buffer.resize: {frames} frames is more than a Pd array "
                                f"can hold (at most {MAX_ARRAY_FRAMES})")
        n = max(int(frames), 1)
        old = self._data
        new = np.zeros(n, dtype=np.float32)
        if keep:
            m = min(n, len(old))
            new[:m] = old[:m]
        _host.arrays[self.symbol] = new
        self.dirty()
        return self

    def __repr__(self) -> str:
        return f"<pyext.Buffer {self.symbol} ({len(self)} frames)>"


# ---------------------------------------------------------------------------
# _class (§2.2) and dispatch (§2.3)


@dataclass
class _ObjectState:
    canvas_dir: str
    n_outlets: int | None = None
    n_inlets: int = 0
    detach: int = 0
    should_exit: bool = False
    stop_count: int = 0
    running: int = 0
    alive: bool = True
    outputs: list[tuple[int, Message]] = field(default_factory=list)
    bound: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)


def _state(obj: Any) -> _ObjectState:
    state: _ObjectState | None = obj.__dict__.get("_pyext_state")
    if state is None:
        raise RuntimeError("pyext object not created through the host (use standin.create)")
    return state


class _class:
    """Base class of pyext scripts: ``class foo(pyext._class): ...``."""

    _inlets: Any = 0
    _outlets: Any = 0

    def __init__(self, *args: Any) -> None:
        pass

    def _outlet(self, n: int, *args: Any) -> None:
        """Send ``args`` (one value, or several packed into a tuple) to Python outlet ``n``.

        Raises:
            ValueError: ``n`` is not between 1 and the number of outlets.
            RuntimeError: the outlets do not exist yet (``__init__``) or any more.
        """
        state = _state(self)
        if not state.alive or state.n_outlets is None:
            raise RuntimeError("pyext object has no outlets (not yet created, or deleted)")
        if not isinstance(n, int) or not 1 <= n <= state.n_outlets:
            raise ValueError(f"outlet index {n!r} out of range (1..{state.n_outlets})")
        value = None if not args else args[0] if len(args) == 1 else args
        state.outputs.append((n, python_to_pd(value, _post)))

    def _detach(self, mode: int) -> None:
        """Set the threading mode (0, 1 or 2); handlers still run synchronously here."""
        if mode not in (0, 1, 2) or isinstance(mode, bool):
            raise ValueError(f"detach mode must be 0, 1 or 2, not {mode!r}")
        _state(self).detach = int(mode)

    def _stop(self, ms: int = 100) -> None:
        """Ask running detached calls to stop (see ``stop``)."""
        stop(self)

    def _bind(self, name: str, func: Callable[..., Any]) -> None:
        """Make ``func(*atoms)`` receive every message sent to ``name``."""
        _host.bindings.setdefault(str(name), []).append(func)
        _state(self).bound.append((str(name), func))

    def _unbind(self, name: str, func: Callable[..., Any]) -> None:
        """Undo ``_bind(name, func)``."""
        funcs = _host.bindings.get(str(name), [])
        if func in funcs:
            funcs.remove(func)
        bound = _state(self).bound
        if (str(name), func) in bound:
            bound.remove((str(name), func))

    @property
    def _stopcount(self) -> int:
        state = self.__dict__.get("_pyext_state")
        return 0 if state is None else state.stop_count

    @property
    def _shouldexit(self) -> bool:
        state = self.__dict__.get("_pyext_state")
        return state is None or state.should_exit or not state.alive

    @property
    def _canvas_dir(self) -> str:
        return _state(self).canvas_dir

    @property
    def _isthreaded(self) -> bool:
        return True

    _send = staticmethod(_send)
    _samplerate = staticmethod(_samplerate)
    _blocksize = staticmethod(_blocksize)

    def __str__(self) -> str:
        return f"<pyext object 0x{id(self):x}>"


def _handler_args(selector: str, args: list[Any]) -> list[Any]:
    if selector in ("float", "list", "symbol"):
        return args
    return [Symbol(selector), *args]


def _dispatch(obj: _class, inlet: int, selector: str, atoms: Sequence[Atom]) -> None:
    args: list[Any] = [atom_to_python(a) for a in atoms]
    is_float = selector == "float" and len(args) == 1
    anything = _handler_args(selector, args)
    if selector == "bang":
        any_inlet = [inlet, Symbol("bang"), Symbol("")]
    else:
        any_inlet = [inlet, *anything]
    candidates: list[tuple[str, list[Any]]] = [(f"{selector}_{inlet}", args)]
    if is_float:
        candidates.append((f"int_{inlet}", [math.trunc(args[0])]))
    candidates += [(f"_anything_{inlet}", anything), (f"{selector}_", [inlet, *args])]
    if is_float:
        candidates.append(("int_", [math.trunc(args[0])]))
    candidates.append(("_anything_", any_inlet))
    for name, call_args in candidates:
        handler = getattr(obj, name, None)
        if handler is not None:
            state = _state(obj)
            state.running += 1
            try:
                _call(handler, call_args)
            finally:
                state.running -= 1
            return
    _post(f"pyext: no matching method found for '{selector}' into inlet {inlet}")


def _call(func: Callable[..., Any], args: list[Any]) -> None:
    try:
        result = func(*args)
    except Exception:  # noqa: BLE001 - like Pd: print the traceback, keep the object working
        _post(traceback.format_exc())
        return
    if result:
        _post("pyext: returned value is ignored")


def _deliver(receiver: str, message: Message) -> None:
    selector, atoms = message
    args = _handler_args(selector, [atom_to_python(a) for a in atoms])
    for func in list(_host.bindings.get(receiver, [])):
        _call(func, args)


# ---------------------------------------------------------------------------
# Test-facing API


def create(
    cls: type[_class], *args: Any, canvas_dir: str | Path | None = None,
    detach: int | None = None,
) -> Any:
    """Create an object as ``[pyext module cls args…]`` would (§1.8).

    Args:
        cls: The pyext class.
        *args: Creation arguments, as Pd atoms (numbers, strings).
        canvas_dir: What ``_canvas_dir`` reports; defaults to the current directory.
        detach: Like ``@detach n``: applied after ``__init__``.

    Returns:
        The instance, with ``_init`` already called if defined.
    """
    obj = cls.__new__(cls)
    state = _ObjectState(canvas_dir=str(Path(canvas_dir or Path.cwd()).resolve()))
    obj.__dict__["_pyext_state"] = state
    cls.__init__(obj, *[atom_to_python(_to_atom(a)) for a in args])
    state.n_inlets = _count(obj._inlets)
    state.n_outlets = _count(obj._outlets)
    if detach is not None:
        obj._detach(detach)
    init = getattr(obj, "_init", None)
    if init is not None:
        _call(init, [])
    return obj


def _count(value: Any) -> int:
    return int(value() if callable(value) else value)


def _to_atom(value: Any) -> Atom:
    return str(value) if isinstance(value, str) else to_pd_float(value)


def send(obj: _class, inlet: int, selector: str, *atoms: Any) -> None:
    """Send the message ``selector atoms…`` into Python inlet ``inlet`` (1-based).

    Raises:
        ValueError: the inlet does not exist (Pd would have no such connection).
    """
    state = _state(obj)
    if not 1 <= inlet <= state.n_inlets:
        raise ValueError(f"inlet {inlet} out of range (1..{state.n_inlets})")
    _dispatch(obj, inlet, selector, [_to_atom(a) for a in atoms])


def send_message(obj: _class, inlet: int, text: str) -> None:
    """Send a message written as in a Pd message box, e.g. ``"list 1 2 x"`` or ``"3"``."""
    selector, atoms = parse_message(text)
    send(obj, inlet, selector, *atoms)


def send_to(receiver: str, text: str) -> None:
    """Send a message box text to a named receiver (reaches ``_bind`` callables)."""
    selector, atoms = parse_message(text)
    _deliver(receiver, (selector, atoms))


def outputs(obj: _class, outlet: int | None = None, *, clear: bool = True) -> list[str]:
    """Messages the object sent (optionally on one outlet), formatted as ``[print]`` shows.

    Args:
        obj: The object.
        outlet: Only this Python outlet (1-based); all outlets when None.
        clear: Forget the returned messages, so the next call shows only new ones.
    """
    state = _state(obj)
    picked = [m for n, m in state.outputs if outlet is None or n == outlet]
    if clear:
        state.outputs[:] = [(n, m) for n, m in state.outputs if outlet is not None and n != outlet]
    return [format_message(sel, atoms) for sel, atoms in picked]


def messages(obj: _class, *, clear: bool = True) -> list[tuple[int, Message]]:
    """Raw ``(outlet, (selector, atoms))`` records of what the object sent."""
    state = _state(obj)
    out = list(state.outputs)
    if clear:
        state.outputs.clear()
    return out


def sent(receiver: str | None = None, *, clear: bool = True) -> list[str]:
    """Messages ``_send`` sent (to ``receiver``, or all as ``"receiver: message"``)."""
    picked = [(r, m) for r, m in _host.sent if receiver is None or r == receiver]
    if clear:
        _host.sent[:] = [(r, m) for r, m in _host.sent if receiver is not None and r != receiver]
    if receiver is not None:
        return [format_message(*m) for _, m in picked]
    return [f"{r}: {format_message(*m)}" for r, m in picked]


def console(*, clear: bool = True) -> list[str]:
    """Lines the host posted to the console (tracebacks, dispatch and conversion errors)."""
    lines = list(_host.console)
    if clear:
        _host.console.clear()
    return lines


def stop(obj: _class) -> None:
    """Like the ``stop`` message into inlet 0.

    As in the external, ``_shouldexit`` becomes True and is cleared again at once when no
    handler of the object is running; called from inside a running handler (e.g. from a
    progress callback in a test) it stays True, as after a stop that timed out.
    """
    state = _state(obj)
    state.should_exit = True
    state.stop_count += 1
    if state.running == 0 and state.alive:
        state.should_exit = False


def delete(obj: _class) -> None:
    """Delete the object as Pd does (§1.8): stop, unbind, ``_del``, then outlets are gone."""
    state = _state(obj)
    state.should_exit = True
    for name, func in list(state.bound):
        obj._unbind(name, func)
    hook = getattr(obj, "_del", None)
    if hook is not None:
        _call(hook, [])
    state.alive = False


def detach_mode(obj: _class) -> int:
    """The object's current detach mode."""
    return _state(obj).detach


def make_array(name: str, n: int, values: Iterable[float] | None = None) -> np.ndarray:
    """Create (or replace) the Pd array ``name`` with ``n`` zeros or the given values."""
    data = np.zeros(max(int(n), 1), dtype=np.float32)
    if values is not None:
        vals = np.asarray(list(values), dtype=np.float32)
        data[: len(vals)] = vals[: len(data)]
    _host.arrays[str(name)] = data
    return data


def array(name: str) -> np.ndarray:
    """The current contents of the Pd array ``name`` (a copy)."""
    return _host.arrays[str(name)].copy()


def is_dirty(name: str, *, clear: bool = True) -> bool:
    """Whether the array was marked for redraw since the last check."""
    dirty = str(name) in _host.dirty
    if clear:
        _host.dirty.discard(str(name))
    return dirty


def set_samplerate(sample_rate: float) -> None:
    """Set what ``_samplerate()`` returns (Pd's ``-r``)."""
    _host.sample_rate = float(sample_rate)


def reset() -> None:
    """Forget all arrays, bindings, sent messages and console lines; sample rate 48000."""
    global _host
    _host = _Host()


def install() -> None:
    """Make ``import pyext`` give this module (for scripts written course-style)."""
    sys.modules["pyext"] = sys.modules[__name__]
