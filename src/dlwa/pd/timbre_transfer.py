"""``[pyext. dlwa.pd timbre_transfer]``: DDSP timbre transfer from one Pd array into another.

Keeps the course's messages (``02_ddsp/ddsp_pd.py``) and adds one message per parameter:

- ``load <model>``: a DDSP checkpoint by name (``violin`` finds ``checkpoints/ddsp_violin``)
  or path (relative to the patch); replies ``loaded <name>``.
- ``run <model> <in array> <out array> [f0_octave_shift f0_confidence_threshold
  loudness_db_shift in_sample_rate out_sample_rate adjust quiet autotune]``: the course's
  argument order; missing arguments take the object's current settings. The output is
  peak-normalised to 0.9 and written (resized) into ``<out array>`` at ``out_sample_rate``
  (by default Pd's rate, so ``[tabplay~]`` or ``[tabread4~]`` at normal speed plays it
  right); replies ``progress …`` then ``transferred <n_samples>``.
- ``normalize <array> [peak]``: scale an array to the peak (default 0.9); ``normalized``.
- Parameters, each replying ``done <name> <value>``: ``f0_octave_shift <octaves>``,
  ``f0_confidence_threshold <0..1>``, ``loudness_db_shift <dB>``, ``in_sample_rate <Hz>``
  (0: Pd's rate), ``out_sample_rate <Hz>`` (0, the default: Pd's rate; any other rate is
  resampled to with soxr, e.g. the model's 16000 for a file), ``adjust <0|1>``,
  ``quiet <dB>``, ``autotune <0..1>``, ``tracker <yin|crepe-tiny|crepe-full>``.
- ``status`` lists them all; ``unload`` and ``help`` as every dlwa object.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import numpy as np

from dlwa.pd._host import pyext
from dlwa.pd.base import PdObject, message, name_arg, number
from dlwa.pd.ddsp_controls import TransferControls

MIN_RATE, MAX_RATE = 1000.0, 384000.0
DEFAULT_PEAK = 0.9
STOP_CHECK_BLOCK_S = 1.0
"""Seconds of audio per block of a transfer: the result is the same for any block size."""
TRACKERS = ("yin", "crepe-tiny", "crepe-full")
RUN_PARAMETERS = ("f0_octave_shift", "f0_confidence_threshold", "loudness_db_shift",
                  "in_sample_rate", "out_sample_rate", "adjust", "quiet", "autotune")
LIMITS = {
    "f0_octave_shift": (-20.0, 20.0), "f0_confidence_threshold": (0.0, 1.0),
    "loudness_db_shift": (-100.0, 100.0), "in_sample_rate": (0.0, MAX_RATE),
    "out_sample_rate": (0.0, MAX_RATE), "adjust": (0.0, 1.0), "quiet": (0.0, 100.0),
    "autotune": (0.0, 1.0),
}


class timbre_transfer(TransferControls, PdObject):  # Pd object names are lower case
    """Transfer the timbre of a DDSP model onto the audio in a Pd array."""

    object_name = "timbre_transfer"
    checkpoint_kind = "ddsp"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.settings: dict[str, float] = {
            "f0_octave_shift": 0.0, "f0_confidence_threshold": 0.0, "loudness_db_shift": 0.0,
            "in_sample_rate": 0.0, "out_sample_rate": 0.0, "adjust": 1.0, "quiet": 20.0,
            "autotune": 0.0,
        }
        self.tracker = "yin"

    @message("load <model>")
    def load_1(self, name: Any) -> Generator[None, None, None]:
        """Load a DDSP checkpoint; replies ``loaded <name>``."""
        name = name_arg(name, "model")
        yield
        self.state = "loading"
        self.use_model(name)
        self.reply("loaded", self.model_name)

    @message("run <model> <in array> <out array> [f0_octave_shift f0_confidence_threshold "
             "loudness_db_shift in_sample_rate out_sample_rate adjust quiet autotune]")
    def run_1(self, model: Any, in_array: Any, out_array: Any, *parameters: Any
              ) -> Generator[None, None, None]:
        """Transfer ``in_array`` into ``out_array``; replies ``transferred <n_samples>``."""
        if len(parameters) > len(RUN_PARAMETERS):
            raise ValueError(f"run takes at most {len(RUN_PARAMETERS)} parameters after the "
                             f"arrays ({' '.join(RUN_PARAMETERS)}): got {len(parameters)}")
        settings = dict(self.settings)
        for key, value in zip(RUN_PARAMETERS, parameters):
            settings[key] = number(value, key, low=LIMITS[key][0], high=LIMITS[key][1])
        out_name = name_arg(out_array, "out array")
        self.buffer(out_name)  # fail before the work if the output array is missing
        audio, in_rate = self.read_array(in_array, settings["in_sample_rate"] or None)
        if in_rate < MIN_RATE:
            raise ValueError(f"in_sample_rate must be at least {MIN_RATE:g} Hz: got {in_rate:g}")
        if audio.size == 0:
            raise ValueError(f"array '{in_array}' is empty: load or record some sound first")
        model_name = name_arg(model, "model")
        yield
        self.state = "loading"
        loaded = self.use_model(model_name)
        self.state = "transferring"
        self.progress(0.0)
        from dlwa.ddsp.transfer import TransferParams, transfer

        params = TransferParams(
            f0_octave_shift=settings["f0_octave_shift"],
            f0_confidence_threshold=settings["f0_confidence_threshold"],
            loudness_db_shift=settings["loudness_db_shift"], adjust=bool(settings["adjust"]),
            quiet=settings["quiet"], autotune=settings["autotune"], tracker=self.tracker)
        # 0 is Pd's rate: a Pd array plays at Pd's rate, and playing a 16 kHz array faster
        # with [tabread4~] would mirror the harmonics above 8 kHz (it interpolates, it does
        # not filter). soxr resamples the model's output instead.
        out_rate = round(settings["out_sample_rate"] or pyext._samplerate())
        # 1-s blocks: progress (where `stop` is seen) comes every few tens of ms.
        out, _ = transfer(audio, sample_rate=round(in_rate), model=loaded, params=params,
                          out_sample_rate=out_rate, peak=DEFAULT_PEAK, progress=self.progress,
                          block_duration_s=STOP_CHECK_BLOCK_S)
        self.reply("transferred", self.write_array(out_name, out))

    @message("normalize <array> [peak]")
    def normalize_1(self, array: Any, peak: Any = DEFAULT_PEAK) -> Generator[None, None, None]:
        """Scale ``array`` so its peak is ``peak`` (after a ``run`` before it); ``normalized``."""
        target = number(peak, "peak", low=0.0, high=1.0)
        yield
        audio, _ = self.read_array(array)
        top = float(np.abs(audio).max()) if audio.size else 0.0
        if top == 0.0:
            raise ValueError(f"array '{array}' is silent: nothing to normalize")
        self.write_array(array, audio * (target / top))
        self.reply("normalized")

    @message("in_sample_rate <Hz, 0 for Pd's>")
    def in_sample_rate_1(self, value: Any) -> None:
        """The input array's rate (e.g. the file's); 0 uses Pd's."""
        self.set_parameter("in_sample_rate", value)

    @message("out_sample_rate <Hz, 0 for Pd's>")
    def out_sample_rate_1(self, value: Any) -> None:
        """The output array's rate; 0 (the default) is Pd's, so the array plays right."""
        self.set_parameter("out_sample_rate", value)

    @message("tracker <yin|crepe-tiny|crepe-full>")
    def tracker_1(self, value: Any) -> None:
        """The pitch tracker: yin (fast, default), crepe-tiny, crepe-full (accurate)."""
        if value not in TRACKERS:
            raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}: got '{value}'")
        self.tracker = str(value)
        self.done("tracker", self.tracker)

    # ----- helpers

    def set_parameter(self, key: str, value: Any) -> None:
        """Check and store one setting; replies ``done <key> <value>``."""
        low, high = LIMITS[key]
        self.settings[key] = number(value, key, low=low, high=high)
        if key in ("in_sample_rate", "out_sample_rate") and 0 < self.settings[key] < MIN_RATE:
            self.settings[key] = 0.0
            raise ValueError(f"{key} must be 0 or at least {MIN_RATE:g} Hz: got {value:g}")
        self.done(key, self.settings[key])

    def use_model(self, name: str) -> Any:
        """The loaded model if ``name`` is it, else load ``name`` (replacing it)."""
        if self.model is not None and name in (self.model_name, self._requested):
            return self.model
        from dlwa.ddsp.model import load_model

        self.model = load_model(name, base_dir=self._canvas_dir)
        self.model_name, self._requested = self.model.name, name
        return self.model

    _requested: str | None = None

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        """One ``<parameter> <value>`` per setting, and ``tracker <name>``."""
        return [*((key, value) for key, value in self.settings.items()),
                ("tracker", self.tracker), ("pd_samplerate", pyext._samplerate())]
