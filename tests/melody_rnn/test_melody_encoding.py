"""dlwa.melody_rnn.encoding against note_seq's own encoder-decoders, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from dlwa.melody_rnn.encoding import NO_EVENT, NOTE_OFF, as_events, make_encoding

note_seq = pytest.importorskip("note_seq")
from note_seq import encoder_decoder, melody_encoder_decoder


def reference(name):
    one_hot = melody_encoder_decoder.MelodyOneHotEncoding(48, 84)
    return {
        "one_hot": encoder_decoder.OneHotEventSequenceEncoderDecoder(one_hot),
        "lookback": encoder_decoder.LookbackEventSequenceEncoderDecoder(one_hot),
        "key": melody_encoder_decoder.KeyMelodyEncoderDecoder(48, 84),
    }[name]


def random_melodies(n_melodies, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_melodies):
        n = int(rng.integers(1, 90))
        r = rng.random(n)
        events = np.where(r < 0.3, rng.integers(48, 84, n), np.where(r < 0.4, NOTE_OFF, NO_EVENT))
        if n > 48:
            events[32:40] = events[0:8]  # an exact two-bar repeat for the lookbacks
            events[40:44] = events[24:28]  # and a one-bar repeat
        yield list(note_seq.Melody([int(e) for e in events]))  # note_seq's cleaning


@pytest.mark.parametrize("name", ["one_hot", "lookback", "key"])
def test_inputs_labels_and_decoding_match_note_seq(name):
    ours, ref = make_encoding(name), reference(name)
    assert (ours.input_size, ours.num_classes) == (ref.input_size, ref.num_classes)
    for events in random_melodies(25):
        melody = note_seq.Melody(events)
        expected_inputs = np.array([ref.events_to_input(melody, i) for i in range(len(events))])
        expected_labels = [ref.events_to_label(melody, i) for i in range(len(events))]
        array = np.array(events)
        np.testing.assert_array_equal(ours.inputs(array), expected_inputs)
        np.testing.assert_array_equal(ours.labels(array), expected_labels)
        np.testing.assert_array_equal(ours.input_at(array), expected_inputs[-1])
        for index in range(ours.num_classes):
            assert ours.event_of(index, events) == ref.class_index_to_event(index, melody)


def test_sizes_are_magentas():
    assert [(make_encoding(n).input_size, make_encoding(n).num_classes)
            for n in ("one_hot", "lookback", "key")] == [(38, 38), (121, 40), (74, 40)]


def test_bad_events_and_ranges_are_clear_errors():
    with pytest.raises(ValueError, match="MIDI pitches 0..127"):
        as_events([60, -3])
    with pytest.raises(ValueError, match="outside the model's range 48..83"):
        make_encoding("one_hot").inputs(np.array([60, 90]))
    with pytest.raises(ValueError, match="unknown encoding"):
        make_encoding("piano_roll")


@pytest.mark.parametrize("name", ["one_hot", "lookback", "key"])
def test_event_codes_agree_with_event_of(name):
    encoding = make_encoding(name)
    one_hot = make_encoding("one_hot")
    for events in random_melodies(5, seed=1):
        codes = encoding.event_codes(np.array(events))
        assert codes.shape == (len(events), encoding.num_classes)
        for t in range(len(events)):
            for c in range(encoding.num_classes):
                assert one_hot.decode(codes[t, c]) == encoding.event_of(c, events[:t + 1])
