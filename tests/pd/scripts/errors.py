"""Exceptions in __init__, handlers, _init and threads: reported, Pd keeps running."""
import sys
import threading

import pyext


class BadInit(pyext._class):
    def __init__(self):
        raise RuntimeError("bad init")


class BadHandler(pyext._class):
    _inlets = 1
    _outlets = 1

    def boom_1(self):
        raise ValueError("boom in handler")

    def exit_1(self):
        sys.exit(3)

    def thread_1(self):
        def fail():
            raise KeyError("boom in thread")
        t = threading.Thread(target=fail)
        t.start()
        t.join()

    def early_1(self):
        self._outlet(5, 1)

    def bang_1(self):
        self._outlet(1, "alive", [])

    def answer_1(self):
        return 42


class OutletInInit(pyext._class):
    _outlets = 1

    def __init__(self):
        try:
            self._outlet(1, 1)
        except RuntimeError as e:
            print("INIT OUTLET", e)

    def _init(self):
        self._outlet(1, "from_init", [])  # allowed (outlets exist), though not yet connected
        print("INIT HOOK ran")
