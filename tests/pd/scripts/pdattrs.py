"""Module docstring of pdattrs.
Second line."""
import pyext


class Attrs(pyext._class):
    """Class docstring of Attrs."""

    _inlets = 1
    _outlets = 1
    gain = 0.5
    name = "abc"

    def __init__(self, *args):
        self.bus_calls = 0
        self._bind("bus1", self.on_bus)

    def on_bus(self, *args):
        print("BUS", args)
        self.bus_calls += 1
        if args and args[0] == "off":
            self._unbind("bus1", self.on_bus)

    def show_1(self):
        self._outlet(1, "gain", [self.gain])

    def _del(self):
        print("ATTRS DEL")
