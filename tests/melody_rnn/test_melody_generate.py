"""Generation: primers, beam search, tempo and lengths, MIDI in and out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwa.melody_rnn.encoding import NO_EVENT, NOTE_OFF
from dlwa.melody_rnn.generate import (
    GenerateOptions,
    Generator,
    Note,
    beam_search,
    events_to_notes,
    primer_events,
    sample,
)
from dlwa.melody_rnn.model import MelodyRnn, get_config

PHRASE = [Note(i * 0.25, i * 0.25 + 0.2, p, 90) for i, p in enumerate([60, 62, 64, 65, 67])]


@pytest.fixture(scope="module", params=["basic_rnn", "lookback_rnn", "attention_rnn"])
def generator(request):
    torch.manual_seed(0)
    return Generator(MelodyRnn(get_config(request.param, layer_sizes=(16,))))


def test_answer_length_grid_and_range(generator):
    answer = generator.answer(PHRASE, n_steps=32, qpm=120, options=GenerateOptions(seed=3))
    assert answer.n_steps == 32 and len(answer.events) == 32
    step = 60 / 120 / 4
    for note in answer.notes:
        assert 0 <= note.start_s < note.end_s <= 32 * step + 1e-9
        assert note.start_s / step == pytest.approx(round(note.start_s / step))
        assert 0 <= note.pitch <= 127


def test_seed_makes_answers_repeatable(generator):
    options = GenerateOptions(seed=11, beam_size=2, branch_factor=2, steps_per_iteration=3)
    a = generator.answer(PHRASE, n_steps=20, qpm=100, options=options)
    b = generator.answer(PHRASE, n_steps=20, qpm=100, options=options)
    np.testing.assert_array_equal(a.events, b.events)


def test_beam_search_keeps_the_most_likely():
    torch.manual_seed(1)
    model = MelodyRnn(get_config("basic_rnn", layer_sizes=(8,)))
    primer = np.array([60, NO_EVENT, 62, NO_EVENT])
    lls = [beam_search(model, primer, 16, GenerateOptions(seed=s))[1] for s in range(8)]
    _, beam_ll = beam_search(model, primer, 16, GenerateOptions(
        seed=0, beam_size=8, branch_factor=4, steps_per_iteration=4))
    assert beam_ll >= np.median(lls)
    events, _ = beam_search(model, primer, 5, GenerateOptions(seed=0, steps_per_iteration=2))
    assert len(events) == 4 + 5 and list(events[:4]) == list(primer)


def test_temperature_sharpens_sampling():
    rng = np.random.default_rng(0)
    logits = np.tile(np.array([[2.0, 1.0, 0.0]]), (4000, 1))
    cold, _ = sample(logits, 0.1, rng)
    warm, _ = sample(logits, 1.0, rng)
    assert (cold == 0).mean() > 0.99 and 0.55 < (warm == 0).mean() < 0.75


def test_primer_follows_magentas_melody_rules():
    events, start = primer_events(PHRASE, qpm=120)
    # 16th notes at 120 qpm are 125 ms: a note every 2 steps, the last ending at step 10;
    # the answer starts one step later (the course's rule), after a note-off.
    assert start == 11 and len(events) == 11
    assert list(events[:4]) == [60, NO_EVENT, 62, NO_EVENT]
    assert list(events[8:]) == [67, NO_EVENT, NOTE_OFF]
    empty, start = primer_events([], qpm=120)
    assert list(empty) == [NO_EVENT] and start == 1


def test_events_to_notes():
    notes = events_to_notes([60, NO_EVENT, NOTE_OFF, 62, 64, NO_EVENT], qpm=60)
    assert [(n.start_s, n.end_s, n.pitch) for n in notes] == [
        (0.0, 0.5, 60), (0.75, 1.0, 62), (1.0, 1.5, 64)]


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        GenerateOptions(temperature=0)
    with pytest.raises(ValueError, match="beam_size must be a whole number"):
        GenerateOptions(beam_size=0)
