"""pyext.Buffer: read, write, resize, redraw, strided views that survive a resize."""
import numpy as np
import pyext


class Buf(pyext._class):
    _inlets = 1
    _outlets = 1

    def run_1(self, name):
        b = pyext.Buffer(name)
        print("LEN", len(b), repr(b.symbol))
        b[:] = np.arange(len(b), dtype=np.float32)          # slice assignment
        b[0] = 0.5                                            # item assignment
        print("READ", b[0], b[1], b[-1], list(b)[:3])
        a = np.asarray(b)
        print("VIEW", a.dtype, a.strides, a.flags["C_CONTIGUOUS"], a[2], memoryview(b).format)
        a[3] = 30.0                                           # writes through the view
        b.dirty()
        print("SLICE", b[2:4].tolist(), type(b[2:4]).__name__)
        b[5:7] = [50, 60]
        b *= 2                                                # in-place via numpy
        print("MATH", float((b + 1)[1]), float((-b)[1]))
        v = np.asarray(b)                                     # keep a view across a resize
        b.resize(20)
        print("RESIZED", len(b), len(v), float(v[3]))
        v[:] = 7.0                                            # detached memory: harmless
        print("AFTER", float(b[3]), float(b[19]))
        del v, a
        b.write(np.full(4, 0.25, dtype=np.float32))           # resize + copy in one step
        print("WRITE", len(b), b[0])
        try:
            pyext.Buffer("no_such_array")
        except ValueError as e:
            print("MISSING", e)
        self._outlet(1, "done", [])

    def course_1(self, name):
        # course style: resize when needed, assign, dirty
        x = np.sin(np.linspace(0, np.pi, 1000)).astype(np.float32)
        b = pyext.Buffer(name)
        if len(b) != len(x):
            b.resize(len(x))
        b[:] = x
        b.dirty()
        self._outlet(1, "done", [])


class Keep(pyext._class):
    """keep <name>: hold a numpy view of the array; poke <name>: write through the old view
    (after Pd resized or deleted the array), then show what the array holds now."""

    _inlets = 1

    def keep_1(self, name):
        b = pyext.Buffer(name)
        b[:] = 1.0
        self.view = np.asarray(b)
        print("KEPT", len(self.view))

    def poke_1(self, name):
        self.view[:] = 7.0                    # Pd moved the array: valid, detached memory
        print("POKED", len(self.view), float(self.view[-1]))
        try:
            b = pyext.Buffer(name)
            print("AFTER", len(b), b[0], float(np.asarray(b).max()))
        except ValueError:
            print("AFTER gone")
        del self.view                         # the last view: the old memory is freed


class Limits(pyext._class):
    """limits <name>: sizes Pd cannot hold, empty writes and complex values must raise
    without changing the array; prints '<case> <exception> <len after>'."""

    _inlets = 1

    def limits_1(self, name):
        b = pyext.Buffer(name)
        b[:] = 0.5
        cases = [
            ("resize_2**32+10", lambda: b.resize(2**32 + 10)),
            ("resize_2**31", lambda: b.resize(2**31)),
            ("resize_2**28", lambda: b.resize(2**28)),
            ("resize_2**70", lambda: b.resize(2**70)),
            ("write_empty", lambda: b.write([])),
            ("write_empty_array", lambda: b.write(np.zeros(0, dtype=np.float32))),
            ("item_complex", lambda: b.__setitem__(0, 1 + 2j)),
            ("item_np_complex64", lambda: b.__setitem__(0, np.complex64(1 + 2j))),
            ("slice_complex", lambda: b.__setitem__(slice(0, 2), np.array([1j, 2j]))),
            ("slice_complex_list", lambda: b.__setitem__(slice(0, 2), [1.0, 1j])),
            ("write_complex", lambda: b.write(np.ones(3, dtype=np.complex64))),
        ]
        for case, fn in cases:
            try:
                fn()
                outcome = "none"
            except Exception as e:  # noqa: BLE001 - the test reads the type
                outcome = type(e).__name__
            print("LIMIT", case, outcome, len(b), b[0], b[1])
