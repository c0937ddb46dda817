# A script in the style of the DLWA course (written for the original py/pyext):
# class attributes _inlets/_outlets, load_1/note_1/generate_1 handlers, pyext.Buffer with
# resize and slice assignment, @detach 1, and a threading.Timer calling _outlet.
import threading
import time

import numpy as np
import pyext


class melody_rnn(pyext._class):
    _inlets = 1
    _outlets = 1

    def __init__(self, *args):
        self.model = None
        self.temperature = 1.0

    def load_1(self, name):
        time.sleep(0.05)  # "loading a model"
        self.model = str(name)
        self._outlet(1, ["loaded", name])

    def note_1(self, pitch, velocity):
        if self.model is None:
            print("no model loaded")
            return
        reply = [pitch + 12, velocity]
        threading.Timer(0.02, self.play, reply).start()

    def play(self, pitch, velocity):
        if not self._shouldexit:
            self._outlet(1, "note", pitch, velocity)

    def generate_1(self, name, n):
        x = np.sin(np.arange(n) * 0.01).astype(np.float32)
        b = pyext.Buffer(name)
        if len(b) != len(x):
            b.resize(len(x))
        b[:] = x
        b.dirty()
        self._outlet(1, ["generated", name, n])
