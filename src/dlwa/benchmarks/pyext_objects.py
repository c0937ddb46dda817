"""pyext classes used by the pyext_py3 benchmarks; imported only inside Pd.

Patches load them as ``[pyext. dlwa.benchmarks.pyext_objects <Class>]``.
"""

from __future__ import annotations

import time

import numpy as np
import pyext


class Echo(pyext._class):
    """float in, the same float out: the synchronous round trip."""

    _inlets = 1
    _outlets = 1

    def float_1(self, x):
        self._outlet(1, x)


class BufferWrite(pyext._class):
    """write <array> <n> <repeats>: time ``buf[:] = x`` for n float32 samples."""

    _inlets = 1
    _outlets = 1

    def write_1(self, name, n, repeats):
        b = pyext.Buffer(name)
        if len(b) != n:
            b.resize(n)
        x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        b[:] = x
        start = time.perf_counter()
        for _ in range(repeats):
            b[:] = x
        per_write = (time.perf_counter() - start) / repeats
        ok = bool(np.array_equal(np.asarray(b), x))
        where = "detached" if self._isthreaded and not self._sync() else "sync"
        self._outlet(1, "bufwrite", [where, per_write * 1e6, int(ok)])


class Busy(pyext._class):
    """bang: pure-Python work for `seconds` (holds the GIL except at switch intervals)."""

    _inlets = 1
    _outlets = 1

    def __init__(self, seconds=5.0):
        self.seconds = float(seconds)

    def bang_1(self):
        end = time.monotonic() + self.seconds
        x = 0
        while time.monotonic() < end and not self._shouldexit:
            for i in range(1000):
                x += i * i
        self._outlet(1, "busy_done", [])


class StreamWork(pyext._class):
    """Streaming identity with `work_ms` of pure-Python work per chunk (GIL contention)."""

    _sigin = 1
    _sigout = 1
    _chunk = 2048

    def __init__(self, work_ms=0):
        self.work_s = float(work_ms) / 1000.0

    def process(self, x):
        end = time.perf_counter() + self.work_s
        while time.perf_counter() < end:
            sum(range(100))
        return x


class Lateness(pyext._class):
    """report <array> <n>: worst lateness of the recorded ticks (after the measurement)."""

    _inlets = 1

    def report_1(self, name, n):
        d = np.asarray(pyext.Buffer(name), dtype=np.float64)[: int(n)]
        # d[k] = wall-clock ms minus logical ms at tick k; lateness is relative to the best tick
        late = d - d.min()
        print(f"LATENESS worst {late.max():.3f} p99 {np.percentile(late, 99):.3f} "
              f"ticks {len(d)} at {late.argmax()}")


class Stamp(pyext._class):
    """bang: print the wall-clock time (to time how long Pd takes to exit after it)."""

    _inlets = 1

    def bang_1(self):
        print(f"STAMP {time.time():.6f}")
