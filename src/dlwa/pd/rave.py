"""``[rave~ <model> [method] [chunk]]``: an nn~-compatible model (RAVE) streamed live.

``[rave~ ...]`` is ``[pyext~ dlwa.pd rave_stream ...]`` (a name the ``py`` library
registers): its signal inlets and outlets follow the method's channels, as nn~'s do, which
an abstraction cannot. The model is found by name (``guitar`` → ``checkpoints/rave_guitar``)
or by path (relative to the patch); its methods and channels are read from the file when
the object is made (milliseconds, no torch), the model itself loads on a worker thread.
Pd's audio thread only copies samples into and out of a ring; the object's stream worker
runs :class:`dlwa.rave.stream.RaveStream` on whole chunks (the class ``dlwa stream rave``
runs). Latency: two chunks in real time (one in ``pd -batch``), plus the resampling when
Pd's rate is not the model's.

Messages (into the leftmost inlet, or the rightmost: the Python inlet):

- ``load <model>`` / ``reload``: the model (or the same file again, e.g. after training);
  the old one plays until the new one is ready. Replies ``loaded <name>``.
- ``method <name>``: another method with the same channels (``forward`` ↔ ``encode`` when
  the latent has one dimension, or between models' methods); ``done method <name>``.
- ``enable <0|1>``: 0 outputs silence and spends no time on the model (as nn~).
- ``set <attribute> <value…>`` / ``get <attribute>``: the model's attributes, typed as its
  setter says; ``get`` replies ``attribute <name> <value…>``.
- ``chunk <samples>``: the chunk from the next DSP start (rounded to what the model takes).
- ``info``: replies ``methods <m…>``, ``channels <in> <out>``, ``ratios <in> <out>``,
  ``attributes <a…>``, ``samplerate <model Hz>`` and ``latency <samples> <ms>``.
- ``unload``, ``status``, ``help``, ``stop``, as every dlwa object.

Outlets: the method's signals, then the info outlet: the replies, ``error …``, and pyext~'s
``underruns <n>`` (at each DSP start, and whenever the count grows).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Generator, Iterable
from typing import Any

import numpy as np

from dlwa.pd._host import pyext
from dlwa.pd.base import message, name_arg, number
from dlwa.pd.streaming import StreamingObject

DEFAULT_MODEL = "guitar"
DEFAULT_METHOD = "forward"


class rave_stream(StreamingObject):  # Pd object names are lower case
    """One method of an nn~ model on Pd's signals."""

    object_name = "rave~"
    _sigin = 1
    _sigout = 1
    _chunk = 1024
    _latency = 2048

    def __init__(self, model: Any = DEFAULT_MODEL, method: Any = DEFAULT_METHOD,
                 chunk: Any = 0, *rest: Any) -> None:
        super().__init__()
        self.method = str(method) if isinstance(method, str) else DEFAULT_METHOD
        self.enabled = True
        self.stream: Any = None
        self.info: Any = None
        self._next_model: Any = None
        self._wanted_chunk: int | None = None
        self._rebuild = False
        self._lock = threading.Lock()  # the model: its calls (worker) and set (handlers)
        self._pending: list[str] = []
        if isinstance(method, (int, float)) and not chunk:  # [rave~ guitar 2048]
            chunk, self.method = method, DEFAULT_METHOD
        if rest:
            self._pending.append(f"takes a model, a method and a chunk: ignored {len(rest)} "
                                 "more argument(s)")
        if chunk:
            try:
                self._wanted_chunk = int(number(chunk, "chunk", low=1, high=65536))
            except ValueError as error:
                self._pending.append(str(error))
        self._model_arg = model if isinstance(model, str) and model else DEFAULT_MODEL
        self._read_channels()

    def _read_channels(self) -> None:
        """Size the signal inlets and outlets from the file (no torch: Pd is waiting)."""
        from dlwa.rave.model import find_model, read_info

        try:
            self.info = read_info(find_model(self._model_arg, base_dir=self._canvas_dir))
            params = self.info.methods.get(self.method)
            if params is None:
                raise ValueError(f"{self.info.path.stem} has no method '{self.method}': it "
                                 f"has {', '.join(self.info.methods)}")
        except (OSError, ValueError) as error:
            self.info = None
            self._pending.append(str(error).splitlines()[0])
            return
        self._sigin, self._sigout = params.in_channels, params.out_channels
        self._size_chunk()

    def _init(self) -> None:
        """After the outlets exist: report what went wrong in ``__init__``, start loading."""
        for text in self._pending:
            self.error(text)
        self._pending = []
        if self.info is not None:
            self.run("load", lambda obj: obj._load(str(self.info.path)))

    # ----- messages

    @message("load <model>")
    def load_1(self, name: Any) -> Generator[None, None, None]:
        """Load another model (name or .ts path); it takes over at the next chunk."""
        from dlwa.rave.model import find_model

        path = find_model(name_arg(name, "model"), base_dir=self._canvas_dir)
        yield from self._load(str(path))

    @message("reload")
    def reload_1(self) -> Generator[None, None, None]:
        """Load the same file again (e.g. after exporting a newer version)."""
        if self.info is None:
            raise ValueError("no model to reload: send 'load <model>' first")
        yield from self._load(str(self.info.path))

    def _load(self, path: str) -> Generator[None, None, None]:
        from dlwa.rave.model import read_info

        info = read_info(path)
        self._check_fits(info, self.method)
        yield
        self.state = "loading"
        import torch

        from dlwa.rave.model import NNModel
        from dlwa.rave.stream import RaveStream

        torch.set_num_threads(1)  # as nn~: a second thread would spin against Pd's own
        model = NNModel(path)
        # A throw-away stream at Pd's rate warms the model up (first TorchScript calls take
        # hundreds of ms) before it plays; its state then holds silence.
        rate = round(pyext._samplerate())
        RaveStream(model, self.method, chunk=self._fitted(info, rate)[0],
                   sample_rate=rate).warm_up()
        gc.collect()
        gc.freeze()  # what exists now stays out of the collector's (slow) full passes
        old_info, self.info = self.info, info
        self._next_model = model  # the next chunk builds its stream and plays it
        self.model, self.model_name = model, model.name
        if old_info is None or old_info.higher_ratio != info.higher_ratio:
            self._size_chunk()
        self.reply("loaded", model.name)

    @message("method <name>")
    def method_1(self, name: Any) -> None:
        """Switch to another method with the same channel counts (from the next chunk)."""
        name = name_arg(name, "method")
        if self.info is None:
            raise ValueError("no model loaded: send 'load <model>' first")
        self._check_fits(self.info, name)
        self.method = name
        self._rebuild = True
        self.done("method", name)

    @message("enable <0|1>")
    def enable_1(self, value: Any) -> None:
        """0: silence out, no model calls; 1: play (default)."""
        self.enabled = bool(number(value, "enable", low=0, high=1))
        self.done("enable", int(self.enabled))

    @message("set <attribute> <value…>")
    def set_1(self, attribute: Any = None, *values: Any) -> None:
        """Set one of the model's attributes (``info`` lists them)."""
        model = self._loaded_model()
        name = name_arg(attribute, "attribute")
        with self._lock:
            model.set(name, list(values))
        self.done("set", name, *values)

    @message("get <attribute>")
    def get_1(self, attribute: Any = None) -> None:
        """Reply ``attribute <name> <value…>``."""
        model = self._loaded_model()
        name = name_arg(attribute, "attribute")
        with self._lock:
            values = model.get(name)
        self.reply("attribute", name, *[_atom(v) for v in values])

    @message("chunk <samples>")
    def chunk_1(self, value: Any) -> None:
        """Samples per chunk from the next DSP start; replies ``done chunk <n>``."""
        chunk = number(value, "chunk", low=1, high=65536)
        if chunk != int(chunk):
            raise ValueError(f"chunk must be a whole number of samples: got {chunk:g}")
        self._wanted_chunk = int(chunk)
        self._size_chunk(report=True)
        self.done("chunk", self._chunk)

    @message("info")
    def info_1(self) -> None:
        """Methods, channels, ratios, attributes, the model's rate and the latency."""
        info = self.info
        if info is None:
            raise ValueError("no model: send 'load <model>' first")
        params = info.methods[self.method]
        self.reply("methods", *info.methods)
        self.reply("method", self.method)
        self.reply("channels", params.in_channels, params.out_channels)
        self.reply("ratios", params.in_ratio, params.out_ratio)
        if self.model is not None:
            self.reply("attributes", *self.model.attributes)
        self.reply("samplerate", info.sample_rate or round(pyext._samplerate()))
        self._report_latency()

    @message("latency")
    def latency_1(self) -> None:
        """Reply ``latency <samples> <ms>``: input to output, ring included."""
        self._report_latency()

    @message("unload")
    def unload_1(self) -> None:
        """Stop playing the model (silence); replies ``unloaded``."""
        self.stream = self.model = self.model_name = self._next_model = None
        self.reply("unloaded")

    # ----- the audio (the stream worker thread; Pd's thread in -batch)

    def _dsp(self) -> None:
        """At each DSP start (pyext~ calls it before reading ``_chunk``): size the chunk for
        Pd's rate."""
        self._size_chunk()

    def _process(self, x: np.ndarray) -> np.ndarray:
        try:
            return self._process_chunk(x)
        except ValueError as error:  # e.g. a model swapped in that cannot take this chunk
            self.error(str(error).splitlines()[0])
            self.stream = None
            return np.zeros((self._sigout, x.shape[1]), np.float32)

    def _process_chunk(self, x: np.ndarray) -> np.ndarray:
        silent = np.zeros((self._sigout, x.shape[1]), np.float32)
        if self._next_model is not None:
            model, self._next_model = self._next_model, None
            self.stream = self._new_stream(model, x.shape[1])
        stream = self.stream
        if stream is None or not self.enabled:
            return silent
        rate = round(pyext._samplerate())
        _, restarted = self._note_worker()
        if (restarted or self._rebuild or stream.chunk != x.shape[1]
                or stream.sample_rate != rate or stream.method != self.method):
            stream = self.stream = self._new_stream(stream.model, x.shape[1])
        with self._lock:
            return stream.process(x)

    # ----- helpers

    def _check_fits(self, info: Any, method: str) -> None:
        """ValueError unless ``info`` has ``method`` with this object's channel counts."""
        params = info.methods.get(method)
        if params is None:
            raise ValueError(f"{info.path.stem} has no method '{method}': it has "
                             f"{', '.join(info.methods)}")
        if (params.in_channels, params.out_channels) != (self._sigin, self._sigout):
            raise ValueError(f"{info.path.stem}.{method} has {params.in_channels} in and "
                             f"{params.out_channels} out; this object has {self._sigin} in "
                             f"and {self._sigout} out: make a new [rave~ {info.path.stem} "
                             f"{method}]")

    def _new_stream(self, model: Any, chunk: int) -> Any:
        from dlwa.rave.stream import RaveStream

        self._rebuild = False
        stream = RaveStream(model, self.method, chunk=chunk,
                            sample_rate=round(pyext._samplerate()))
        self.stream = stream
        self._report_latency()
        return stream

    def _fitted(self, info: Any, rate: int) -> tuple[int, str | None]:
        from dlwa.rave.stream import fit_chunk

        return fit_chunk(self._wanted_chunk, info.higher_ratio, info.sample_rate or rate, rate)

    def _size_chunk(self, report: bool = False) -> None:
        if self.info is None:
            return
        chunk, note = self._fitted(self.info, round(pyext._samplerate()))
        if note and (report or self._chunk != chunk):  # a note, as nn~'s: no error
            print(f"{self.object_name}: {note}")
        self._chunk = chunk
        self._latency = 2 * chunk  # pyext~ reads both at the next DSP start

    def _loaded_model(self) -> Any:
        if self.model is None:
            raise ValueError("no model loaded yet: send 'load <model>' (or wait for 'loaded')")
        return self.model

    def _report_latency(self) -> None:
        stream = self.stream
        if stream is not None:
            samples = stream.host_latency(realtime=not self._runs_synchronously())
            rate = stream.sample_rate
        else:
            samples = self._chunk * (1 if self._runs_synchronously() else 2)
            rate = round(pyext._samplerate())
        self.reply("latency", samples, round(1000.0 * samples / rate, 2))

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        """Method, enable, chunk and the processing time per chunk (mean, longest, late)."""
        return [("method", self.method), ("enable", int(self.enabled)),
                ("chunk", self._chunk), self.timing_status()]


def _atom(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str)):
        return value
    return str(value)
