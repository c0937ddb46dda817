"""Small example scripts for the pyext_py3 help patches (pyext-help.pd, pyext~-help.pd,
py-help.pd). They are written like scripts for the original py/pyext."""

import threading

import numpy as np
import pyext


class Counter(pyext._class):
    """Counts bangs on inlet 1; a float sets the count; 'reset' sets it to 0."""

    _inlets = 1
    _outlets = 1
    step = 1

    def __init__(self, start=0):
        self.count = start

    def bang_1(self):
        self.count += self.step
        self._outlet(1, self.count)

    def float_1(self, x):
        self.count = x

    def reset_1(self):
        self.count = 0
        self._outlet(1, "reset", [])


class Echo(pyext._class):
    """Plays each 'note pitch velocity' back an octave higher, 250 ms later, from a
    threading.Timer (outlets are safe from any thread)."""

    _inlets = 1
    _outlets = 1

    def note_1(self, pitch, velocity):
        threading.Timer(0.25, self._outlet, (1, "note", [pitch + 12, velocity])).start()


class Generate(pyext._class):
    """'generate <array> <frames>': writes a decaying sine into a Pd array. Use @detach 1
    so the work runs on a worker thread; 'done <array>' comes out when finished."""

    _inlets = 1
    _outlets = 1

    def generate_1(self, name, frames):
        t = np.arange(frames) / pyext._samplerate()
        x = (np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t)).astype(np.float32)
        b = pyext.Buffer(name)
        if len(b) != len(x):
            b.resize(len(x))
        b[:] = x
        b.dirty()
        self._outlet(1, "done", [name])


class Gain(pyext._class):
    """pyext~ classic: _signal scales the input by 'gain' every block (on Pd's thread)."""

    _sigin = 1
    _sigout = 1
    _inlets = 1
    gain = 0.5

    def float_1(self, g):
        self.gain = g

    def _signal(self):
        self._outvec(0)[:] = self._invec(0) * self.gain


class RingMod(pyext._class):
    """pyext~ streaming: process() gets float32 [1, 1024] chunks on a worker thread and
    multiplies them by a 300 Hz sine. Latency: 2 chunks (1 chunk under -batch)."""

    _sigin = 1
    _sigout = 1
    _chunk = 1024

    def __init__(self):
        self.phase = 0

    def process(self, x):
        n = x.shape[1]
        t = (self.phase + np.arange(n)) / pyext._samplerate()
        self.phase += n
        return x * np.sin(2 * np.pi * 300 * t).astype(np.float32)


def add(a, b=0):
    """[py pyext_examples add]: a + b."""
    return a + b


def stats(*values):
    """[py pyext_examples stats]: min, max and mean of the incoming list."""
    v = np.asarray(values, dtype=float)
    return ["stats", [float(v.min()), float(v.max()), float(v.mean())]]
