"""``[ddsp~ <model> [chunk]]``: live DDSP timbre transfer, one signal in, one out.

The abstraction ``pd_patches/ddsp~.pd`` wraps ``[pyext.~ dlwa.pd ddsp_stream <model>
<chunk>]``, a streaming ``pyext~`` class: Pd's audio thread only copies samples into and
out of a ring; the object's worker thread runs :class:`dlwa.ddsp.stream.DDSPStream` on
whole chunks (the same class ``dlwa stream ddsp`` runs). Latency: the stream's own
(look-ahead, resampling) plus two chunks of ring in real time (one in ``pd -batch``):
28.6 ms at 48 kHz with the default chunk of 384.

Messages (inlet 1; the abstraction's right inlet):

- ``load <model>``: a DDSP checkpoint by name (``violin``) or path; the old model plays
  until the new one is loaded, then the stream carries on with it. Replies ``loaded
  <name>``.
- Controls, as the offline ``timbre_transfer`` (each replies ``done <name> <value>`` and
  glides over ~30 ms while it plays): ``f0_octave_shift``, ``f0_confidence_threshold``,
  ``loudness_db_shift``, ``adjust``, ``quiet``, ``autotune``.
- ``latency``: replies ``latency <samples> <ms>`` (also sent whenever DSP starts).
- ``chunk <samples>``: the chunk from the next DSP start (16…8192); replies ``done chunk``.
- ``features <0|1>``: send the tracked input as ``pitch <midi> <confidence>`` and
  ``loudness <dB>`` every 25 ms (the first chunk after; default on).
- ``reset``: forget the running statistics of auto adjust (a new performer).
- ``unload`` (silence), ``status``, ``help``, ``stop``, as every dlwa object.
"""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterable
from typing import Any

import numpy as np

from dlwa.pd._host import pyext
from dlwa.pd.base import message, name_arg, number
from dlwa.pd.ddsp_controls import TransferControls
from dlwa.pd.streaming import StreamingObject
from dlwa.pd.timbre_transfer import LIMITS

DEFAULT_MODEL = "violin"
DEFAULT_CHUNK = 384  # dlwa.ddsp.stream.DEFAULT_CHUNK, without importing torch at load time
MIN_CHUNK, MAX_CHUNK = 16, 8192
FEATURES_EVERY_S = 0.025  # pitch and loudness replies: 40 a second, enough to watch or play


class ddsp_stream(TransferControls, StreamingObject):  # Pd object names are lower case
    """Live timbre transfer of the signal inlet into the model's instrument."""

    object_name = "ddsp~"
    checkpoint_kind = "ddsp"
    _sigin = 1
    _sigout = 1
    _chunk = DEFAULT_CHUNK
    _latency = 2 * DEFAULT_CHUNK

    def __init__(self, model: Any = DEFAULT_MODEL, chunk: Any = 0, *rest: Any) -> None:
        super().__init__()
        self.controls: dict[str, float] = {"f0_octave_shift": 0.0,
                                           "f0_confidence_threshold": 0.0,
                                           "loudness_db_shift": 0.0, "adjust": 1.0,
                                           "quiet": 20.0, "autotune": 0.0}
        self.send_features = True
        self._unreported = 0  # samples played since the last pitch and loudness replies
        self.stream: Any = None  # DDSPStream, once a model is loaded
        self._next_model: Any = None  # loaded on the job thread, swapped in by process
        self._reset = False
        self._arguments = (model, chunk, rest)

    def _init(self) -> None:
        """After the outlets exist: check the arguments and load the model."""
        model, chunk, rest = self._arguments
        if rest:
            self.error(f"takes a model and a chunk: ignored {len(rest)} more argument(s)")
        if chunk:  # 0: the abstraction's missing argument
            self.run("chunk", lambda obj: obj._set_chunk(chunk))
        self.load_1(model or DEFAULT_MODEL)  # 0: the abstraction without arguments

    # ----- messages

    @message("load <model>")
    def load_1(self, name: Any) -> Generator[None, None, None]:
        """Load a DDSP checkpoint; it takes over from the playing one at the next chunk."""
        name = name_arg(name, "model")
        yield
        self.state = "loading"
        import torch

        from dlwa.ddsp.model import load_model

        # One torch thread, as nn~ does: a second would spin against Pd's own thread.
        torch.set_num_threads(1)
        loaded = load_model(name, base_dir=self._canvas_dir)
        stream = self._new_stream(loaded, self._chunk)
        stream.warm_up()  # first calls are slow (allocations, FFT plans): not on the clock
        # Move what exists now (torch, the model) out of the collector's reach: a full
        # collection over it takes tens of ms, and would fall inside some chunk.
        gc.collect()
        gc.freeze()
        if self.stream is None:
            self.stream = stream
        else:
            self._next_model = loaded
        self.model, self.model_name = loaded, loaded.name
        self.reply("loaded", loaded.name)

    @message("unload")
    def unload_1(self) -> None:
        """Stop playing the model (silence); replies ``unloaded``."""
        self.stream = self.model = self.model_name = None
        self.reply("unloaded")

    @message("latency")
    def latency_1(self) -> None:
        """Reply ``latency <samples> <ms>``: input to output, ring buffer included."""
        if self.stream is None:
            raise ValueError("no model loaded: send 'load <name>' first (e.g. load violin)")
        self.report_latency(self.stream)

    @message("chunk <samples>")
    def chunk_1(self, value: Any) -> None:
        """Samples per chunk from the next DSP start; replies ``done chunk <n>``."""
        self._set_chunk(value)
        self.done("chunk", self._chunk)

    @message("features <0|1>")
    def features_1(self, value: Any) -> None:
        """Send ``pitch`` and ``loudness`` of the input every 25 ms (1) or not (0)."""
        self.send_features = bool(number(value, "features", low=0, high=1))
        self.done("features", int(self.send_features))

    @message("reset")
    def reset_1(self) -> None:
        """Forget auto adjust's running statistics (from the next chunk); ``done reset``."""
        self._reset = True
        self.done("reset")

    # ----- the audio (the object's stream worker thread; Pd's thread in -batch)

    def _process(self, x: np.ndarray) -> np.ndarray:
        stream = self.stream
        if stream is None:
            return np.zeros_like(x)
        if self._next_model is not None:
            model, self._next_model = self._next_model, None
            latency = stream.latency
            stream.swap_model(model)
            if stream.latency != latency:  # another model rate: the stream started over
                self.report_latency(stream)
        new_worker, restarted = self._note_worker()
        rebuilt = (restarted or self._reset or stream.chunk != x.shape[1]
                   or stream.sample_rate != round(pyext._samplerate()))
        if rebuilt:
            stream = self.stream = self._new_stream(stream.model, x.shape[1])
            self._reset = False
        if new_worker or rebuilt:
            self.report_latency(stream)
        y = stream.process(x[0])
        frames = stream.last_frames
        self._unreported += x.shape[1]
        if (self.send_features and frames is not None and len(frames)
                and self._unreported >= FEATURES_EVERY_S * stream.sample_rate):
            self._unreported = 0
            f0 = max(float(frames.f0_hz[-1]), 1e-3)
            self.reply("pitch", round(69.0 + 12.0 * float(np.log2(f0 / 440.0)), 3),
                       round(float(frames.confidence[-1]), 3))
            self.reply("loudness", round(float(frames.loudness_db[-1]), 2))
        return y[None]

    # ----- helpers

    def set_parameter(self, key: str, value: Any) -> None:
        """Check and apply one control; replies ``done <key> <value>``."""
        low, high = LIMITS[key]
        self.controls[key] = number(value, key, low=low, high=high)
        stream = self.stream
        if stream is not None:
            stream.set(**self._params_changes())
        self.done(key, self.controls[key])

    def _params_changes(self) -> dict[str, Any]:
        values: dict[str, Any] = dict(self.controls)
        values["adjust"] = bool(values["adjust"])
        return values

    def _new_stream(self, model: Any, chunk: int) -> Any:
        from dlwa.ddsp.stream import DDSPStream
        from dlwa.ddsp.transfer import TransferParams

        stream = DDSPStream(model, sample_rate=round(pyext._samplerate()), chunk=int(chunk),
                            params=TransferParams(**self._params_changes()))
        return stream

    def _set_chunk(self, value: Any) -> None:
        chunk = number(value, "chunk", low=MIN_CHUNK, high=MAX_CHUNK)
        if chunk != int(chunk):
            raise ValueError(f"chunk must be a whole number of samples: got {chunk:g}")
        self._chunk = int(chunk)
        self._latency = 2 * self._chunk  # pyext~ reads both at the next DSP start

    def report_latency(self, stream: Any) -> None:
        """Reply ``latency <samples> <ms>`` for ``stream`` in this Pd (ring included)."""
        samples = stream.host_latency(realtime=not self._runs_synchronously())
        self.reply("latency", samples, round(1000.0 * samples / stream.sample_rate, 2))

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        """Every control, the chunk and the features switch."""
        return [*self.controls.items(), ("chunk", self._chunk),
                ("features", int(self.send_features)), self.timing_status()]
