"""The melody_rnn Pd object headless, through the pyext stand-in: every message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from dlwa import checkpoints
from dlwa.melody_rnn.model import MelodyRnn, get_config, save_model
from dlwa.pd import melody_rnn, standin

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "melody_rnn"
PHRASE = [(0, 60), (250, 62), (500, 64), (750, 65), (1000, 67)]


@pytest.fixture(autouse=True)
def host(monkeypatch, tmp_path):
    standin.reset()
    folder = tmp_path / "checkpoints"
    torch.manual_seed(0)
    for name in ("basic_rnn", "attention_rnn"):
        save_model(MelodyRnn(get_config(name, layer_sizes=(16,))), folder / f"tiny_{name}")
    save_model(MelodyRnn(get_config("lookback_rnn", layer_sizes=(16,))),
               folder / "melody_rnn_lookback")
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(folder))
    yield
    standin.reset()


@pytest.fixture
def obj(tmp_path):
    return standin.create(melody_rnn, canvas_dir=tmp_path)


def say(o, text):
    standin.send_message(o, 1, text)
    return standin.outputs(o)


def play(o, phrase=PHRASE, length_ms=200):
    for at, pitch in phrase:
        assert say(o, f"time {at}") == []
        say(o, f"note {pitch} 90")
        say(o, f"time {at + length_ms}")
        say(o, f"note {pitch} 0")


def schedule_of(out):
    """(delay_ms, pitch, velocity) of the schedule messages."""
    return [tuple(float(x) for x in line.split()[1:]) for line in out
            if line.startswith("schedule ")]


def check_answer(out, *, qpm, duration_ms):
    head = [line for line in out if line.startswith("answer ")]
    assert len(head) == 1
    n_notes, total_ms, tempo = (float(x) for x in head[0].split()[1:])
    assert tempo == pytest.approx(qpm, rel=1e-4) and total_ms == pytest.approx(duration_ms, 1e-3)
    events = schedule_of(out)
    ons = [e for e in events if e[2] > 0]
    assert len(ons) == n_notes == len(events) / 2
    step_ms = 15000 / qpm
    sounding = {}
    for at, pitch, velocity in events:  # every note-on closed, in time order
        assert 0 <= pitch <= 127 and 0 <= at <= total_ms + 1e-3
        if velocity > 0:
            assert at / step_ms == pytest.approx(round(at / step_ms), abs=1e-3)
            assert pitch not in sounding
            sounding[pitch] = at
        else:
            assert sounding.pop(pitch) < at
    assert not sounding
    assert out[-1] == f"end {total_ms:g}"


def test_load_by_name_course_name_path_and_bundle(obj, tmp_path):
    assert say(obj, "load tiny_basic_rnn") == ["loaded tiny_basic_rnn"]
    assert say(obj, "load lookback_rnn") == ["loaded lookback_rnn"]  # the course's name
    shutil.copytree(Path(checkpoints.checkpoints_dir()) / "tiny_attention_rnn", tmp_path / "mine")
    assert say(obj, "load ./mine") == ["loaded ./mine"]
    shutil.copy(FIXTURES / "attention_rnn.mag", tmp_path / "attention_rnn.mag")
    assert say(obj, "load attention_rnn.mag") == ["loaded attention_rnn.mag"]


def test_unknown_model_is_a_clear_error(obj):
    out = say(obj, "load no_such_model")
    assert len(out) == 1 and out[0].startswith("error no checkpoint named 'no_such_model'")
    assert "available:" in out[0] and "tiny_basic_rnn" in out[0]
    assert say(obj, "load 3")[0] == "error model must be a name (a symbol): got 3"


def test_generate_before_load_is_a_clear_error(obj):
    play(obj)
    out = say(obj, "generate 2")
    assert len(out) == 1 and out[0].startswith("error no model loaded: send 'load <name>' first")


@pytest.mark.parametrize("model", ["tiny_basic_rnn", "tiny_attention_rnn"])
def test_generate_answers_on_the_grid(obj, model):
    say(obj, f"load {model}")
    say(obj, "seed 5")
    say(obj, "tempo 120")
    play(obj)
    say(obj, "time 1500")
    out = say(obj, "generate 2")
    check_answer(out, qpm=120, duration_ms=2000)
    again = say(obj, "generate 2")  # releases the first answer's sounding notes first
    assert schedule_of(again) == schedule_of(out)  # fixed seed: the same answer


def test_settings_length_tempo_beam_temperature(obj):
    say(obj, "load tiny_basic_rnn")
    for text in ("tempo 90", "length 2 bars", "beam 3 2 4", "temperature 0.5", "seed 1"):
        assert say(obj, text) == []
    play(obj)
    out = say(obj, "generate")
    check_answer(out, qpm=90, duration_ms=2 * 16 * 15000 / 90)
    say(obj, "length 1.5 seconds")
    check_answer(say(obj, "generate"), qpm=90, duration_ms=round(1500 / (15000 / 90))
                 * 15000 / 90)
    status = say(obj, "status")
    assert "temperature 0.5" in status and "beam 3 2 4" in status
    assert "length 1.5 seconds" in status and "tempo 90" in status


def test_tempo_is_estimated_from_the_phrase(obj):
    say(obj, "load tiny_basic_rnn")
    phrase = [(i * 400, 60 + (i % 5)) for i in range(12)]  # quarter notes at 150 qpm
    play(obj, phrase, length_ms=300)
    say(obj, "time 5000")
    out = say(obj, "generate 1")
    qpm = float(next(x for x in out if x.startswith("answer ")).split()[3])
    assert qpm == pytest.approx(150, rel=0.05)


def test_bad_input_is_a_clear_error(obj):
    say(obj, "load tiny_basic_rnn")
    assert say(obj, "note 130 100") == ["error pitch must be a number between 0 and 127: got 130"]
    assert say(obj, "note 60 -1") == ["error velocity must be a number between 0 and 127: got -1"]
    assert say(obj, "note 60") == ["error usage: note <pitch> <velocity>"]
    assert say(obj, "temperature 0")[0].startswith("error temperature must be a number between")
    assert say(obj, "length 2 beats") == [
        "error length unit must be 'bars' or 'seconds': got 'beats'"]
    assert say(obj, "beam 0")[0].startswith("error beam size must be a number between 1 and 64")
    assert say(obj, "tempo fast")[0].startswith("error tempo must be a number")
    assert say(obj, "generate -1")[0].startswith("error seconds must be a number between")
    assert say(obj, "sing")[0].startswith("error unknown message 'sing'")
    assert say(obj, "state") == ["phrase 0 0"]  # nothing bad was recorded


def test_out_of_model_range_notes_are_squashed(obj):
    say(obj, "load tiny_basic_rnn")
    play(obj, [(i * 250, p) for i, p in enumerate([20, 100, 110, 30])])
    check_answer(say(obj, "generate 1"), qpm=120, duration_ms=1000)


def test_state_clear_and_empty_phrase(obj):
    say(obj, "load tiny_basic_rnn")
    play(obj)
    assert say(obj, "state") == ["phrase 5 1200"]
    assert say(obj, "clear") == []
    assert say(obj, "state") == ["phrase 0 0"]
    check_answer(say(obj, "generate 1"), qpm=120, duration_ms=1000)  # from scratch


def test_duet_waits_for_silence_then_responds(obj):
    say(obj, "load tiny_attention_rnn")
    assert say(obj, "duet 1 600 10") == []
    say(obj, "time 0")
    assert say(obj, "note 60 100") == ["duet_cancel"]
    say(obj, "time 100")
    assert say(obj, "note 64 100") == ["duet_cancel"]
    say(obj, "time 200")
    assert say(obj, "note 60 0") == []  # 64 still held
    say(obj, "time 300")
    assert say(obj, "note 64 0") == ["duet_wait 600"]
    say(obj, "time 900")
    out = say(obj, "respond")
    check_answer(out, qpm=120, duration_ms=1000)  # phrase 0.3 s → clamped to 1 s
    assert say(obj, "state") == ["phrase 0 0"]  # a response starts a new phrase
    assert say(obj, "duet 0") == ["duet_cancel"]


def test_stop_releases_sounding_answer_notes(obj):
    say(obj, "load tiny_basic_rnn")
    say(obj, "seed 2")
    say(obj, "tempo 120")
    play(obj)
    say(obj, "time 2000")
    out = say(obj, "generate 4")
    events = schedule_of(out)
    first_on, pitch, _ = next(e for e in events if e[2] > 0)
    say(obj, f"time {2000 + first_on + 1}")
    stopped = say(obj, "stop")
    assert stopped[0] == "unschedule" and f"note {pitch:g} 0" in stopped
    assert stopped[-1] == "duet_cancel"
    panic = say(obj, "allnotesoff")
    assert panic[0] == "unschedule" and len(panic) == 129 and panic[-1] == "note 127 0"


def test_help_lists_every_message(obj):
    usages = {line.split()[1] for line in say(obj, "help")}
    assert {"load", "note", "generate", "clear", "state", "temperature", "beam", "length",
            "tempo", "duet", "stop", "allnotesoff", "seed", "time", "respond"} <= usages


# ----- every setting has an effect on the answer (issue #16, item 3)


def spy(o):
    """Record every call to the loaded generator's ``answer`` (and still answer)."""
    calls = []
    real = o.model.answer

    def answer(notes, **kwargs):
        calls.append((notes, kwargs))
        return real(notes, **kwargs)

    o.model.answer = answer
    return calls


def answer_with(o, *settings):
    for text in settings:
        assert say(o, text) == []
    play(o)
    say(o, "time 1500")
    return schedule_of(say(o, "generate 4"))


def test_temperature_reaches_the_sampling_and_changes_it(obj):
    say(obj, "load tiny_basic_rnn")
    calls = spy(obj)
    say(obj, "temperature 0.5")
    play(obj)
    say(obj, "generate 1")
    assert calls[-1][1]["options"].temperature == 0.5
    # The same seed and phrase at another temperature: another answer.
    warm = answer_with(obj, "seed 1", "temperature 1")
    assert answer_with(obj, "temperature 1") == warm
    assert answer_with(obj, "temperature 0.05") != warm
    assert answer_with(obj, "temperature 10") != warm


def test_beam_numbers_each_reach_the_search(obj):
    say(obj, "load tiny_basic_rnn")
    calls = spy(obj)
    for text, expected in (("beam 3", (3, 1, 1)), ("beam 3 2", (3, 2, 1)),
                           ("beam 2 3 4", (2, 3, 4)), ("beam 1", (1, 1, 1))):
        assert say(obj, text) == []
        play(obj)
        say(obj, "generate 1")
        options = calls[-1][1]["options"]
        assert (options.beam_size, options.branch_factor, options.steps_per_iteration) == expected
    # A wide beam keeps the likeliest of many branches: a different answer than sampling.
    plain = answer_with(obj, "seed 4", "temperature 1", "beam 1 1 1")
    wide = answer_with(obj, "seed 4", "temperature 1", "beam 8 8 2")
    assert wide != plain


def test_length_in_bars_and_seconds_sets_the_steps(obj):
    say(obj, "load tiny_basic_rnn")
    calls = spy(obj)
    say(obj, "tempo 120")  # 125 ms steps
    play(obj)
    say(obj, "length 3 bars")
    say(obj, "generate")
    assert calls[-1][1]["n_steps"] == 48
    say(obj, "length 2 seconds")
    say(obj, "generate")
    assert calls[-1][1]["n_steps"] == 16
    say(obj, "generate 0.5")  # an explicit length wins over the setting
    assert calls[-1][1]["n_steps"] == 4


def test_tempo_auto_returns_to_the_estimate(obj):
    say(obj, "load tiny_basic_rnn")
    phrase = [(i * 400, 60 + (i % 5)) for i in range(12)]  # quarter notes at 150 qpm
    say(obj, "tempo 90")
    play(obj, phrase, length_ms=300)
    say(obj, "time 5000")
    assert float(next(x for x in say(obj, "generate 1") if x.startswith("answer ")
                      ).split()[3]) == 90
    assert say(obj, "tempo auto") == []
    qpm = float(next(x for x in say(obj, "generate 1") if x.startswith("answer ")).split()[3])
    assert qpm == pytest.approx(150, rel=0.05)
    assert "tempo auto" in say(obj, "status")


def test_seed_fixes_the_answer_and_random_frees_it(obj):
    say(obj, "load tiny_basic_rnn")
    first = answer_with(obj, "seed 7")
    assert answer_with(obj) == first  # same seed, same phrase: same answer
    assert answer_with(obj, "seed 8") != first
    say(obj, "seed random")
    calls = spy(obj)
    answers = {tuple(answer_with(obj)) for _ in range(3)}
    assert len(answers) > 1 and calls[-1][1]["options"].seed is None


def test_duet_wait_ms_and_max_phrase_s(obj):
    say(obj, "load tiny_basic_rnn")
    calls = spy(obj)
    say(obj, "tempo 120")
    assert say(obj, "duet 1 250 2") == []
    for i in range(6):  # a 6-s phrase of 0.5-s notes, one per second
        say(obj, f"time {i * 1000}")
        say(obj, f"note {60 + i} 100")
        say(obj, f"time {i * 1000 + 500}")
        assert say(obj, f"note {60 + i} 0") == ["duet_wait 250"]
    say(obj, "time 5750")
    out = say(obj, "respond")
    # Cut to its last 2 s: the notes starting at 3.5 s or later (4 and 5), 1.5 s long.
    played = calls[-1][0]
    assert [n.pitch for n in played] == [64, 65]
    check_answer(out, qpm=120, duration_ms=1500)
    say(obj, "duet 1 250 10")
    for i in range(6):
        say(obj, f"time {10000 + i * 1000}")
        say(obj, f"note {60 + i} 100")
        say(obj, f"time {10000 + i * 1000 + 500}")
        say(obj, f"note {60 + i} 0")
    check_answer(say(obj, "respond"), qpm=120, duration_ms=5500)
    assert len(calls[-1][0]) == 6
    assert say(obj, "duet 0") == ["duet_cancel"]
    say(obj, "note 60 100")
    assert say(obj, "note 60 0") == []  # off: no duet_wait


def test_time_is_the_phrase_clock(obj):
    say(obj, "load tiny_basic_rnn")
    calls = spy(obj)
    for at, text in ((1000, "note 60 90"), (1400, "note 60 0"), (2000, "note 62 90"),
                     (2250, "note 62 0")):
        say(obj, f"time {at}")
        say(obj, text)
    assert say(obj, "state") == ["phrase 2 1250"]
    say(obj, "generate 1")
    notes = calls[-1][0]
    assert [(n.start_s, n.end_s) for n in notes] == [(1.0, 1.4), (2.0, 2.25)]
