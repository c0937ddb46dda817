"""Python objects passed as values between [py], [pym] and [pyext] (@py 1)."""

import time
import weakref

import pyext

_alive = weakref.WeakSet()  # every Thing not yet freed
LAST = None


class Thing:
    def __init__(self, n=0):
        self.n = n
        _alive.add(self)

    def incr(self, k=1):
        self.n += k
        return self

    def value(self):
        return self.n


def make(n=0):
    """A Thing that this module also keeps (LAST), to check identity downstream."""
    global LAST
    LAST = Thing(n)
    return LAST


def fresh(n=0):
    """A Thing that nothing in Python keeps: only the reference in Pd's message does."""
    return Thing(n)


def describe(obj):
    return f"{type(obj).__name__}:{obj.n}"


def stats():
    """[Things alive, references held for Pd messages] (releasing the expired ones first)."""
    held = pyext._pyobjects()
    return [len(_alive), held]


class Keeper(pyext._class):
    """Receives an object into inlet 1 and passes it on (with @py 1: as the object)."""

    _inlets = 1
    _outlets = 1

    def _anything_1(self, *args):
        obj = args[0]
        print(f"KEEPER {type(obj).__name__} same={obj is LAST} args={len(args)}")
        self._outlet(1, obj)


class Slow(pyext._class):
    """A detached object: the reference must still be valid when its worker gets to it."""

    _inlets = 1
    _outlets = 1

    def _anything_1(self, obj):
        time.sleep(0.3)
        self._outlet(1, obj)


class Burst(pyext._class):
    """bang: send 500 new Things (with @py 1, 500 references)."""

    _inlets = 1
    _outlets = 1

    def bang_1(self):
        for i in range(500):
            self._outlet(1, Thing(i))


class Listener(pyext._class):
    """Binds a receiver name; a Python object sent to it arrives as the object itself."""

    _inlets = 1
    _outlets = 0

    def __init__(self):
        self._bind("objs", self.got)

    def got(self, *args):
        print(f"BOUND {type(args[0]).__name__} same={args[0] is LAST} args={len(args)}")
