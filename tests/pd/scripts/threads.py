"""Threads: outlets from Python-started threads, detached handlers, deletion, quit."""
import threading
import time

import pyext


class ThreadOut(pyext._class):
    """bang: a threading.Thread sends 0..n-1 to outlet 1, then 'done'."""

    _inlets = 1
    _outlets = 1

    def __init__(self, n=1000):
        self.n = n

    def bang_1(self):
        def run():
            for i in range(self.n):
                self._outlet(1, i)
            print("THREAD printed after", self.n)
            self._outlet(1, "done", [])

        threading.Thread(target=run).start()


class Counter(pyext._class):
    """Counts floats (checking their order) in whatever thread runs its handlers."""

    _inlets = 1
    _outlets = 1

    def __init__(self):
        self.count = 0
        self.ordered = True
        self.main = threading.main_thread().ident
        self.threads = set()

    def float_1(self, x):
        self.threads.add(threading.get_ident())
        if x != self.count:
            self.ordered = False
        self.count += 1

    def finish_1(self):
        on_main = self.threads == {self.main}
        self._outlet(1, "count", [self.count, int(self.ordered), int(on_main), int(self._sync())])
        self._outlet(1, "done", [])


class Slow(pyext._class):
    """bang: 5 s of pure-Python work; with poll 1 it stops early on _shouldexit."""

    _inlets = 1
    _outlets = 1

    def __init__(self, poll=0):
        self.poll = poll

    def bang_1(self):
        print("START")
        end = time.monotonic() + 5.0
        x = 0
        while time.monotonic() < end:
            for i in range(1000):
                x += i * i
            if self.poll and self._shouldexit:
                print("SAW SHOULDEXIT")
                return
        print("FINISHED")

    def _del(self):
        print("DEL", int(self._shouldexit))


class Forever(pyext._class):
    """A non-daemon Python thread that never ends: Pd must still quit at once."""

    _inlets = 1

    def bang_1(self):
        def spin():
            while True:
                time.sleep(0.001)

        threading.Thread(target=spin).start()
        print("THREAD STARTED")


class Overlap(pyext._class):
    """bang: sleep 0.3 s between two prints; with @detach 2 calls overlap."""

    _inlets = 1

    def __init__(self):
        self.calls = 0

    def bang_1(self):
        self.calls += 1
        n = self.calls
        print("BEGIN", n)
        time.sleep(0.3)
        print("END", n)


class HoldGil(pyext._class):
    """bang: a regular expression that backtracks for minutes without releasing the GIL."""

    _inlets = 1

    def bang_1(self):
        import re
        print("REGEX START")
        re.match(r"(a+)+$", "a" * 34 + "b")
        print("REGEX DONE")


class WriteUntilStopped(pyext._class):
    """bang <array>: write the array (each write is handed over to Pd's thread) until stop;
    after seeing _shouldexit, one last write (the final result), then return."""

    _inlets = 1

    def bang_1(self):
        b = pyext.Buffer("stoparr")
        print("LOOP START")
        n = 0
        while True:
            stopping = self._shouldexit
            b[:] = n
            n += 1
            if stopping:
                break
        print("LOOP STOPPED", int(n > 1))


class JoinBufferThread(pyext._class):
    """bang: a synchronous handler starts a thread that uses a Buffer element by element
    and makes a numpy view, and waits for it (join): no deadlock on Pd's lock."""

    _inlets = 1

    def bang_1(self):
        import numpy as np

        result = []

        def work():
            b = pyext.Buffer("joinarr")
            for i in range(len(b)):
                b[i] = i
            result.append(float(np.asarray(b).sum()) + b[len(b) - 1])

        t = threading.Thread(target=work)
        t.start()
        t.join()
        print("JOINED", result)
