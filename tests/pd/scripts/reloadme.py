"""Version 1 of a module that rewrites itself, for the reload tests."""
import pathlib

import pyext

VERSION = 1


class R(pyext._class):
    _inlets = 1
    _outlets = 1

    def __init__(self, *args):
        self.args = args

    def bang_1(self):
        self._outlet(1, "v", [VERSION, len(self.args)] + list(self.args))

    def rewrite_1(self):
        path = pathlib.Path(__file__)
        path.write_text(path.read_text().replace("VERSION = 1", "VERSION = 22"))

    def _del(self):
        print("DEL", VERSION)


def break_module():
    """[py reloadme break_module]: put a syntax error into this file."""
    path = pathlib.Path(__file__)
    path.write_text(path.read_text() + "\ndef broken(:\n")


def fix_module():
    path = pathlib.Path(__file__)
    path.write_text(path.read_text().replace("\ndef broken(:\n", "\n"))
