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
