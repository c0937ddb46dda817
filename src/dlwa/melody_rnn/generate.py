"""Continue melodies with a trained MelodyRNN, as Magenta's melody generator does.

The primer (a MIDI file or a list of timed notes) is quantized to 16th notes at the given
tempo and turned into a melody the way ``MelodyRnnSequenceGenerator`` does: the melody
starts at the bar line before its first note, the highest note wins where notes overlap,
and it is extended with silence up to the step generation starts at. Before generating,
the melody is squashed into the model's range and transposed to the model's key (C); the
answer is transposed back. Generation is Magenta's beam search: ``beam_size`` sequences,
each iteration branches every one ``branch_factor`` times, samples
``steps_per_iteration`` steps from softmax(logits / temperature) and keeps the
``beam_size`` most likely; with the defaults (1, 1, 1) it is plain sampling.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlwa import checkpoints
from dlwa.melody_rnn.encoding import NO_EVENT, NOTE_OFF, Encoding
from dlwa.melody_rnn.inference import Stepper, StepState
from dlwa.melody_rnn.model import KIND, MelodyRnn, MelodyRnnConfig, load_model

DEFAULT_QPM = 120.0
STEPS_PER_BAR = 16
MAX_STEPS = 4096


@dataclass(frozen=True)
class GenerateOptions:
    """Sampling settings (Magenta's generator arguments).

    Attributes:
        temperature: Divides the logits; > 1 is wilder, < 1 tamer; > 0.
        beam_size: Sequences kept after each iteration, >= 1.
        branch_factor: Branches per sequence per iteration, >= 1.
        steps_per_iteration: Steps sampled between prunings, >= 1.
        seed: Seed of the sampling; None draws a fresh one.
        interrupt: Called before every step; it may raise to abandon the generation
            (the Pd object stops a long beam search this way within one step).
    """

    temperature: float = 1.0
    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1
    seed: int | None = None
    interrupt: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be > 0, e.g. 1.0: got {self.temperature}")
        for name in ("beam_size", "branch_factor", "steps_per_iteration"):
            value = getattr(self, name)
            if int(value) != value or not 1 <= value <= 64:
                raise ValueError(f"{name} must be a whole number from 1 to 64: got {value}")


@dataclass(frozen=True)
class Note:
    """A note in seconds: onset, release, MIDI pitch and velocity."""

    start_s: float
    end_s: float
    pitch: int
    velocity: int = 100


@dataclass
class Answer:
    """A generated continuation.

    Attributes:
        notes: New notes, times relative to the answer's start.
        qpm: Tempo in quarter notes per minute.
        n_steps: Length in 16th-note steps.
        events: The new melody events (one per step).
        log_likelihood: Of the chosen events under the model.
    """

    notes: list[Note]
    qpm: float
    n_steps: int
    events: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    log_likelihood: float = 0.0

    @property
    def step_s(self) -> float:
        return 60.0 / self.qpm / 4

    @property
    def duration_s(self) -> float:
        return self.n_steps * self.step_s


class Generator:
    """A loaded MelodyRNN, ready to continue melodies."""

    def __init__(self, model: MelodyRnn, name: str = "melody_rnn") -> None:
        self.model = model.eval()
        self.name = name
        self.stepper = Stepper(self.model)

    @property
    def config(self) -> MelodyRnnConfig:
        return self.model.config

    def continue_events(self, primer: Sequence[int], n_steps: int, options: GenerateOptions
                        ) -> tuple[np.ndarray, float]:
        """Events that follow ``primer`` (squashed and transposed back as Magenta does).

        Args:
            primer: Melody events; pitches may lie outside the model's range.
            n_steps: How many new steps, 1..4096.
            options: Sampling settings.

        Returns:
            ``(new_events [n_steps], log_likelihood)``.
        """
        from dlwa.melody_rnn._note_seq import load_note_seq

        note_seq = load_note_seq()

        if not 1 <= n_steps <= MAX_STEPS:
            raise ValueError(f"n_steps must be 1..{MAX_STEPS}: got {n_steps}")
        melody = note_seq.Melody([int(e) for e in primer] or [NO_EVENT])
        shift = melody.squash(self.config.min_note, self.config.max_note,
                              self.config.transpose_to_key)
        events, loglik = beam_search(self.model, np.asarray(list(melody), dtype=np.int64),
                                     n_steps, options, self.stepper)
        new = events[len(melody):]
        new = np.where(new >= 0, new - shift, new)
        return new, loglik

    def answer(self, primer_notes: Sequence[Note], *, n_steps: int, qpm: float,
               options: GenerateOptions, start_s: float | None = None) -> Answer:
        """Continue timed notes: the AI Duet call, also used for MIDI primers.

        Args:
            primer_notes: The phrase, times in seconds (any origin).
            n_steps: Length of the answer in 16th-note steps.
            qpm: Tempo the phrase is quantized at and the answer played at.
            options: Sampling settings.
            start_s: Where the answer starts, in the phrase's time; default the step
                after the last note's end.

        Returns:
            The answer, its note times relative to its own start.
        """
        if not (math.isfinite(qpm) and 20 <= qpm <= 400):
            raise ValueError(f"qpm must be 20..400: got {qpm}")
        primer, start_step = primer_events(primer_notes, qpm=qpm, start_s=start_s)
        events, loglik = self.continue_events(primer[:start_step], n_steps, options)
        return Answer(events_to_notes(events, qpm=qpm), qpm, n_steps, events, loglik)


def primer_events(notes: Sequence[Note], *, qpm: float, start_s: float | None = None
                  ) -> tuple[np.ndarray, int]:
    """A phrase as melody events, Magenta's way, and the step the answer starts at.

    The phrase's time origin is its first note's bar line (the first note's onset).
    Returns ``(events, start_step)`` with ``len(events) == start_step``.
    """
    from dlwa.melody_rnn._note_seq import load_note_seq

    note_seq = load_note_seq()

    if not notes:
        start_step = 1 if start_s is None else max(1, _step(start_s, qpm))
        return np.full(start_step, NO_EVENT, dtype=np.int64), start_step
    origin = min(n.start_s for n in notes)
    sequence = note_seq.NoteSequence()
    sequence.tempos.add(qpm=qpm)
    sequence.time_signatures.add(numerator=4, denominator=4)
    sequence.ticks_per_quarter = note_seq.STANDARD_PPQ
    for n in notes:
        sequence.notes.add(pitch=int(n.pitch), velocity=max(1, int(n.velocity)),
                           start_time=n.start_s - origin,
                           end_time=max(n.end_s, n.start_s + 1e-3) - origin)
    sequence.total_time = max(n.end_time for n in sequence.notes)
    quantized = note_seq.quantize_note_sequence(sequence, 4)
    melody = note_seq.Melody()
    melody.from_quantized_sequence(quantized, gap_bars=float("inf"),
                                   ignore_polyphonic_notes=True)
    if start_s is None:
        start_step = max(n.quantized_end_step for n in quantized.notes) + 1
    else:
        start_step = max(1, _step(start_s - origin, qpm))
    melody.set_length(start_step - melody.start_step)
    return np.asarray(list(melody), dtype=np.int64), start_step


def _step(time_s: float, qpm: float) -> int:
    """The first 16th-note step at or after ``time_s``."""
    return math.ceil(time_s * qpm / 60.0 * 4 - 1e-6)


def events_to_notes(events: Sequence[int], *, qpm: float, velocity: int = 100) -> list[Note]:
    """Melody events → notes (a note lasts until a note-off, the next note or the end)."""
    step_s = 60.0 / qpm / 4
    notes: list[Note] = []
    pitch, start = None, 0
    for t, event in enumerate(list(events) + [NOTE_OFF]):
        if event == NO_EVENT:
            continue
        if pitch is not None:
            notes.append(Note(start * step_s, t * step_s, int(pitch), velocity))
            pitch = None
        if event >= 0:
            pitch, start = int(event), t
    return notes


def beam_search(model: MelodyRnn, primer: np.ndarray, n_steps: int, options: GenerateOptions,
                stepper: Stepper | None = None) -> tuple[np.ndarray, float]:
    """Extend ``primer`` by ``n_steps`` events with Magenta's beam search (one BLAS thread).

    See ``_beam_search``; the matrices are tiny, and a multi-threaded BLAS only spins and
    waits on a busy CPU (up to 10x slower), so NumPy's BLAS runs single-threaded here.
    """
    with _single_blas_thread():
        return _beam_search(model, primer, n_steps, options, stepper)


def _single_blas_thread() -> Any:
    """A context limiting NumPy's BLAS to one thread (a no-op without threadpoolctl)."""
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


_CONTROLLER: Any = None


def _beam_search(model: MelodyRnn, primer: np.ndarray, n_steps: int, options: GenerateOptions,
                 stepper: Stepper | None = None) -> tuple[np.ndarray, float]:
    """Extend ``primer`` by ``n_steps`` events with Magenta's beam search.

    The primer runs through the network once; each step samples the next event of every
    sequence from softmax(logits / temperature), appends it, and feeds its encoding.

    Args:
        model: The network (its ``Stepper`` does the work).
        primer: Melody events in the model's range, at least one.
        n_steps: New events to add, >= 1.
        options: Sampling settings.
        stepper: A ``Stepper(model)`` to reuse (made if None).

    Returns:
        ``(events, log_likelihood)``: the best sequence (primer included) and the sum of
        the log-probabilities of its sampled events.
    """
    rng = np.random.default_rng(options.seed)
    stepper = stepper or Stepper(model)
    encoding = model.encoding
    primer = np.asarray(primer, dtype=np.int64)
    if len(primer) == 0:
        primer = np.array([NO_EVENT])
    state = stepper.zero_state(1)
    for x in encoding.inputs(primer):
        logits = stepper.step(x[None], state)
    index = np.zeros(options.beam_size, dtype=np.int64)
    beam = _Beam([list(primer)] * options.beam_size, np.zeros(options.beam_size),
                 state.take(index), logits[index])
    if options.beam_size == 1 and options.branch_factor == 1:  # plain sampling
        beam = beam.advance(stepper, encoding, n_steps, options.temperature, rng,
                            options.interrupt)
        return np.asarray(beam.sequences[0], dtype=np.int64), float(beam.scores[0])
    first = (n_steps - 1) % options.steps_per_iteration + 1
    beam = beam.advance(stepper, encoding, first, options.temperature, rng, options.interrupt)
    for _ in range((n_steps - first) // options.steps_per_iteration):
        beam = beam.take(np.repeat(np.arange(len(beam.sequences)), options.branch_factor))
        beam = beam.advance(stepper, encoding, options.steps_per_iteration,
                            options.temperature, rng, options.interrupt)
        beam = beam.take(np.argsort(-beam.scores, kind="stable")[:options.beam_size])
    best = int(np.argmax(beam.scores))
    return np.asarray(beam.sequences[best], dtype=np.int64), float(beam.scores[best])


def sample(logits: np.ndarray, temperature: float, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """One class per row from softmax(logits / temperature), with its log-probability."""
    scaled = logits / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    cumulative = np.cumsum(np.exp(scaled), axis=1)
    totals = cumulative[:, -1]
    draws = rng.random(len(logits)) * totals
    chosen = np.minimum((cumulative <= draws[:, None]).sum(axis=1), logits.shape[1] - 1)
    return chosen, scaled[np.arange(len(logits)), chosen] - np.log(totals)


@dataclass
class _Beam:
    """Sequences, their log-likelihoods, network state and next-step logits [n, classes]."""

    sequences: list[list[int]]
    scores: np.ndarray
    state: StepState
    logits: np.ndarray

    def advance(self, stepper: Stepper, encoding: Encoding, n_steps: int, temperature: float,
                rng: np.random.Generator, interrupt: Callable[[], None] | None = None) -> _Beam:
        sequences = [list(s) for s in self.sequences]
        scores, state, logits = self.scores.copy(), self.state.take(
            np.arange(len(sequences))), self.logits
        inputs = np.empty((len(sequences), encoding.input_size), dtype=np.float32)
        for _ in range(n_steps):
            if interrupt is not None:
                interrupt()
            chosen, log_p = sample(logits, temperature, rng)
            scores = scores + log_p
            for i, (sequence, index) in enumerate(zip(sequences, chosen, strict=True)):
                sequence.append(encoding.event_of(int(index), sequence))
                inputs[i] = encoding.input_at(np.asarray(sequence))
            logits = stepper.step(inputs, state)
        return _Beam(sequences, scores, state, logits)

    def take(self, index: np.ndarray) -> _Beam:
        return _Beam([list(self.sequences[i]) for i in index], self.scores[index],
                     self.state.take(index), self.logits[index])


ALIASES = {"basic_rnn": "melody_rnn_basic", "lookback_rnn": "melody_rnn_lookback",
           "attention_rnn": "melody_rnn_attention"}
"""The course's (Magenta's) model names and the shipped checkpoints that stand for them."""


def load_generator(name_or_path: str | Path, *, base_dir: Path | None = None) -> Generator:
    """Load a ``melody_rnn`` checkpoint by name (in ``checkpoints/``; the course names
    ``basic_rnn``, ``lookback_rnn``, ``attention_rnn`` too) or path."""
    name_or_path = ALIASES.get(str(name_or_path), name_or_path)
    path = checkpoints.find_checkpoint(name_or_path, base_dir=base_dir, kind=KIND)
    model, checkpoint = load_model(path)  # config and weights checked: one-line errors
    return Generator(model, checkpoint.name)


def read_midi_notes(path: Path) -> tuple[list[Note], float | None]:
    """The notes of a MIDI file (all tracks, drums excluded) and its first tempo."""
    from dlwa.melody_rnn._note_seq import load_note_seq

    note_seq = load_note_seq()

    if not Path(path).is_file():
        raise FileNotFoundError(f"no such MIDI file: {path}")
    try:
        sequence = note_seq.midi_file_to_note_sequence(str(path))
    except Exception as exc:
        raise ValueError(f"{path} is not a readable MIDI file: {exc}") from exc
    qpm = sequence.tempos[0].qpm if sequence.tempos else None
    notes = [Note(n.start_time, n.end_time, n.pitch, n.velocity)
             for n in sequence.notes if not n.is_drum]
    if sequence.notes and not notes:
        raise ValueError(f"{path} holds only drum notes (MIDI channel 10): give a melody")
    return notes, qpm


def write_midi(notes: Sequence[Note], path: Path, *, qpm: float) -> None:
    """Write notes (times in seconds) as a one-track MIDI file at ``qpm``."""
    from dlwa.melody_rnn._note_seq import load_note_seq

    note_seq = load_note_seq()

    sequence = note_seq.NoteSequence()
    sequence.tempos.add(qpm=qpm)
    sequence.ticks_per_quarter = note_seq.STANDARD_PPQ
    for n in notes:
        sequence.notes.add(pitch=n.pitch, velocity=n.velocity, start_time=n.start_s,
                           end_time=n.end_s)
    sequence.total_time = max((n.end_s for n in notes), default=0.0)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    note_seq.sequence_proto_to_midi_file(sequence, str(path))


def generate_midi(generator: Generator, *, primer: Path | None, bars: float, qpm: float | None,
                  options: GenerateOptions, out: Path) -> Answer:
    """``dlwa generate melody_rnn``: continue a MIDI primer by ``bars`` 4/4 bars.

    The output file holds the primer followed by the answer.
    """
    if qpm is not None and not (math.isfinite(qpm) and 20 <= qpm <= 400):
        raise ValueError(f"qpm must be 20..400 (or left out for the primer's tempo): got {qpm:g}")
    notes, primer_qpm = read_midi_notes(primer) if primer is not None else ([], None)
    tempo = qpm or primer_qpm or DEFAULT_QPM
    n_steps = round(bars * STEPS_PER_BAR)
    if n_steps < 1:
        raise ValueError(f"bars must be at least 1/16: got {bars}")
    answer = generator.answer(notes, n_steps=n_steps, qpm=tempo, options=options)
    origin = min((n.start_s for n in notes), default=0.0)
    _, start_step = primer_events(notes, qpm=tempo)
    offset = origin + start_step * answer.step_s
    merged = list(notes) + [Note(n.start_s + offset, n.end_s + offset, n.pitch, n.velocity)
                            for n in answer.notes]
    write_midi(merged, out, qpm=tempo)
    return answer
