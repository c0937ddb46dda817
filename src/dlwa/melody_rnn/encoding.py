"""Magenta-compatible melody encodings, as numpy arrays.

A melody is a 1-D integer array of events, one per 16th-note step: a MIDI pitch (note-on),
``NOTE_OFF`` (-1) or ``NO_EVENT`` (-2, the previous state continues). This is
``note_seq.Melody``'s event list. The three encodings reproduce note_seq's encoder-decoders
bit for bit (tests compare them), but work on whole sequences at once:

- ``OneHotEncoding`` (``basic_rnn``): ``MelodyOneHotEncoding(48, 84)`` inside
  ``OneHotEventSequenceEncoderDecoder``; 38 inputs, 38 classes.
- ``LookbackEncoding`` (``lookback_rnn``): ``LookbackEventSequenceEncoderDecoder`` over the
  same one-hot encoding, lookbacks of 16 and 32 steps, 5 counter bits; 121 inputs, 40
  classes (the two extra classes mean "repeat the event 16/32 steps ago").
- ``KeyEncoding`` (``attention_rnn``): ``KeyMelodyEncoderDecoder(48, 84)``; 74 inputs, 40
  classes.

Every encoding offers ``inputs(events)`` [n_steps, input_size] (input at each position),
``labels(events)`` [n_steps] (the class of each position's event), ``input_at(events)``
(the input for the last position only, for generation) and ``event_of(class, events)``
(the event a sampled class stands for, given the melody so far). Training pairs the input
at step t with the label at step t + 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NOTE_OFF = -1
NO_EVENT = -2
N_SPECIAL = 2
NOTES_PER_OCTAVE = 12
STEPS_PER_BAR = 16
LOOKBACK_DISTANCES = (STEPS_PER_BAR, 2 * STEPS_PER_BAR)
MIN_NOTE = 48
MAX_NOTE = 84
"""Default pitch range [MIN_NOTE, MAX_NOTE) of Magenta's melody configurations."""

_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
KEY_MEMBERSHIP = np.zeros((NOTES_PER_OCTAVE, NOTES_PER_OCTAVE), dtype=np.int64)
"""``KEY_MEMBERSHIP[pitch_class, key]`` is 1 when the pitch class is in that major key."""
for _key in range(NOTES_PER_OCTAVE):
    for _step in _MAJOR_STEPS:
        KEY_MEMBERSHIP[(_key + _step) % NOTES_PER_OCTAVE, _key] = 1


def as_events(events: Sequence[int] | np.ndarray) -> np.ndarray:
    """Events as a 1-D int64 array, checked to be pitches 0..127, -1 or -2."""
    array = np.asarray(events, dtype=np.int64).reshape(-1)
    bad = (array < NO_EVENT) | (array > 127)
    if bad.any():
        raise ValueError(f"melody events must be MIDI pitches 0..127, -1 (note-off) or -2 "
                         f"(no event): got {int(array[bad][0])}")
    return array


def _counter_bits(positions: np.ndarray, n_bits: int) -> np.ndarray:
    """±1 binary counter of ``positions`` + 1, [n, n_bits] (note_seq's time toggles)."""
    n = positions[:, None] + 1
    bits = (n // (2 ** np.arange(n_bits))[None, :]) % 2
    return np.where(bits == 1, 1.0, -1.0).astype(np.float32)


def _repeats(events: np.ndarray, distances: Sequence[int]) -> np.ndarray:
    """[n, len(distances)]: 1 where events[t] == events[t - d] (t >= d)."""
    out = np.zeros((len(events), len(distances)), dtype=np.float32)
    for i, d in enumerate(distances):
        if len(events) > d:
            out[d:, i] = events[d:] == events[:-d]
    return out


@dataclass(frozen=True)
class OneHotEncoding:
    """One class per event: no-event, note-off, then pitches ``min_note..max_note-1``.

    Matches ``note_seq.MelodyOneHotEncoding`` in a ``OneHotEventSequenceEncoderDecoder``.
    """

    min_note: int = MIN_NOTE
    max_note: int = MAX_NOTE

    @property
    def num_classes(self) -> int:
        return self.max_note - self.min_note + N_SPECIAL

    @property
    def input_size(self) -> int:
        return self.num_classes

    def check_range(self, events: np.ndarray) -> None:
        """Raise ValueError if a pitch lies outside ``[min_note, max_note)``."""
        notes = events[events >= 0]
        bad = notes[(notes < self.min_note) | (notes >= self.max_note)]
        if bad.size:
            raise ValueError(f"pitch {int(bad[0])} is outside the model's range "
                             f"{self.min_note}..{self.max_note - 1}")

    def encode(self, events: np.ndarray) -> np.ndarray:
        """Class index of each event, [n]."""
        events = as_events(events)
        self.check_range(events)
        return np.where(events < 0, events + N_SPECIAL, events - self.min_note + N_SPECIAL)

    def decode(self, index: int) -> int:
        """The event of a class index."""
        return int(index) - N_SPECIAL if index < N_SPECIAL else int(index) - N_SPECIAL + self.min_note

    def inputs(self, events: np.ndarray) -> np.ndarray:
        codes = self.encode(events)
        out = np.zeros((len(codes), self.input_size), dtype=np.float32)
        out[np.arange(len(codes)), codes] = 1.0
        return out

    def input_at(self, events: np.ndarray) -> np.ndarray:
        return self.inputs(np.asarray(events)[-1:])[0]

    def labels(self, events: np.ndarray) -> np.ndarray:
        return self.encode(events)

    def event_of(self, index: int, events: Sequence[int]) -> int:
        return self.decode(index)

    def event_codes(self, events: np.ndarray) -> np.ndarray:
        """[n, num_classes]: the one-hot event code each class stands for at each step."""
        return np.tile(np.arange(self.num_classes), (len(events), 1))


@dataclass(frozen=True)
class LookbackEncoding:
    """Magenta's lookback encoding: current event, the events that would come next if the
    melody repeated 1 or 2 bars ago, a 5-bit step counter and repeat flags.

    Matches ``note_seq.LookbackEventSequenceEncoderDecoder(MelodyOneHotEncoding(...))``.
    """

    min_note: int = MIN_NOTE
    max_note: int = MAX_NOTE
    lookback_distances: tuple[int, ...] = LOOKBACK_DISTANCES
    binary_counter_bits: int = 5

    @property
    def one_hot(self) -> OneHotEncoding:
        return OneHotEncoding(self.min_note, self.max_note)

    @property
    def num_classes(self) -> int:
        return self.one_hot.num_classes + len(self.lookback_distances)

    @property
    def input_size(self) -> int:
        n_one_hot, n_look = self.one_hot.num_classes, len(self.lookback_distances)
        return n_one_hot * (1 + n_look) + self.binary_counter_bits + n_look

    def inputs(self, events: np.ndarray, start: int = 0) -> np.ndarray:
        """Inputs for positions ``start..n-1``, [n - start, input_size]."""
        events = as_events(events)
        one_hot = self.one_hot
        codes = one_hot.encode(events)
        n_one_hot = one_hot.num_classes
        positions = np.arange(start, len(events))
        rows = np.arange(len(positions))
        out = np.zeros((len(positions), self.input_size), dtype=np.float32)
        out[rows, codes[positions]] = 1.0
        offset = n_one_hot
        default = one_hot.encode(np.array([NO_EVENT]))[0]
        for d in self.lookback_distances:
            back = positions - d + 1
            look = np.where(back >= 0, codes[np.clip(back, 0, None)], default)
            out[rows, offset + look] = 1.0
            offset += n_one_hot
        out[:, offset:offset + self.binary_counter_bits] = _counter_bits(
            positions, self.binary_counter_bits)
        offset += self.binary_counter_bits
        out[:, offset:] = _repeats(events, self.lookback_distances)[positions]
        return out

    def input_at(self, events: np.ndarray) -> np.ndarray:
        """The input for the last position only (constant time)."""
        history = np.asarray(events)
        position = len(history) - 1
        n_one_hot = self.one_hot.num_classes
        out = np.zeros(self.input_size, dtype=np.float32)
        code = self.one_hot.encode(history[position:])[0]
        out[code] = 1.0
        offset = n_one_hot
        for d in self.lookback_distances:
            back = position - d + 1
            look = self.one_hot.encode(history[back:back + 1])[0] if back >= 0 else 0
            out[offset + look] = 1.0
            offset += n_one_hot
        n = position + 1
        for i in range(self.binary_counter_bits):
            out[offset + i] = 1.0 if (n >> i) & 1 else -1.0
        offset += self.binary_counter_bits
        for i, d in enumerate(self.lookback_distances):
            if position >= d and history[position] == history[position - d]:
                out[offset + i] = 1.0
        return out

    def labels(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        labels = self.one_hot.encode(events)
        n_one_hot, last = self.one_hot.num_classes, self.lookback_distances[-1]
        repeats = _repeats(events, self.lookback_distances)
        for i in reversed(range(len(self.lookback_distances))):  # the first match wins
            matched = (repeats[:, i] == 1) & (labels < n_one_hot)
            labels = np.where(matched, n_one_hot + i, labels)
        early = (np.arange(len(events)) < last) & (events == NO_EVENT)
        return np.where(early, n_one_hot + len(self.lookback_distances) - 1, labels)

    def event_codes(self, events: np.ndarray) -> np.ndarray:
        """[n, num_classes]: the one-hot event code each class stands for after step t."""
        n_one_hot = self.one_hot.num_classes
        fixed = np.tile(np.arange(n_one_hot), (len(events), 1))
        return np.concatenate([fixed, _lookback_codes(events, self.one_hot,
                                                      self.lookback_distances)], axis=1)

    def event_of(self, index: int, events: Sequence[int]) -> int:
        n_one_hot = self.one_hot.num_classes
        if index >= n_one_hot:
            d = self.lookback_distances[index - n_one_hot]
            return NO_EVENT if len(events) < d else int(events[-d])
        return self.one_hot.decode(index)


def _lookback_codes(events: np.ndarray, one_hot: OneHotEncoding,
                    distances: Sequence[int]) -> np.ndarray:
    """[n, len(distances)]: code of the event d steps before step t + 1 (no-event if none)."""
    codes = one_hot.encode(as_events(events))
    positions = np.arange(len(codes)) + 1
    out = np.zeros((len(codes), len(distances)), dtype=np.int64)
    for i, d in enumerate(distances):
        back = positions - d
        out[:, i] = np.where(back >= 0, codes[np.clip(back, 0, None)], 0)
    return out


def _key_mask(pitch_class_counts: np.ndarray) -> np.ndarray:
    """[..., 12] major-key histogram → 1.0 where a key reaches the maximum."""
    histogram = pitch_class_counts @ KEY_MEMBERSHIP
    return (histogram == histogram.max(axis=-1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class KeyEncoding:
    """The ``attention_rnn`` encoding: sounding pitch, attack, direction, repeats, a 7-bit
    counter, bar starts, and the major keys of the whole melody and of its last 3 notes.

    Matches ``note_seq.KeyMelodyEncoderDecoder(min_note, max_note)``.
    """

    min_note: int = MIN_NOTE
    max_note: int = MAX_NOTE
    lookback_distances: tuple[int, ...] = LOOKBACK_DISTANCES
    binary_counter_bits: int = 7

    @property
    def note_range(self) -> int:
        return self.max_note - self.min_note

    @property
    def num_classes(self) -> int:
        return self.note_range + N_SPECIAL + len(self.lookback_distances)

    @property
    def input_size(self) -> int:
        return (self.note_range + 4 + len(self.lookback_distances) + self.binary_counter_bits
                + 1 + 2 * NOTES_PER_OCTAVE)

    def inputs(self, events: np.ndarray, start: int = 0) -> np.ndarray:
        """Inputs for positions ``start..n-1``, [n - start, input_size]."""
        events = as_events(events)
        OneHotEncoding(self.min_note, self.max_note).check_range(events)
        n = len(events)
        state = self._running_state(events)
        out = np.zeros((n, self.input_size), dtype=np.float32)
        rows = np.arange(n)
        current, attack, direction, recent = state
        sounding = current >= 0
        out[rows[sounding], current[sounding] - self.min_note] = 1.0
        out[rows, np.where(sounding, self.note_range, self.note_range + 1)] = 1.0
        offset = self.note_range + 2
        out[:, offset] = attack
        out[:, offset + 1] = direction
        offset += 2
        n_look = len(self.lookback_distances)
        out[:, offset:offset + n_look] = _repeats(events, self.lookback_distances)
        offset += n_look
        out[:, offset:offset + self.binary_counter_bits] = _counter_bits(
            rows, self.binary_counter_bits)
        offset += self.binary_counter_bits
        out[:, offset] = (rows + 1) % STEPS_PER_BAR == 0
        offset += 1
        counts = np.zeros((n, NOTES_PER_OCTAVE), dtype=np.int64)
        notes = events >= 0
        counts[rows[notes], events[notes] % NOTES_PER_OCTAVE] = 1
        out[:, offset:offset + NOTES_PER_OCTAVE] = _key_mask(np.cumsum(counts, axis=0))
        offset += NOTES_PER_OCTAVE
        out[:, offset:] = _key_mask(recent)
        return out[start:]

    def _running_state(self, events: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per position: sounding pitch (-1 if none), attack flag, ±1/0 direction, and the
        pitch-class counts of the last 3 distinct notes, [n, 12]."""
        n = len(events)
        current = np.full(n, -1, dtype=np.int64)
        attack = np.zeros(n, dtype=np.float32)
        direction = np.zeros(n, dtype=np.float32)
        recent = np.zeros((n, NOTES_PER_OCTAVE), dtype=np.int64)
        note, is_attack, ascending, last3 = -1, 0.0, 0.0, []
        counts = np.zeros(NOTES_PER_OCTAVE, dtype=np.int64)
        for t, event in enumerate(events.tolist()):
            if event == NO_EVENT:
                is_attack = 0.0
            elif event == NOTE_OFF:
                note = -1
            else:
                is_attack, note = 1.0, event
                if last3 and event != last3[-1]:
                    ascending = 1.0 if event > last3[-1] else -1.0
                if event in last3:
                    last3.remove(event)
                last3.append(event)
                del last3[:-3]
                counts[:] = 0
                for p in last3:
                    counts[p % NOTES_PER_OCTAVE] += 1
            current[t], attack[t], direction[t], recent[t] = note, is_attack, ascending, counts
        return current, attack, direction, recent

    def input_at(self, events: np.ndarray) -> np.ndarray:
        """The input for the last position, by scanning back (no per-step history loop)."""
        events = as_events(events)
        OneHotEncoding(self.min_note, self.max_note).check_range(events)
        position = len(events) - 1
        out = np.zeros(self.input_size, dtype=np.float32)
        history = events.tolist()
        note = -1
        for event in reversed(history):
            if event != NO_EVENT:
                note = event  # a note-off (-1) means silence
                break
        if note >= 0:
            out[note - self.min_note] = 1.0
            out[self.note_range] = 1.0
        else:
            out[self.note_range + 1] = 1.0
        offset = self.note_range + 2
        for event in reversed(history):  # attack: the last event other than a note-off
            if event != NOTE_OFF:
                out[offset] = 1.0 if event >= 0 else 0.0
                break
        ons = events[events >= 0]
        changes = np.flatnonzero(np.diff(ons))
        if changes.size:
            out[offset + 1] = 1.0 if ons[changes[-1] + 1] > ons[changes[-1]] else -1.0
        offset += 2
        for d in self.lookback_distances:
            out[offset] = 1.0 if position >= d and history[position] == history[position - d] else 0.0
            offset += 1
        for i in range(self.binary_counter_bits):
            out[offset + i] = 1.0 if ((position + 1) >> i) & 1 else -1.0
        offset += self.binary_counter_bits
        out[offset] = 1.0 if (position + 1) % STEPS_PER_BAR == 0 else 0.0
        offset += 1
        counts = np.bincount(ons % NOTES_PER_OCTAVE, minlength=NOTES_PER_OCTAVE)
        out[offset:offset + NOTES_PER_OCTAVE] = _key_mask(counts)
        offset += NOTES_PER_OCTAVE
        recent: list[int] = []
        for pitch in reversed(ons.tolist()):
            if pitch not in recent:
                recent.append(pitch)
                if len(recent) == 3:
                    break
        out[offset:] = _key_mask(np.bincount(np.array(recent, dtype=np.int64) % NOTES_PER_OCTAVE,
                                             minlength=NOTES_PER_OCTAVE))
        return out

    def labels(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        OneHotEncoding(self.min_note, self.max_note).check_range(events)
        labels = np.where(events == NOTE_OFF, self.note_range + 1,
                          np.where(events == NO_EVENT, self.note_range, events - self.min_note))
        repeats = _repeats(events, self.lookback_distances)
        for i in range(len(self.lookback_distances)):  # the last distance wins (reversed)
            labels = np.where(repeats[:, i] == 1, self.note_range + N_SPECIAL + i, labels)
        early = (np.arange(len(events)) < self.lookback_distances[-1]) & (events == NO_EVENT)
        return np.where(early, self.note_range + len(self.lookback_distances) + 1, labels)

    def event_codes(self, events: np.ndarray) -> np.ndarray:
        """[n, num_classes]: the one-hot event code each class stands for after step t."""
        one_hot = OneHotEncoding(self.min_note, self.max_note)
        fixed = np.r_[np.arange(self.note_range) + N_SPECIAL, 0, 1]
        return np.concatenate([np.tile(fixed, (len(events), 1)), _lookback_codes(
            events, one_hot, self.lookback_distances)], axis=1)

    def event_of(self, index: int, events: Sequence[int]) -> int:
        first_lookback = self.note_range + N_SPECIAL
        if index >= first_lookback:
            d = self.lookback_distances[index - first_lookback]
            return NO_EVENT if len(events) < d else int(events[-d])
        if index == self.note_range + 1:
            return NOTE_OFF
        if index == self.note_range:
            return NO_EVENT
        return self.min_note + int(index)


Encoding = OneHotEncoding | LookbackEncoding | KeyEncoding

ENCODINGS: dict[str, type] = {
    "one_hot": OneHotEncoding,
    "lookback": LookbackEncoding,
    "key": KeyEncoding,
}


def make_encoding(name: str, *, min_note: int = MIN_NOTE, max_note: int = MAX_NOTE) -> Encoding:
    """The encoding called ``name`` (``one_hot``, ``lookback`` or ``key``)."""
    if name not in ENCODINGS:
        raise ValueError(f"unknown encoding {name!r}: use one of {sorted(ENCODINGS)}")
    if not 0 <= min_note < max_note <= 128:
        raise ValueError(f"need 0 <= min_note < max_note <= 128: got {min_note}, {max_note}")
    return ENCODINGS[name](min_note=min_note, max_note=max_note)
