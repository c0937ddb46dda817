"""Records every handler call as 'CALL name args' on the console (for dispatch tests)."""
import pyext


def _fmt(args):
    return " ".join(f"{type(a).__name__}:{a!r}" for a in args)


class Full(pyext._class):
    """Defines the first-choice handler for each message of the dispatch table."""

    _inlets = 2
    _outlets = 1

    def bang_1(self):
        print("CALL bang_1")

    def float_1(self, x):
        print("CALL float_1", _fmt([x]))

    def list_1(self, *a):
        print("CALL list_1", _fmt(a))

    def symbol_1(self, s):
        print("CALL symbol_1", _fmt([s]))

    def foo_1(self, *a):
        print("CALL foo_1", _fmt(a))

    def _anything_1(self, *a):
        print("CALL _anything_1", _fmt(a))

    def _anything_(self, n, *a):
        print("CALL _anything_", n, _fmt(a))


class IntOnly(pyext._class):
    _inlets = 1

    def int_1(self, x):
        print("CALL int_1", _fmt([x]))

    def bang_(self, n):
        print("CALL bang_", n)

    def hello_(self, n, *a):
        print("CALL hello_", n, _fmt(a))


class IntAny(pyext._class):
    _inlets = 2

    def int_(self, x):
        print("CALL int_", _fmt([x]))

    def _anything_(self, n, *a):
        print("CALL _anything_", n, _fmt(a))


class Nothing(pyext._class):
    _inlets = 1
    _outlets = 0
