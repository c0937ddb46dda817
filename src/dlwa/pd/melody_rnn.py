"""``[pyext. dlwa.pd melody_rnn]``: AI Duet, a MelodyRNN that answers the phrase you play.

Use it through the ``[melody_rnn]`` abstraction (``pd_patches/melody_rnn.pd``), which
stamps every message with Pd's logical time and plays the answer in logical time. The
object itself never waits or sleeps: it turns an answer into ``schedule`` messages that
the abstraction's ``[pipe]`` plays, so timing is exact and ``pd -batch`` renders are
deterministic.

Messages (inlet 1), as in the course's ``ai_duet.pd`` plus settings:

- ``load <name or path>``: a ``melody_rnn`` checkpoint (``melody_rnn_attention``; the
  course names ``basic_rnn``, ``lookback_rnn``, ``attention_rnn`` work too) or a Magenta
  ``.mag`` bundle (converted on the fly). Replies ``loaded <name>``.
- ``note <pitch> <velocity>``: a played note-on (velocity 0 = note-off), pitch 0..127.
- ``generate [seconds]``: answer the phrase so far (length: ``seconds``, else ``length``).
- ``clear``: forget the phrase. ``state``: print the phrase to the console and reply
  ``phrase <n_notes> <duration_ms>``.
- ``temperature <t>``; ``beam <size> [branch_factor] [steps_per_iteration]``;
  ``length <n> [bars|seconds]``; ``tempo <qpm>`` or ``tempo auto`` (estimated from the
  phrase, 120 with fewer than 5 notes); ``seed <n>`` or ``seed random``.
- ``duet <0|1> [wait_ms] [max_phrase_s]``: answer by itself once no note has been held for
  ``wait_ms`` (600), with the phrase cut to its last ``max_phrase_s`` (10) seconds and an
  answer as long as the phrase, clamped to 1..8 s (A.I. Duet's rules).
- ``stop``: cancel the answer, release its notes; ``allnotesoff``: release every pitch.
- ``time <ms>``: the current logical time (sent by the abstraction before each message;
  without it the object uses the wall clock).
- ``respond``: sent by the abstraction when the duet wait is over.

Replies: ``loaded <name>``; ``answer <n_notes> <duration_ms> <qpm>`` then
``schedule <delay_ms> <pitch> <velocity>`` per note-on and note-off and ``end
<duration_ms>`` (the abstraction turns these into timed ``note <pitch> <velocity>`` and
``played``); ``note <pitch> 0`` on ``stop``; ``unschedule``; ``duet_wait <ms>`` and
``duet_cancel`` (for the abstraction's timer); ``error …``; ``status`` facts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

from dlwa.pd.base import PdObject, message, name_arg, number

STEPS_PER_BAR = 16
DEFAULT_QPM = 120.0
MIN_NOTES_FOR_TEMPO = 5
ARTICULATION = 0.9
"""Answer notes sound for 90 % of their length (A.I. Duet), at most MAX_NOTE_MS."""
MAX_NOTE_MS = 4000.0
RELEASE_SLACK_MS = 100.0


@dataclass
class PlayedNote:
    """A note of the phrase, in the object's clock (ms); ``end_ms`` None while held."""

    start_ms: float
    pitch: int
    velocity: int
    end_ms: float | None = None


class melody_rnn(PdObject):  # Pd object names are lower case
    """Record a phrase of notes and answer it with a MelodyRNN continuation."""

    object_name = "melody_rnn"
    checkpoint_kind = "melody_rnn"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.phrase: list[PlayedNote] = []
        self.clock_ms: float | None = None
        self.temperature, self.beam = 1.0, (1, 1, 1)
        self.length, self.length_unit = 4.0, "bars"
        self.fixed_qpm: float | None = None
        self.duet_on, self.duet_wait_ms, self.duet_max_phrase_s = False, 600.0, 10.0
        self.seed: int | None = None
        self.scheduled: list[tuple[float, float, int]] = []  # (on_ms, off_ms, pitch)
        self.answer_start_ms = 0.0

    # ----- model

    @message("load <checkpoint name, path or .mag bundle>")
    def load_1(self, name: Any) -> Generator[None, None, None]:
        """Load by name (course names too), path, or Magenta bundle; ``loaded <name>``."""
        text = name_arg(name, "model")
        yield
        from dlwa.melody_rnn.generate import load_generator

        self.state = "loading"
        if text.endswith(".mag"):
            from dlwa.melody_rnn.convert import generator_from_bundle

            self.model = generator_from_bundle(self._path(text))
        else:
            self.model = load_generator(text, base_dir=self._canvas_dir)
        self.model_name = str(name)
        self._warm_up()
        self.reply("loaded", self.model_name)

    def _warm_up(self) -> None:
        """Import note_seq and pretty_midi and run one tiny answer, so the first real
        answer is as quick as the rest."""
        import pretty_midi  # noqa: F401 - imported now rather than at the first answer

        from dlwa.melody_rnn.generate import GenerateOptions, Note

        self.model.answer([Note(0.0, 0.1, 60)], n_steps=2, qpm=DEFAULT_QPM,
                          options=GenerateOptions(seed=0, interrupt=self.check_stop))

    def _path(self, text: str) -> Any:
        from pathlib import Path

        path = Path(text).expanduser()
        return path if path.is_absolute() or not self._canvas_dir else Path(
            self._canvas_dir) / path

    # ----- the phrase

    @message("time <ms>")
    def time_1(self, ms: Any) -> None:
        """Set the logical clock (ms); the abstraction sends it before every message."""
        self.clock_ms = number(ms, "time", low=0.0)

    @message("note <pitch> <velocity>")
    def note_1(self, pitch: Any, velocity: Any) -> None:
        """Record a note-on (velocity > 0) or note-off (velocity 0)."""
        p = int(number(pitch, "pitch", low=0, high=127))
        v = int(number(velocity, "velocity", low=0, high=127))
        now = self.now_ms()
        held = [n for n in self.phrase if n.pitch == p and n.end_ms is None]
        for n in held:
            n.end_ms = now
        if v > 0:
            self.phrase.append(PlayedNote(now, p, v))
            if self.duet_on:
                self.reply("duet_cancel")
        elif self.duet_on and held and not self._held():
            self.reply("duet_wait", self.duet_wait_ms)

    @message("clear")
    def clear_1(self) -> None:
        """Forget the recorded phrase."""
        self.phrase = []

    @message("state")
    def state_1(self) -> None:
        """Print the phrase to Pd's console; reply ``phrase <n_notes> <duration_ms>``."""
        origin = self.phrase[0].start_ms if self.phrase else 0.0
        for n in self.phrase:
            end = "held" if n.end_ms is None else f"{n.end_ms - origin:.1f}"
            print(f"melody_rnn: note {n.pitch} {n.velocity} at {n.start_ms - origin:.1f} ms, "
                  f"until {end}", file=sys.stderr)
        self.reply("phrase", len(self.phrase), round(self._phrase_ms(), 3))

    # ----- answering

    @message("generate [seconds]")
    def generate_1(self, seconds: Any = None) -> Generator[None, None, None]:
        """Answer the phrase; its length is ``seconds`` or the ``length`` setting."""
        if seconds is None:
            yield from self._answer(self.length, self.length_unit, self._closed_phrase())
        else:
            yield from self._answer(number(seconds, "seconds", low=0.05, high=120.0),
                                    "seconds", self._closed_phrase())

    @message("respond")
    def respond_1(self) -> Generator[None, None, None]:
        """The duet answer: phrase cut to its last seconds, answer as long as it (1..8 s)."""
        phrase = self._closed_phrase()
        if not phrase:
            return
        end = max(n.end_ms for n in phrase)
        cut = [n for n in phrase if n.start_ms >= end - 1000.0 * self.duet_max_phrase_s]
        span_s = (end - cut[0].start_ms) / 1000.0
        self.phrase = []
        yield from self._answer(min(max(span_s, 1.0), 8.0), "seconds", cut)

    def _answer(self, length: float, unit: str, phrase: list[PlayedNote]
                ) -> Generator[None, None, None]:
        """A job: the settings are read now; the answer is generated on the job thread, after
        the jobs before it (a ``load`` sent just before is done by then)."""
        from dlwa.melody_rnn.generate import GenerateOptions, Note

        qpm = self.fixed_qpm or estimate_qpm(phrase)
        step_ms = 15000.0 / qpm
        n_steps = round(length * STEPS_PER_BAR) if unit == "bars" else round(
            1000.0 * length / step_ms)
        n_steps = max(1, min(n_steps, 4096))
        size, branch, steps = self.beam
        options = GenerateOptions(temperature=self.temperature, beam_size=size,
                                  branch_factor=branch, steps_per_iteration=steps, seed=self.seed,
                                  interrupt=self.check_stop)
        notes = [Note(n.start_ms / 1000, n.end_ms / 1000, n.pitch, n.velocity) for n in phrase]
        velocity = round(sum(n.velocity for n in phrase) / len(phrase)) if phrase else 100
        yield
        generator = self.require_model()
        self.state = "generating"
        answer = generator.answer(notes, n_steps=n_steps, qpm=qpm, options=options)
        self._unschedule()
        self.answer_start_ms = self.now_ms()
        self.reply("answer", len(answer.notes), round(n_steps * step_ms, 3), round(qpm, 3))
        events = []
        for n in answer.notes:
            on_ms = n.start_s * 1000.0
            off_ms = on_ms + min((n.end_s - n.start_s) * 1000.0 * ARTICULATION, MAX_NOTE_MS)
            events += [(on_ms, 1, n.pitch, velocity), (off_ms, 0, n.pitch, 0)]
            self.scheduled.append((on_ms, off_ms, n.pitch))
        for at_ms, _, pitch, vel in sorted(events):  # note-offs first at equal times
            self.reply("schedule", round(at_ms, 4), pitch, vel)
        self.reply("end", round(n_steps * step_ms, 3))

    # ----- settings

    @message("temperature <t>")
    def temperature_1(self, t: Any) -> None:
        """Sampling temperature, 0.01..10 (1 = as trained)."""
        self.temperature = number(t, "temperature", low=0.01, high=10.0)

    @message("beam <size> [branch_factor] [steps_per_iteration]")
    def beam_1(self, size: Any, branch_factor: Any = 1, steps: Any = 1) -> None:
        """Beam search settings (1 1 1 = plain sampling)."""
        values = tuple(int(number(v, name, low=1, high=64)) for v, name in (
            (size, "beam size"), (branch_factor, "branch_factor"),
            (steps, "steps_per_iteration")))
        self.beam = values  # type: ignore[assignment]

    @message("length <n> [bars|seconds]")
    def length_1(self, n: Any, unit: Any = "bars") -> None:
        """Default answer length for ``generate`` without an argument."""
        unit = name_arg(unit, "unit")
        if unit not in ("bars", "seconds"):
            raise ValueError(f"length unit must be 'bars' or 'seconds': got '{unit}'")
        high = 64.0 if unit == "bars" else 120.0
        self.length, self.length_unit = number(n, "length", low=0.0625, high=high), unit

    @message("tempo <qpm or auto>")
    def tempo_1(self, qpm: Any) -> None:
        """Fix the tempo (20..400 qpm) or estimate it from each phrase (``auto``)."""
        self.fixed_qpm = None if qpm == "auto" else number(qpm, "tempo", low=20, high=400)

    @message("seed <n or random>")
    def seed_1(self, seed: Any) -> None:
        """Fix the sampling seed (same phrase, same answer) or draw a fresh one each time."""
        self.seed = None if seed == "random" else int(number(seed, "seed", low=0))

    @message("duet <on> [wait_ms] [max_phrase_s]")
    def duet_1(self, on: Any, wait_ms: Any = 600, max_phrase_s: Any = 10) -> None:
        """Answer by itself after ``wait_ms`` without held notes."""
        self.duet_on = bool(number(on, "on", low=0, high=1))
        self.duet_wait_ms = number(wait_ms, "wait_ms", low=0, high=60000)
        self.duet_max_phrase_s = number(max_phrase_s, "max_phrase_s", low=0.5, high=120)
        if not self.duet_on:
            self.reply("duet_cancel")

    @message("stop")
    def stop_1(self) -> None:
        """Stop a generation, cancel the answer and release the notes it is sounding."""
        self.cancel_jobs()
        self._unschedule()
        self.reply("duet_cancel")

    @message("allnotesoff")
    def allnotesoff_1(self) -> None:
        """Cancel the answer and send a note-off for every pitch."""
        self.scheduled = []
        self.reply("unschedule")
        for pitch in range(128):
            self.reply("note", pitch, 0)

    # ----- helpers

    def now_ms(self) -> float:
        """The logical time from the abstraction, else the wall clock (ms)."""
        return self.clock_ms if self.clock_ms is not None else time.monotonic() * 1000.0

    def _held(self) -> list[PlayedNote]:
        return [n for n in self.phrase if n.end_ms is None]

    def _closed_phrase(self) -> list[PlayedNote]:
        """The phrase with held notes ending now."""
        now = self.now_ms()
        return [PlayedNote(n.start_ms, n.pitch, n.velocity,
                           n.end_ms if n.end_ms is not None else max(now, n.start_ms + 1.0))
                for n in self.phrase]

    def _phrase_ms(self) -> float:
        phrase = self._closed_phrase()
        return max(n.end_ms for n in phrase) - phrase[0].start_ms if phrase else 0.0

    def _unschedule(self) -> None:
        """Clear the abstraction's schedule; note-offs for answer notes sounding now."""
        elapsed = self.now_ms() - self.answer_start_ms
        sounding = sorted({p for on, off, p in self.scheduled
                           if on - RELEASE_SLACK_MS <= elapsed < off + RELEASE_SLACK_MS})
        self.scheduled = []
        self.reply("unschedule")
        for pitch in sounding:
            self.reply("note", pitch, 0)

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        """Settings and the phrase, one fact per message."""
        return [("temperature", self.temperature), ("beam", *self.beam),
                ("length", self.length, self.length_unit),
                ("tempo", self.fixed_qpm if self.fixed_qpm else "auto"),
                ("duet", int(self.duet_on), self.duet_wait_ms, self.duet_max_phrase_s),
                ("seed", self.seed if self.seed is not None else "random"),
                ("phrase", len(self.phrase), round(self._phrase_ms(), 3))]


def estimate_qpm(phrase: list[PlayedNote]) -> float:
    """The phrase's tempo as the course estimates it: pretty_midi's estimate for 5 notes
    or more (halved while above 240 qpm, doubled while below 40), else 120 qpm."""
    if len(phrase) < MIN_NOTES_FOR_TEMPO:
        return DEFAULT_QPM
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(0)
    origin = phrase[0].start_ms
    for n in phrase:
        instrument.notes.append(pretty_midi.Note(
            velocity=n.velocity, pitch=n.pitch, start=(n.start_ms - origin) / 1000,
            end=((n.end_ms or n.start_ms + 1.0) - origin) / 1000))
    midi.instruments.append(instrument)
    try:
        qpm = float(midi.estimate_tempo())
    except (ValueError, IndexError):
        return DEFAULT_QPM
    while qpm > 240:
        qpm /= 2
    while 0 < qpm < 40:
        qpm *= 2
    return qpm if qpm > 0 else DEFAULT_QPM
