"""Stress: detached workers use pyext.Buffer while Pd resizes, refills and deletes arrays.

Each Hammer runs one kind of work on one array until its deadline, counting operations
and the exceptions it expects from arrays that change under it (IndexError: the array
shrank; RuntimeError: the array is gone; ValueError: Buffer() of a missing array or a
slice that no longer has the length asked for). Anything else is reported as UNEXPECTED.
"""
import random
import time

import numpy as np
import pyext

EXPECTED = (IndexError, RuntimeError, ValueError)
MAX_FRAMES = 5000


class Hammer(pyext._class):
    """run <array> <seconds> <seed>: hammer the array, then 'done <kind> <array> <ops> ...'."""

    _inlets = 1
    _outlets = 1

    def __init__(self, kind="elements"):
        self.kind = str(kind)
        self.detached = 0  # views found no longer aliasing the array (moved aside by a resize)
        self.ops = 0       # operations completed

    def run_1(self, name, seconds, seed):
        name = str(name)
        rng = random.Random(seed)
        step = getattr(self, "_" + self.kind)
        state = {"buf": None, "views": []}
        errors = {}
        deadline = time.monotonic() + float(seconds)
        while time.monotonic() < deadline and not self._shouldexit:
            try:
                if state["buf"] is None:
                    state["buf"] = pyext.Buffer(name)
                step(state["buf"], rng, state["views"])
            except EXPECTED as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                if isinstance(e, (RuntimeError, ValueError)):
                    state["buf"] = None  # the array may be gone: look it up again
                    time.sleep(0.001)
            except Exception as e:  # noqa: BLE001 - reported, and the test fails on it
                print("UNEXPECTED", self.kind, name, type(e).__name__, e)
                errors["Unexpected"] = errors.get("Unexpected", 0) + 1
        state["views"].clear()
        counts = [x for k in sorted(errors) for x in (k, errors[k])]
        self._outlet(1, "done", [self.kind, name, self.ops, "detached", self.detached, *counts])

    # element access: len, b[i], b[i] = x (indices taken from a length read earlier)
    def _elements(self, b, rng, views):
        n = len(b)
        self.ops += 1
        for _ in range(50):
            i = rng.randrange(n)
            b[i] = i * 0.5
            _ = b[i]
            _ = b[-1]
            self.ops += 3

    # numpy views kept across Pd's resizes and deletions, written and read later
    def _views(self, b, rng, views):
        v = np.asarray(b)
        self.ops += 1
        views.append(v)
        if len(views) > 8:
            views.pop(rng.randrange(len(views)))
        for old in views:
            old[:] = 0.25                    # valid memory always: Pd's, or moved aside
            old[rng.randrange(len(old))] = 1.0
            _ = float(old.sum())
            self.ops += 3
        fresh = np.asarray(b)
        self.detached += sum(old.ctypes.data != fresh.ctypes.data for old in views)
        k = len(fresh)
        s = b[0:k]                           # a slice is a view too
        s *= 1.0
        b *= 1.0                             # in-place arithmetic through a view
        self.ops += 4

    # whole-array operations from the worker: resize, write, slice assignment, iteration
    def _structure(self, b, rng, views):
        b.resize(rng.randint(1, MAX_FRAMES))
        data = np.linspace(-1, 1, rng.randint(1, MAX_FRAMES), dtype=np.float32)
        b.write(data)
        b[:] = 0.5
        self.ops += 3
        _ = sum(1 for _ in b)                    # element by element
        self.ops += 1
        n = len(b)
        b[0:n] = np.zeros(n, dtype=np.float32)   # ValueError if Pd resized meanwhile
        self.ops += 2
