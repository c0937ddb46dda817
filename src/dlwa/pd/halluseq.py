"""``[pyext. dlwa.pd halluseq <edits array>]``: the HALLU sequencer of GANSpaceSynth.

A sequence of *steps*, each a point in a GANSpace (one amplitude per component, in standard
deviations), edited one at a time through the edits array the object was created with.
``hallucinate_noz`` plays the path: between neighbouring steps ``interp_steps`` points are
interpolated in coefficient space, each point is a ``synthesize_noz`` note, and the notes are
shaped and laid out as ``hallucinate`` does. Everything of ``gansynth`` works too (``load``,
``load_ganspace_components <file>``, ``synthesize_noz`` to preview a step, ``batch``…).

Messages (the course's, every one working, no 8-note cap):

- ``next_step`` / ``prev_step``: keep the edits array as the current step, move, and show
  the new step in the array; ``add_step`` inserts a copy of the current step after it and
  moves there; ``remove_step`` removes the current step (one always stays); ``rand_step``
  fills the current step with random amplitudes (N(0, 1)). Each replies ``step <index>
  <count>`` (index from 0).
- ``interp_steps <n>``, ``sample_spacing <s>``, ``start_trim <s>``, ``attack <s>``,
  ``sustain <s>``, ``release <s>``, ``pitch <p>``: reply ``settings <name> <value>``;
  ``send_state`` replies the step and every setting.
- ``hallucinate_noz <out>``: replies ``hallucinated <n_samples>`` (the array's new length).
- ``save_steps <file>`` (``save_z`` too, the course's name) and ``load_steps <file>``: the
  steps and settings as JSON (relative to the patch), so a sequence survives a restart;
  reply ``saved <file>`` and ``step <index> <count>``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from dlwa.pd.base import message, name_arg, number
from dlwa.pd.gansynth import gansynth

SETTINGS = {"interp_steps": (4.0, 0.0, 100.0), "sample_spacing": (0.4, 0.0, 60.0),
            "start_trim": (0.0, 0.0, 60.0), "attack": (0.5, 0.0, 60.0),
            "sustain": (0.5, 0.0, 60.0), "release": (0.5, 0.0, 60.0)}
"""name: (default, low, high). The course's defaults: 4 steps, 0.4 s apart, 0.5-s parts."""
FORMAT = "dlwa-halluseq-1"


class halluseq(gansynth):  # Pd object names are lower case
    """Compose a path through a GANSpace and render it as one sound."""

    object_name = "halluseq"

    def __init__(self, edits: Any = None, *args: Any) -> None:
        super().__init__(*args)
        if edits is None:
            raise ValueError("halluseq needs the edits array: [pyext. dlwa.pd halluseq "
                             "$0-edits]")
        self.edits = name_arg(edits, "edits array")
        self.batch = 1  # the course's default for the sequencer
        self.steps: list[np.ndarray] = [np.zeros(0, np.float32)]
        self.index = 0
        self.settings = {name: default for name, (default, _, _) in SETTINGS.items()}
        self.pitch: int | None = None

    @message("load_ganspace_components <file>")
    def load_ganspace_components_1(self, path: Any) -> Generator[None, None, None]:
        """Load a GANSpace file; the edits array and every step get its component count
        (steps keep their amplitudes, zero-padded). Replies ``loaded_pca <n>``."""
        kept = [s.copy() for s in self.steps]
        yield from gansynth.load_ganspace_components_1.__wrapped__(self, path, self.edits)
        n = self.space.n_components
        self.steps = [np.pad(s[:n], (0, max(0, n - len(s)))).astype(np.float32)
                      for s in kept]
        self._move(self.index, keep=False)

    # ----- steps

    @message("next_step")
    def next_step_1(self) -> None:
        """Move to the next step (the last stays the last)."""
        self._move(self.index + 1)

    @message("prev_step")
    def prev_step_1(self) -> None:
        """Move to the previous step (the first stays the first)."""
        self._move(self.index - 1)

    @message("add_step")
    def add_step_1(self) -> None:
        """Insert a copy of the current step after it and move there."""
        self._keep()
        self.steps.insert(self.index + 1, self.steps[self.index].copy())
        self._move(self.index + 1, keep=False)

    @message("remove_step")
    def remove_step_1(self) -> None:
        """Remove the current step (one always stays) and show the one before it."""
        if len(self.steps) == 1:
            self.steps[0] = np.zeros_like(self.steps[0])
        else:
            del self.steps[self.index]
        self._move(max(0, self.index - 1), keep=False)

    @message("rand_step")
    def rand_step_1(self) -> None:
        """Random amplitudes (N(0, 1), the object's seed) for the current step."""
        size = len(self._current())
        self.steps[self.index] = self.rng.standard_normal(size).astype(np.float32)
        self._move(self.index, keep=False)

    # ----- settings

    @message("interp_steps <n>")
    def interp_steps_1(self, value: Any) -> None:
        """Points interpolated between neighbouring steps."""
        self._setting("interp_steps", round(self._checked("interp_steps", value)))

    @message("sample_spacing <s>")
    def sample_spacing_1(self, value: Any) -> None:
        """Seconds between the starts of consecutive notes."""
        self._setting("sample_spacing", self._checked("sample_spacing", value))

    @message("start_trim <s>")
    def start_trim_1(self, value: Any) -> None:
        """Seconds cut from the start of each note."""
        self._setting("start_trim", self._checked("start_trim", value))

    @message("attack <s>")
    def attack_1(self, value: Any) -> None:
        """Seconds of each note's linear fade-in."""
        self._setting("attack", self._checked("attack", value))

    @message("sustain <s>")
    def sustain_1(self, value: Any) -> None:
        """Seconds each note holds."""
        self._setting("sustain", self._checked("sustain", value))

    @message("release <s>")
    def release_1(self, value: Any) -> None:
        """Seconds of each note's linear fade-out."""
        self._setting("release", self._checked("release", value))

    @message("pitch <p>")
    def pitch_1(self, value: Any) -> None:
        """The pitch of the notes (default: the model's middle pitch)."""
        self.pitch = int(number(value, "pitch", low=0, high=127))
        self.reply("settings", "pitch", self.pitch)

    @message("send_state")
    def send_state_1(self) -> None:
        """Reply the step and every setting."""
        self.reply("step", self.index, len(self.steps))
        for name, value in self.settings.items():
            self.reply("settings", name, value)
        if self.pitch is not None:
            self.reply("settings", "pitch", self.pitch)

    # ----- rendering and files

    @message("hallucinate_noz <out>")
    def hallucinate_noz_1(self, out: Any) -> Generator[None, None, None]:
        """Render the path through every step into ``out``; ``hallucinated <n_samples>``."""
        out_name = self._arrays([out], "")[0]
        self._keep()
        steps = [s.astype(np.float64) for s in self.steps]
        settings, pitch = dict(self.settings), self.pitch
        yield
        from dlwa.gansynth.ganspace import synthesize_edited
        from dlwa.gansynth.generate import MAX_NOTES, NoteShape, combine_notes

        model = self.require_model()
        if self.space is None:
            raise ValueError("no GANSpace loaded: send 'load_ganspace_components <file>' first")
        between = int(settings["interp_steps"])
        points = path_points(steps, between, self.space.n_components)
        if len(points) > MAX_NOTES:
            raise ValueError(f"{len(points)} notes: at most {MAX_NOTES} (fewer steps or "
                             "interp_steps)")
        shape = NoteShape(settings["start_trim"], settings["attack"], settings["sustain"],
                          settings["release"])
        config = model.config
        shape.check(config.audio_length / config.sample_rate)
        pitches = sorted(config.pitches)
        note_pitch = pitches[len(pitches) // 2] if pitch is None else pitch
        self.state = "hallucinating"
        self.progress(0.0)
        notes = np.concatenate([
            synthesize_edited(model, self.space, [note_pitch] * len(chunk), chunk,
                              batch_size=self.batch)
            for chunk in self._chunks(points)])
        audio = combine_notes(notes, sample_rate=config.sample_rate,
                              spacing=settings["sample_spacing"], shape=shape)
        self.reply("hallucinated", self.write_array(out_name, self._to_array_rate(audio)))

    @message("save_steps <file>")
    def save_steps_1(self, file: Any) -> None:
        """Write the steps and settings as JSON (relative to the patch); ``saved <file>``."""
        path = self._file(file)
        self._keep()
        data = {"format": FORMAT, "steps": [s.tolist() for s in self.steps],
                "index": self.index, "settings": self.settings, "pitch": self.pitch}
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)  # never a half-written file
        self.reply("saved", str(path))

    @message("save_z <file>")
    def save_z_1(self, file: Any) -> None:
        """The course's name for ``save_steps``."""
        self.save_steps_1(file)

    @message("load_steps <file>")
    def load_steps_1(self, file: Any) -> None:
        """Read steps and settings that ``save_steps`` wrote; replies ``step …``."""
        path = self._file(file)
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError("not a halluseq file")
            steps = [np.asarray(s, dtype=np.float32).reshape(-1) for s in data["steps"]]
            settings = {k: self._checked(k, data["settings"][k]) for k in SETTINGS}
            index = int(data["index"])
            pitch = data.get("pitch")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot load steps from {path}: {exc}") from None
        if not steps or not 0 <= index < len(steps):
            raise ValueError(f"cannot load steps from {path}: no steps or a bad index")
        self.steps, self.settings = steps, settings
        self.pitch = None if pitch is None else int(pitch)
        self._move(index, keep=False)

    # ----- helpers

    def _current(self) -> np.ndarray:
        """The edits array's values (what the user drew)."""
        return self.read_array(self.edits)[0]

    def _keep(self) -> None:
        self.steps[self.index] = self._current().copy()

    def _move(self, index: int, *, keep: bool = True) -> None:
        if keep:
            self._keep()
        self.index = min(max(index, 0), len(self.steps) - 1)
        step = self.steps[self.index]
        size = len(self._current())
        shown = np.zeros(max(size, 1), np.float32)
        shown[:min(len(step), len(shown))] = step[:len(shown)]
        self.write_array(self.edits, shown)
        self.reply("step", self.index, len(self.steps))

    def _checked(self, name: str, value: Any) -> float:
        _, low, high = SETTINGS[name]
        return number(value, name, low=low, high=high)

    def _setting(self, name: str, value: float) -> None:
        self.settings[name] = value
        self.reply("settings", name, value)

    def _file(self, file: Any) -> Path:
        path = Path(name_arg(file, "file")).expanduser()
        return path if path.is_absolute() else Path(self._canvas_dir) / path

    def _chunks(self, points: np.ndarray) -> Iterable[np.ndarray]:
        """Batches of points, reporting progress (where ``stop`` is seen) after each."""
        size = max(self.batch, 1)
        for start in range(0, len(points), size):
            yield points[start:start + size]
            self.progress(min(start + size, len(points)) / len(points))

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        """The gansynth facts, then ``step`` and ``edits``."""
        return [*super().status_items(), ("step", self.index, len(self.steps)),
                ("edits", self.edits)]


def path_points(steps: list[np.ndarray], between: int, width: int) -> np.ndarray:
    """Every step and ``between`` linearly interpolated points between each pair:
    ``[len(steps) + (len(steps) - 1) · between, width]`` amplitudes (short steps are padded
    with zeros, long ones cut)."""
    rows = np.zeros((len(steps), width))
    for i, step in enumerate(steps):
        rows[i, :min(len(step), width)] = step[:width]
    out = [rows[0]]
    for a, b in itertools.pairwise(rows):
        out += [a + (b - a) * (j + 1) / (between + 1) for j in range(between)]
        out.append(b)
    return np.stack(out)
