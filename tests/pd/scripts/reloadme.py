"""Version 1 of a module that rewrites itself, for the reload tests."""
import pathlib

import pyext

VERSION = 1


class R(pyext._class):
    VERSION_SEEN = VERSION  # class attribute: which code made the class
    _inlets = 1
    _outlets = 1

    def __init__(self, *args):
        self.args = args
        self.ticks = 0
        self.made_by = VERSION

    def bang_1(self):
        self._outlet(1, "v", [VERSION, len(self.args)] + list(self.args))

    def tick_1(self):
        self.ticks += 1

    def state_1(self):
        self._outlet(1, "state", [self.ticks, self.made_by, type(self).VERSION_SEEN])

    def rewrite_1(self):
        path = pathlib.Path(__file__)
        path.write_text(path.read_text().replace("VERSION = 1", "VERSION = 22"))

    def _del(self):
        print("DEL", VERSION, *self.args)


def break_module():
    """[py reloadme break_module]: put a syntax error into this file."""
    path = pathlib.Path(__file__)
    path.write_text(path.read_text() + "\ndef broken(:\n")


def fix_module():
    path = pathlib.Path(__file__)
    path.write_text(path.read_text().replace("\ndef broken(:\n", "\n"))
