"""Python -> Pd conversions (spec §2.5 plus numpy/torch numbers and 1-D arrays)."""
import array

import numpy as np
import pyext
import torch

VALUES = {
    "none": None,
    "int": 7,
    "bool": True,
    "float": 2.5,
    "str": "abc",
    "symbol": pyext.Symbol("sym"),
    "anything": ("note", [60, 100]),
    "list": [1, "x", 2.5],
    "tuple_args": None,  # _outlet(1, "note", 60, 100): several args make a list
    "empty": [],
    "np_float32": np.float32(1.5),
    "np_float64": np.float64(0.25),
    "np_int64": np.int64(42),
    "np_bool": np.bool_(True),
    "np_array": np.arange(3),
    "np_float_array": np.array([0.5, -1.5], dtype=np.float32),
    "np_0d": np.array(6.5),
    "torch_scalar": torch.tensor(3.5),
    "torch_int": torch.tensor(9),
    "array_array": array.array("i", [4, 5]),
    "nested": [[1, 2]],
    "object": object(),
}


class Out(pyext._class):
    _inlets = 1
    _outlets = 1

    def get_1(self, key):
        key = str(key)
        if key == "tuple_args":
            self._outlet(1, "note", 60, 100)
        else:
            self._outlet(1, VALUES[key])


class Send(pyext._class):
    _inlets = 1

    def bang_1(self):
        pyext._send("recv1", "hello", [1, 2])
        self._send("recv1", 3)
        pyext._send("recv1")
        pyext._send("nobody_listens", 1)


class Symbols(pyext._class):
    _inlets = 1

    def symbol_1(self, s):
        print("SYM", isinstance(s, pyext.Symbol), isinstance(s, str), s == "abc", str(s), repr(s),
              {"abc": 1}.get(s))
        try:
            class Sub(pyext.Symbol):
                pass
            print("SUBCLASS allowed")
        except TypeError:
            print("SUBCLASS refused")


class Info(pyext._class):
    _inlets = 1
    _outlets = 1

    def bang_1(self):
        self._outlet(1, "sr", [pyext._samplerate()])
        self._outlet(1, "bs", [pyext._blocksize()])
        self._outlet(1, "sync", [int(pyext._sync()), int(self._sync())])
        self._outlet(1, "dir", [self._canvas_dir])
        self._outlet(1, "static", [self._samplerate(), self._blocksize()])


class Extras(pyext._class):
    """Bundle, _tocanvas (dynamic patching) and _priority."""

    _inlets = 1
    _outlets = 1

    def bundle_1(self):
        b = pyext.Bundle()
        b.append(self, 1, "first", [1])
        b.append("recv2", "second", [2])
        b.append(self, 1, "third", [3])
        b.send()
        try:
            b.send()
        except RuntimeError as e:
            print("BUNDLE", e)

    def dyn_1(self, n):
        self._tocanvas("obj", 10, 400, "r", "dynrecv")
        self._tocanvas("obj", 10, 430, "print", "DYN")
        self._tocanvas("connect", n, 0, n + 1, 0)
        pyext._send("dynrecv", 5)

    def prio_1(self):
        pyext._priority(0)
        print("PRIORITY ok")


BAD_VALUES = {
    "surrogate": lambda self: self._outlet(1, "\udcff"),
    "surrogate_selector": lambda self: self._outlet(1, "\udcff", [1, 2]),
    "surrogate_in_list": lambda self: self._outlet(1, ["ok", "\ud800"]),
    "surrogate_send": lambda self: pyext._send("recv3", "a", "\udcff"),
    "complex": lambda self: self._outlet(1, 1 + 2j),
    "complex_real": lambda self: self._outlet(1, complex(3, 0)),
    "np_complex64": lambda self: self._outlet(1, np.complex64(1 + 2j)),
    "np_complex_array": lambda self: self._outlet(1, np.array([1, 2j])),
    "complex_in_list": lambda self: self._outlet(1, "peak", [1, 2 + 1j]),
    "torch_complex": lambda self: self._outlet(1, torch.tensor(1 + 2j)),
    "complex_send": lambda self: pyext._send("recv3", np.complex128(1j)),
    "symbol_int": lambda self: pyext.Symbol(5),
    "symbol_bytes": lambda self: pyext.Symbol(b"x"),
}


class Strict(pyext._class):
    """bad <key>: try to send a value Pd cannot hold; prints RAISED <type> or SENT."""

    _inlets = 1
    _outlets = 1

    def bad_1(self, key):
        try:
            BAD_VALUES[str(key)](self)
            print("SENT", key)
        except Exception as e:  # noqa: BLE001 - the test reads the type and message
            print("RAISED", key, type(e).__name__, str(e).splitlines()[0][:120])
