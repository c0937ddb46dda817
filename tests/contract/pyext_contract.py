"""pyext classes for the shared contract test, written as a course script would be.

Pd creates them as ``[pyext pyext_contract Contract 3 2.5 foo]`` and
``[pyext pyext_contract Steps]``; the stand-in test creates them with ``standin.create``.
Every handler reports what it received on outlet 1 as an anything message
``<handler> <type>:<value>…``, so the printed line shows both the dispatch step taken
(spec §2.3) and the Python types of the arguments (§2.4).
"""

import os

import numpy as np
import pyext


def describe(value):
    """One atom naming the Python type and value, e.g. ``int:3`` or ``Symbol:bar``."""
    if isinstance(value, pyext.Symbol):
        return "Symbol:" + str(value)
    return type(value).__name__ + ":" + repr(value)


def report(obj, handler, *args):
    obj._outlet(1, handler, [describe(a) for a in args])


class Indexable:
    """A number-like object with only ``__index__`` (as torch integer scalars have)."""

    def __index__(self):
        return 7


class Floatable:
    """A number-like object with only ``__float__`` (as torch float scalars have)."""

    def __float__(self):
        return 2.5


EMITTED = {
    "none": lambda: None,
    "int": lambda: 3,
    "bool": lambda: True,
    "float": lambda: 2.5,
    "str": lambda: "abc",
    "symbol": lambda: pyext.Symbol("abc"),
    "anything": lambda: ("note", [60, 100]),
    "anything_tuple": lambda: ("note", (60, 2.5, "x")),
    "anything_empty": lambda: ("stop", []),
    "numbers": lambda: [1, 2.5],
    "words": lambda: ["note", 60, 100],
    "single_symbol_list": lambda: ["abc"],
    "empty": list,
    "np_float32": lambda: np.float32(1.5),
    "np_float64": lambda: np.float64(0.25),
    "np_int64": lambda: np.int64(7),
    "np_bool": lambda: np.bool_(True),
    "np_arange": lambda: np.arange(3),
    "np_float_array": lambda: np.array([0.5, -1.0], dtype=np.float32),
    "index_only": Indexable,
    "float_only": Floatable,
    "anything_np": lambda: ("peak", np.array([0.5, 2.0])),
}


class Contract(pyext._class):
    """Handlers for every selector on inlet 1; none on inlet 2."""

    _inlets = 2
    _outlets = 1

    def __init__(self, *args):
        self.args = args
        self.init_ran = False
        self.outlet_in_init = "no_error"
        try:
            self._outlet(1, "too early")
        except Exception:  # noqa: BLE001 - outlets do not exist yet (§1.8); any error will do
            self.outlet_in_init = "raised"

    def _init(self):
        self.init_ran = True

    # Dispatch step 1: sel_n
    def bang_1(self):
        report(self, "bang_1")

    def float_1(self, x):
        report(self, "float_1", x)

    def list_1(self, *xs):
        report(self, "list_1", *xs)

    def symbol_1(self, s):
        report(self, "symbol_1", s)

    def foo_1(self, *xs):
        report(self, "foo_1", *xs)

    # Dispatch step 3: _anything_n for selectors without a handler
    def _anything_1(self, *xs):
        report(self, "_anything_1", *xs)

    # Creation (§1.8)
    def args_1(self):
        report(self, "args", *self.args)

    def lifecycle_1(self):
        self._outlet(1, "lifecycle", [int(self.init_ran), self.outlet_in_init])

    # Python → Pd conversions (§2.5)
    def emit_1(self, what):
        self._outlet(1, EMITTED[str(what)]())

    def emit2_1(self):
        self._outlet(1, "note", 60, 100)

    def emit3_1(self):
        self._outlet(1, 1, 2.5)

    def outlet_range_1(self):
        errors = []
        for n in (0, 2):
            try:
                self._outlet(n, 1)
                errors.append("none")
            except ValueError:
                errors.append("ValueError")
        self._outlet(1, "outlet_range", errors)

    def send_1(self, *xs):
        pyext._send("contract-sent", *xs)

    def send_bang_1(self):
        pyext._send("contract-sent")

    # Symbol (§2.6)
    def symcheck_1(self, s):
        text = str(s)
        checks = [
            isinstance(s, pyext.Symbol), isinstance(s, str), s == text, str(s) == text,
            repr(s) == "<Symbol " + text + ">", pyext.Symbol(s) == s,
            pyext.Symbol(text) == s, len(s), s[0], s + "x",
        ]
        self._outlet(1, "symcheck", [int(c) if isinstance(c, bool) else c for c in checks])

    # Buffer (§2.7)
    def buf_write_1(self, name, n):
        buf = pyext.Buffer(name)
        if len(buf) != n:
            buf.resize(n)
        values = np.array([0.5, -0.25, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=np.float32)[:n]
        buf[:] = values
        buf.dirty()
        self._outlet(1, "buf_write", [str(buf.symbol), isinstance(buf.symbol, pyext.Symbol)])

    def buf_read_1(self, name):
        buf = pyext.Buffer(name)
        data = np.asarray(buf)
        self._outlet(1, "buf_read", [len(buf), *np.array(data, dtype=np.float32)])

    def buf_resize_1(self, name, n):
        buf = pyext.Buffer(name)
        result = buf.resize(n)
        self._outlet(1, "buf_resize", [len(buf), int(result is buf)])

    def buf_item_1(self, name, index, value):
        buf = pyext.Buffer(name)
        before = buf[index]
        buf[index] = value
        self._outlet(1, "buf_item", [describe(before), buf[index]])

    def buf_view_1(self, name, value):
        buf = pyext.Buffer(name)
        view = np.asarray(buf)
        view[0] = value
        buf.dirty()
        self._outlet(1, "buf_view", [buf[0], view.dtype.name, view.ndim])

    def buf_scale_1(self, name, gain):
        buf = pyext.Buffer(name)
        doubled = buf * 2
        buf *= gain
        self._outlet(1, "buf_scale", [float(doubled[0]), buf[0], sum(1 for _ in buf)])

    def buf_missing_1(self, name):
        try:
            pyext.Buffer(name)
            self._outlet(1, "buf_missing", ["none"])
        except ValueError:
            self._outlet(1, "buf_missing", ["ValueError"])

    def buf_errors_1(self, name):
        buf = pyext.Buffer(name)
        attempts = [
            lambda: buf.__setitem__(slice(0, 3), [1.0, 2.0]),
            lambda: buf.__setitem__(100, 1.0),
            lambda: buf[100],
        ]
        errors = []
        for attempt in attempts:
            try:
                attempt()
                errors.append("none")
            except (ValueError, IndexError) as exc:
                errors.append(type(exc).__name__)
        self._outlet(1, "buf_errors", errors)

    def buf_fill_1(self, name, value):
        buf = pyext.Buffer(name)
        buf[0:2] = value
        self._outlet(1, "buf_fill", [buf[0], buf[1], buf[2]])

    def buf_write_all_1(self, name):
        buf = pyext.Buffer(name)
        result = buf.write(np.array([1, 2, 3], dtype=np.float32))
        self._outlet(1, "buf_write_all", [len(buf), int(result is buf), *np.asarray(buf)])

    # Host queries
    def sr_1(self):
        self._outlet(1, "sr", [pyext._samplerate(), type(pyext._samplerate()).__name__])

    def sr_method_1(self):
        self._outlet(1, "sr_method", [self._samplerate(), self._blocksize()])

    def blocksize_1(self):
        self._outlet(1, "blocksize", [pyext._blocksize()])

    def canvas_1(self):
        path = self._canvas_dir
        self._outlet(1, "canvas", [
            int(os.path.isabs(path)), int(os.path.isfile(os.path.join(path, "contract.pd"))),
        ])

    def shouldexit_1(self):
        self._outlet(1, "shouldexit", [int(bool(self._shouldexit))])

    def detach_1(self, mode):
        try:
            self._detach(mode)
            self._outlet(1, "detach", ["ok"])
        except ValueError:
            self._outlet(1, "detach", ["ValueError"])

    # Errors (§2.3): traceback on the console, the object keeps working
    def boom_1(self):
        raise RuntimeError("contract-boom")

    # _bind (§2.2)
    def bind_1(self, name):
        self._bind(str(name), self.on_bound)

    def unbind_1(self, name):
        self._unbind(str(name), self.on_bound)

    def on_bound(self, *xs):
        report(self, "bound", *xs)


class Steps(pyext._class):
    """Only the later dispatch steps exist: ``int_1``, ``_anything_1`` and any-inlet forms."""

    _inlets = 2
    _outlets = 1

    def int_1(self, x):
        report(self, "int_1", x)

    def _anything_1(self, *xs):
        report(self, "_anything_1", *xs)

    def hello_(self, n, *xs):
        report(self, "hello_", n, *xs)

    def int_(self, x):
        report(self, "int_", x)

    def _anything_(self, n, *xs):
        report(self, "_anything_", n, *xs)
