"""The base class of dlwa's Pd objects: messages in, uniform replies out.

A subclass is a switchboard: one short method per message (``render_1``, ``load_1``),
each decorated with ``@message("usage")`` and delegating to library code. The base gives
every object:

- ``load <name or path>``: find a checkpoint (by name in ``checkpoints/``, or a path
  relative to the patch), load it lazily on the worker thread, reply ``loaded <name>``;
- ``unload``, ``status`` (selector-prefixed state messages) and ``help``;
- uniform replies as anything messages: ``loaded …``, ``progress <0..1>``, ``done …``,
  ``error <text>`` (errors also go to Pd's console as ``<object>: <text>``; the object
  keeps working);
- helpers to read a Pd array as float32 numpy with its sample rate, and to write one
  (resize, write, redraw);
- detached execution (``self._detach(1)``: Pd's thread never waits; our external runs
  handlers synchronously in ``pd -batch``) and a clean shutdown that asks work to stop;
- jobs: a handler written as a generator (``yield`` once) checks its arguments and reads
  its settings in message order, then runs the rest on the object's job thread, so
  ``status``, ``stop`` and settings are answered at once while a long job runs. ``stop``
  (or deleting the object) ends the job at its next ``progress`` or ``check_stop`` call,
  and jobs call one of them at least every 100 ms.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import queue
import sys
import threading
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, ClassVar, TypeVar

import numpy as np

from dlwa.pd._host import pyext
from dlwa.pd.atoms import is_pd_number

Handler = TypeVar("Handler", bound=Callable[..., None])

PROGRESS_STEP = 0.05
"""Smallest change of the progress fraction worth a ``progress`` message."""


class Stopped(Exception):
    """Raised inside work when the object is asked to stop (``stop`` or deletion)."""


def message(usage: str) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of one message, with its usage text.

    Wrong argument counts reply ``error usage: <usage>``; exceptions become an ``error``
    reply (and a console line) instead of a traceback, so the object keeps working. A
    handler that is a generator is a job (see the module docstring).

    Args:
        usage: E.g. ``"render <array> <pitch_midi> <duration_s> [amplitude...]"``.
    """

    def decorate(func: Handler) -> Handler:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def handler(self: PdObject, *args: Any) -> None:
            try:
                signature.bind(self, *args)
            except TypeError:
                self.error(f"usage: {usage}")
                return
            self.run(func.__name__, func, *args)

        handler.usage = usage  # type: ignore[attr-defined]
        return handler  # type: ignore[return-value]

    return decorate


def words(text: str) -> list[float | str]:
    """Split text into atoms for a reply: numbers become floats, other words symbols."""
    return [float(word) if is_pd_number(word) else word for word in text.split()]


def shown(value: Any) -> str:
    """A message argument as an error message shows it: ``'abc'`` or ``3.5``."""
    return f"'{value}'" if isinstance(value, str) else f"{value:g}" if isinstance(
        value, (int, float)) and not isinstance(value, bool) else repr(value)


def number(value: Any, name: str, *, low: float | None = None, high: float | None = None) -> float:
    """Check a message argument is a finite number within ``[low, high]``.

    Raises:
        ValueError: naming the argument, the bad value and the allowed range.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    if ok and _at_least(value, low) and _at_least(high, value):
        return float(value)
    span = f"between {low:g} and {high:g}" if low is not None and high is not None else (
        f"at least {low:g}" if low is not None else "finite" if high is None else f"<= {high:g}"
    )
    raise ValueError(f"{name} must be a number {span}: got {shown(value)}")


def _at_least(a: float | None, b: float | None) -> bool:
    """``a >= b`` as Pd sees it: a bound typed in a patch (0.01) arrives as a 32-bit float
    a hair below it, and must still pass. None is no bound."""
    return a is None or b is None or a >= b or np.float32(a) == np.float32(b)


def name_arg(value: Any, name: str) -> str:
    """Check a message argument is a symbol (a name), e.g. an array name."""
    if isinstance(value, str) and value:
        return str(value)
    raise ValueError(f"{name} must be a name (a symbol): got {shown(value)}")


class PdObject(pyext._class):
    """Base of every dlwa Pd object: one inlet, one outlet, detached, uniform replies."""

    _inlets = 1
    _outlets = 1

    object_name: ClassVar[str] = "dlwa"
    """Name used in console lines; subclasses set their Pd class name."""
    checkpoint_kind: ClassVar[str | None] = None
    """The checkpoint kind ``load`` accepts; None for objects without models."""
    tensor_framework: ClassVar[str] = "pt"
    """``"pt"`` (torch) or ``"numpy"``: how ``load`` reads the weights."""

    def __init__(self, *args: Any) -> None:
        self.model: Any = None
        self.model_name: str | None = None
        self.state = "idle"
        self.closing = False
        self.last_progress = -1.0
        self._jobs: queue.SimpleQueue[tuple[str, Generator[None, None, None]] | None] = (
            queue.SimpleQueue())
        self._job_thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._local = threading.local()
        self._job_lock = threading.Lock()
        self._detach(1)

    # ----- messages every object understands

    @message("load <checkpoint name or path>")
    def load_1(self, name: Any) -> Generator[None, None, None]:
        """Find and load a checkpoint; replies ``loaded <name>``."""
        from dlwa import checkpoints

        path = checkpoints.find_checkpoint(
            name_arg(name, "checkpoint"), base_dir=self._canvas_dir, kind=self.checkpoint_kind
        )
        yield
        self.state = "loading"
        checkpoint = checkpoints.load_checkpoint(
            path, expected_kind=self.checkpoint_kind, framework=self.tensor_framework
        )
        self.model = self.build_model(checkpoint)
        self.model_name = checkpoint.name
        self.reply("loaded", checkpoint.name)

    @message("unload")
    def unload_1(self) -> Generator[None, None, None]:
        """Forget the model (after the jobs before it); replies ``unloaded``."""
        yield
        self.model, self.model_name = None, None
        self.reply("unloaded")

    @message("status")
    def status_1(self) -> None:
        """Reply one selector-prefixed message per fact: ``model``, ``state``, ``samplerate``…"""
        self.reply("model", self.model_name or "none")
        self.reply("state", self.state)
        self.reply("samplerate", pyext._samplerate())
        for selector, *atoms in self.status_items():
            self.reply(selector, *atoms)

    @message("help")
    def help_1(self) -> None:
        """Reply ``usage <message> <arguments…>`` for every message this object handles."""
        for usage in self.usages():
            self.reply("usage", *words(usage))

    @message("stop")
    def stop_1(self) -> None:
        """Stop the running job (and drop the waiting ones); it replies ``error <job> stopped``."""
        self.cancel_jobs()

    def _anything_1(self, selector: Any = "bang", *args: Any) -> None:
        known = " ".join(u.split()[0] for u in self.usages())
        self.error(f"unknown message '{selector}' (messages: {known})")

    def _del(self) -> None:
        self.closing = True
        self.cancel_jobs()
        self._jobs.put(None)  # the job thread ends
        self.model = None

    # ----- hooks for subclasses

    def build_model(self, checkpoint: Any) -> Any:
        """Turn a loaded ``dlwa.checkpoints.Checkpoint`` into the model (default: as is)."""
        return checkpoint

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        """Extra ``(selector, atoms…)`` facts for ``status``."""
        return ()

    # ----- replies

    def reply(self, selector: str, *atoms: Any) -> None:
        """Send the anything message ``selector atoms…`` on the outlet (nothing once the
        object is being deleted: there is no one left to answer)."""
        if self.closing:
            return
        try:
            self._outlet(1, selector, list(atoms))
        except RuntimeError:
            if not self._shouldexit:
                raise
            self.closing = True  # the Pd object was deleted while we worked: say nothing

    def done(self, what: str, *atoms: Any) -> None:
        """Reply ``done <what> atoms…``."""
        self.reply("done", what, *atoms)

    def error(self, text: str) -> None:
        """Reply ``error <text>`` and print ``<object>: <text>`` to Pd's console."""
        if self.gone():
            return
        print(f"{self.object_name}: {text}", file=sys.stderr)
        self.reply("error", *words(text))

    def progress(self, fraction: float) -> None:
        """Reply ``progress <fraction>`` (rate-limited); raise Stopped when asked to stop."""
        self.check_stop()
        fraction = min(max(float(fraction), 0.0), 1.0)
        if fraction - self.last_progress >= PROGRESS_STEP or fraction >= 1.0 > self.last_progress:
            self.last_progress = fraction
            self.reply("progress", round(fraction, 3))

    def should_stop(self) -> bool:
        """True once the object is being deleted, or ``stop`` was sent (to either inlet)."""
        return (self.closing or self._cancel.is_set() or bool(self._shouldexit)
                or self._stops() != getattr(self._local, "stops_at_start", self._stops()))

    def _stops(self) -> int:
        """How many ``stop`` messages reached the control inlet (``_shouldexit`` is reset as
        soon as no handler runs, so a job on its own thread compares this count)."""
        return int(getattr(self, "_stopcount", 0))

    def check_stop(self) -> None:
        """Raise Stopped when asked to stop; long work calls it at least every 100 ms."""
        if self.should_stop():
            raise Stopped

    def gone(self) -> bool:
        """True once the Pd object is being deleted (its outlets no longer exist)."""
        return self.closing

    def run(self, what: str, func: Callable[..., Any], *args: Any) -> None:
        """Run a handler body, turning exceptions into ``error`` replies.

        A generator handler runs up to its ``yield`` here; the rest is queued as a job.
        """
        self.last_progress = -1.0
        self._local.stops_at_start = self._stops()  # per thread: worker and job thread
        job = None
        with self._reporting(what):
            result = func(self, *args)
            if inspect.isgenerator(result) and next(result, StopIteration) is not StopIteration:
                job = result
        if job is not None:
            self.start_job(what, job)

    def start_job(self, what: str, job: Generator[None, None, None]) -> None:
        """Run the rest of ``job`` on the job thread (inline when Pd runs synchronously)."""
        if self._runs_synchronously():
            self._finish(what, job)
            return
        self._jobs.put((what, job))
        with self._job_lock:
            if self._job_thread is None or not self._job_thread.is_alive():
                self._job_thread = threading.Thread(
                    target=self._job_loop, name=f"dlwa-{self.object_name}-job", daemon=True)
                self._job_thread.start()

    def cancel_jobs(self) -> None:
        """Stop the running job at its next check and drop the jobs waiting."""
        self._cancel.set()
        while True:
            try:
                waiting = self._jobs.get_nowait()
            except queue.Empty:
                break
            if waiting is None:  # keep the thread's end marker
                self._jobs.put(None)
                break
            waiting[1].close()

    def _job_loop(self) -> None:
        while not self.closing:
            item = self._jobs.get()
            if item is None:
                return
            self._cancel.clear()
            self._finish(*item)

    def _finish(self, what: str, job: Generator[None, None, None]) -> None:
        self.last_progress = -1.0
        self._local.stops_at_start = self._stops()  # per thread: worker and job thread
        with self._reporting(what):
            for _ in job:
                pass

    @contextlib.contextmanager
    def _reporting(self, what: str) -> Iterator[None]:
        """Turn a handler's exceptions into one ``error`` line each; the state is idle after."""
        try:
            yield
        except Stopped:
            if not self.gone():
                self.error(f"{what.removesuffix('_1')} stopped")
        except (ValueError, LookupError, OSError) as exc:
            if not self.gone():
                self.error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the object
            if not self.gone():  # deleted while busy: nobody to tell
                traceback.print_exc(file=sys.stderr)
                self.error(f"{type(exc).__name__}: {exc}")
        finally:
            self.state = "idle"

    def _runs_synchronously(self) -> bool:
        """True in ``pd -batch`` (or ``@sync 1``) and in the headless stand-in."""
        sync = getattr(self, "_sync", None)
        return True if sync is None else bool(sync())

    def usages(self) -> list[str]:
        """The usage text of every ``@message`` handler, sorted."""
        found = (getattr(getattr(type(self), n), "usage", None) for n in dir(type(self)))
        return sorted(u for u in found if u)

    # ----- models and arrays

    def require_model(self) -> Any:
        """The loaded model, or ValueError saying how to load one and which exist."""
        if self.model is not None:
            return self.model
        from dlwa.checkpoints import list_checkpoints

        names = ", ".join(list_checkpoints(kind=self.checkpoint_kind)) or "none in checkpoints/"
        raise ValueError(f"no model loaded: send 'load <name>' first (available: {names})")

    def buffer(self, name: Any) -> Any:
        """The ``pyext.Buffer`` of Pd array ``name``, or ValueError if there is none."""
        array = name_arg(name, "array")
        try:
            buf = pyext.Buffer(array)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"no array named '{array}': add [array define {array}]") from exc
        if len(buf) == 0:  # the original pyext returns an invalid, empty Buffer instead
            raise ValueError(f"no array named '{array}': add [array define {array}]")
        return buf

    def read_array(self, name: Any, sample_rate: float | None = None) -> tuple[np.ndarray, float]:
        """Read Pd array ``name`` as float32 samples with their rate (default Pd's).

        Returns:
            ``(audio, sample_rate)``: audio of shape [n_samples], rate in Hz.
        """
        rate = pyext._samplerate() if sample_rate is None else sample_rate
        rate = number(rate, "sample_rate", low=1.0)
        return np.array(self.buffer(name), dtype=np.float32), rate

    def write_array(self, name: Any, audio: np.ndarray) -> int:
        """Write samples into Pd array ``name``: resize if needed, write, redraw.

        Uses ``Buffer.write`` (our external's atomic resize-and-write, spec §3.5), so no
        one can resize the array between the resize and the write.

        Args:
            name: The array.
            audio: Samples, shape [n_samples], finite.

        Returns:
            The number of samples written.
        """
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1 or samples.size == 0 or not np.all(np.isfinite(samples)):
            raise ValueError(
                f"audio for array '{name}' must be 1-D and non-empty and finite: "
                f"got shape {'x'.join(map(str, samples.shape)) or 'scalar'}"
            )
        buf = self.buffer(name)
        buf.write(samples, resize=True)  # resize and write in one step on Pd's thread
        buf.dirty()
        return int(samples.size)
