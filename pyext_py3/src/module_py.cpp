// The parts of the `pyext` Python module written in Python: Symbol, the console streams,
// exception reporting and Bundle. Executed in the module's namespace at import.
#include "pyext.hpp"

extern const char* const pyext_module_source;
const char* const pyext_module_source = R"PYEXT(
import io as _io
import sys as _sys
import threading as _threading


class Symbol(str):
    """A Pd symbol. A str subclass: str(s), s == "abc" and hashing work as for str."""

    __slots__ = ()

    def __new__(cls, name=""):
        if not isinstance(name, str):
            raise TypeError("Symbol() takes a str or Symbol, not %s" % type(name).__name__)
        return str.__new__(cls, name)

    def __repr__(self):
        return "<Symbol %s>" % str.__str__(self)

    def __str__(self):
        return str.__str__(self)

    def __init_subclass__(cls, **kwargs):
        raise TypeError("pyext.Symbol cannot be subclassed")


_s_ = Symbol("")
_s_bang = Symbol("bang")
_s_list = Symbol("list")
_s_symbol = Symbol("symbol")
_s_float = Symbol("float")
_s_int = Symbol("int")


class _Console(_io.TextIOBase):
    """sys.stdout/sys.stderr: posts whole lines to the Pd console from any thread.

    Text is collected per thread up to a newline, so lines of different threads never
    mix. A carriage return starts the line afresh (progress bars).
    """

    def __init__(self, level, name):
        super().__init__()
        self._level = level
        self._name = name
        self._pending = {}
        self._lock = _threading.Lock()

    encoding = "utf-8"
    errors = "strict"
    newlines = None

    @property
    def name(self):
        return self._name

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def isatty(self):
        return False

    def fileno(self):
        raise _io.UnsupportedOperation("the Pd console has no file descriptor")

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        tid = _threading.get_ident()
        with self._lock:
            line = self._pending.pop(tid, "") + text
            if "\n" in line:
                *done, line = line.split("\n")
            else:
                done = ()
            if line:
                self._pending[tid] = line.rsplit("\r", 1)[-1]
        for one in done:
            _post(one.rsplit("\r", 1)[-1], self._level)
        return len(text)

    def flush(self):
        pass

    def close(self):
        pass  # the console outlives every script


def _report(exc, where):
    import traceback
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if where:
        text = where + "\n" + text
    for line in text.rstrip("\n").split("\n"):
        _post(line, 1)


class Bundle:
    """Messages sent together: append(obj, outlet, *msg) or append(receiver, *msg)."""

    def __init__(self):
        self._items = []
        self._sent = False

    def append(self, target, *msg):
        if isinstance(target, _class):
            self._items.append((target._outlet, msg))
        else:
            self._items.append((_send, (target,) + msg))

    def send(self):
        if self._sent:
            raise RuntimeError("bundle already sent")
        self._sent = True
        for fn, msg in self._items:
            fn(*msg)
        return self


def _list(*args):
    return list(args)


def _tuple(*args):
    return tuple(args)


def _arraysupport():
    return True


def _searchpaths():
    return None


def _helppaths():
    return None


def _install_console():
    _sys.stdout = _Console(0, "<pd stdout>")
    _sys.stderr = _Console(1, "<pd stderr>")
    if not _sys.argv:
        _sys.argv = ["py/pyext"]
)PYEXT";
