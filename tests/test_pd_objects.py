"""Headless tests of dlwa.pd's base class and the tone object, through the pyext stand-in."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dlwa import checkpoints
from dlwa.pd import standin, tone
from dlwa.pd.base import PdObject, message

SR = 48000


@pytest.fixture(autouse=True)
def host(monkeypatch, tmp_path):
    standin.reset()
    standin.set_samplerate(SR)
    standin.make_array("a", 10)
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tmp_path / "checkpoints"))
    # DLWA_CHECKPOINTS adds to the project's folder; an empty one keeps listings exact.
    monkeypatch.setattr(checkpoints, "PROJECT_CHECKPOINTS", tmp_path / "project_checkpoints")
    yield
    standin.reset()


@pytest.fixture
def obj(tmp_path):
    return standin.create(tone, canvas_dir=tmp_path)


def say(o, text):
    standin.send_message(o, 1, text)
    return standin.outputs(o)


def render_ok(o, array="a"):
    out = say(o, f"render {array} 69 0.1")
    assert out[-1] == f"done render {array} 4800"


def save_tone(directory, harmonics=(1.0, 0.0, 0.5), decay_s=0.8, kind="tone"):
    return checkpoints.save_checkpoint(
        directory, kind, {"decay_s": decay_s},
        {"harmonics": np.asarray(harmonics, dtype=np.float32)},
    )


def peak_hz(audio):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.argmax(spectrum) * SR / len(audio)


# ----- creation and import


def test_import_is_light_and_uses_the_standin():
    code = "import sys, dlwa.pd as p; print(p.IN_PD, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_detached_by_default(obj):
    assert standin.detach_mode(obj) == 1


# ----- render


def test_render_writes_resizes_redraws_and_reports(obj):
    out = say(obj, "render a 69 0.1")
    progress = [float(x.split()[1]) for x in out if x.startswith("progress ")]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 2
    assert out[-1] == "done render a 4800"
    audio = standin.array("a")
    assert len(audio) == 4800 and standin.is_dirty("a")
    assert np.max(np.abs(audio)) == pytest.approx(0.5, abs=1e-6)
    assert peak_hz(audio) == pytest.approx(440, abs=15)


def test_replies_are_anything_messages(obj):
    say(obj, "render a 60 0.05")
    say(obj, "render nowhere 60 0.05")
    standin.send_message(obj, 1, "render a 60 0.05")
    selectors = {sel for _, (sel, _) in standin.messages(obj)}
    assert selectors == {"progress", "done"}
    say(obj, "status")
    standin.send_message(obj, 1, "render nowhere 60 0.05")
    assert [sel for _, (sel, _) in standin.messages(obj)] == ["error"]


def test_render_with_own_harmonics(obj):
    assert say(obj, "render a 45 0.5 0 1")[-1] == "done render a 24000"
    assert peak_hz(standin.array("a")) == pytest.approx(220, abs=5)  # 2nd harmonic of 110 Hz


def test_timbre_and_decay_change_the_sound(obj):
    say(obj, "render a 60 1")
    before = standin.array("a")
    assert say(obj, "timbre 0 0 1") == ["done timbre 3"]
    assert say(obj, "decay 0.05") == ["done decay 0.05"]
    say(obj, "render a 60 1")
    after = standin.array("a")
    assert not np.allclose(before, after)
    assert np.abs(after[SR // 2 :]).max() < 0.01 < np.abs(before[SR // 2 :]).max()


def tail_peak(audio):
    """Largest sample of the second half (what is left after the decay)."""
    return np.abs(audio[len(audio) // 2 :]).max()


def test_timbre_alone_sets_the_harmonics_of_later_renders(obj):
    assert say(obj, "timbre 0 0 1") == ["done timbre 3"]
    say(obj, "render a 45 0.5")
    assert peak_hz(standin.array("a")) == pytest.approx(330, abs=5)  # 3rd harmonic of 110 Hz
    assert "decay 0.6" in say(obj, "status")


def test_decay_alone_sets_the_decay_of_later_renders(obj):
    say(obj, "render a 60 1")
    slow = tail_peak(standin.array("a"))
    assert say(obj, "decay 0.05") == ["done decay 0.05"]
    say(obj, "render a 60 1")
    assert tail_peak(standin.array("a")) < 0.01 < slow
    assert "timbre 1 0.5 0.33 0.25 0.2 0.12" in say(obj, "status")
    say(obj, "decay 5")
    say(obj, "render a 60 1")
    assert tail_peak(standin.array("a")) > slow


def test_render_amplitudes_are_for_that_render_only_and_keep_the_decay(obj):
    say(obj, "decay 0.05")
    say(obj, "render a 45 0.5 0 0 1")
    assert peak_hz(standin.array("a")) == pytest.approx(330, abs=5)
    assert tail_peak(standin.array("a")) < 0.01
    say(obj, "render a 45 0.5")  # the timbre setting is unchanged
    assert peak_hz(standin.array("a")) == pytest.approx(110, abs=5)
    assert "timbre 1 0.5 0.33 0.25 0.2 0.12" in say(obj, "status")


def test_a_loaded_tone_sets_timbre_and_decay(obj, tmp_path):
    save_tone(tmp_path / "bell", harmonics=(0.0, 1.0), decay_s=0.05)
    assert say(obj, "load ./bell") == ["loaded bell"]
    say(obj, "render a 45 1")
    audio = standin.array("a")
    assert peak_hz(audio) == pytest.approx(220, abs=5)
    assert tail_peak(audio) < 0.01


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("render nowhere 60 1", "error no array named 'nowhere': add [array define nowhere]"),
        ("render a high 1", "error pitch_midi must be a number between 0 and 127: got 'high'"),
        ("render a 200 1", "error pitch_midi must be a number between 0 and 127: got 200"),
        ("render a 60 0", "error duration_s must be a number between 0.001 and 60: got 0"),
        ("render a 60 61", "error duration_s must be a number between 0.001 and 60: got 61"),
        ("render a 60 1 0 0", "error harmonic amplitudes are all 0: give at least one above 0 (e.g. 1)"),
        ("render a 60 1 1 -1", "error amplitude 2 must be a number at least 0: got -1"),
        ("render 5 60 1", "error array must be a name (a symbol): got 5"),
        ("render a", "error usage: render <array> <pitch_midi> <duration_s> [amplitude...]"),
        ("timbre", "error give 1 to 64 harmonic amplitudes: got 0"),
        ("decay", "error usage: decay <decay_s>"),
        ("decay x", "error decay_s must be a number between 0.001 and 60: got 'x'"),
        ("status 1", "error usage: status"),
        ("fly 1", "error unknown message 'fly' (messages: decay help load render status stop timbre unload)"),
        ("bang", "error unknown message 'bang' (messages: decay help load render status stop timbre unload)"),
        ("load", "error usage: load <checkpoint name or path>"),
    ],
)
def test_bad_input_replies_error_and_keeps_working(obj, capsys, text, reply):
    assert say(obj, text) == [reply]
    assert "tone: " + reply.removeprefix("error ") in capsys.readouterr().err
    render_ok(obj)


def test_stop_interrupts_work(obj, monkeypatch):
    calls = []

    def progress_then_stop(fraction):
        calls.append(fraction)
        if len(calls) == 2:
            standin.stop(obj)  # Pd's "stop" while the render runs
        type(obj).progress(obj, fraction)

    monkeypatch.setattr(obj, "progress", progress_then_stop)
    out = say(obj, "render a 60 1")
    assert out[-1] == "error render stopped" and len(calls) == 2
    assert standin.array("a").tolist() == [0.0] * 10  # nothing written


def test_stop_when_idle_does_not_block_later_work(obj):
    standin.stop(obj)
    render_ok(obj)


# ----- status, help, load


def test_status_reports_selector_prefixed_facts(obj):
    assert say(obj, "status") == [
        "model none", "state idle", "samplerate 48000", "timbre 1 0.5 0.33 0.25 0.2 0.12",
        "decay 0.6",
    ]


def test_help_lists_usages(obj):
    out = say(obj, "help")
    assert "usage render <array> <pitch_midi> <duration_s> [amplitude...]" in out
    assert len(out) == 8


def test_load_by_path_relative_to_the_patch(obj, tmp_path):
    save_tone(tmp_path / "models" / "bell")
    assert say(obj, "load models/bell") == ["loaded bell"]
    assert say(obj, "status")[:2] == ["model bell", "state idle"]
    assert "timbre 1 0 0.5" in say(obj, "status")
    assert say(obj, "unload") == ["unloaded"]
    assert say(obj, "status")[0] == "model none"


def test_load_by_name_from_checkpoints(obj, tmp_path):
    save_tone(tmp_path / "checkpoints" / "organ", harmonics=(1, 1, 1))
    assert say(obj, "load organ") == ["loaded organ"]
    render_ok(obj)


def test_load_errors_list_names_and_keep_working(obj, tmp_path):
    save_tone(tmp_path / "checkpoints" / "organ")
    save_tone(tmp_path / "checkpoints" / "synth", kind="ddsp")
    (out,) = say(obj, "load nothing")
    assert out.startswith("error no checkpoint named 'nothing'") and "(available: organ)" in out
    (out,) = say(obj, "load synth")
    assert out.startswith("error ") and "'ddsp' checkpoint\\, not 'tone'" in out
    save_tone(tmp_path / "broken", harmonics=(0, 0))
    assert say(obj, "load ./broken") == [
        "error harmonic amplitudes are all 0: give at least one above 0 (e.g. 1)"
    ]
    assert say(obj, "status")[0] == "model none"
    render_ok(obj)


def test_deletion_stops_and_frees(obj):
    say(obj, "status")
    standin.delete(obj)
    assert obj.closing and obj.model is None and obj.should_stop()


# ----- the base class on its own


class Probe(PdObject):
    """A minimal object using the base helpers."""

    object_name = "probe"

    @message("measure <array> [sample_rate]")
    def measure_1(self, array, sample_rate=None):
        audio, rate = self.read_array(array, sample_rate)
        self.done("measure", len(audio), rate, float(audio.sum()))

    @message("fill <array> <n> <value>")
    def fill_1(self, array, n, value):
        self.done("fill", self.write_array(array, np.full(int(n), value)))

    @message("crash")
    def crash_1(self):
        raise RuntimeError("probe bug")

    @message("model")
    def model_1(self):
        self.require_model()


@pytest.fixture
def probe(tmp_path):
    return standin.create(Probe, canvas_dir=tmp_path)


def test_read_array_with_pd_or_explicit_rate(probe):
    standin.make_array("b", 4, [0.5, 0.25, 0, 0])
    assert say(probe, "measure b") == ["done measure 4 48000 0.75"]
    assert say(probe, "measure b 16000") == ["done measure 4 16000 0.75"]
    assert say(probe, "measure b 0")[0].startswith("error sample_rate must be a number at least 1")


def test_write_array_resizes_only_when_needed(probe):
    assert say(probe, "fill b 3 1")[0] == "error no array named 'b': add [array define b]"
    assert say(probe, "fill a 3 0.5") == ["done fill 3"]
    np.testing.assert_array_equal(standin.array("a"), [0.5, 0.5, 0.5])
    assert say(probe, "fill a 0 1")[0].startswith("error audio for array 'a' must be 1-D")


def test_write_array_rejects_non_finite(probe):
    with pytest.raises(ValueError, match="finite"):
        probe.write_array("a", np.array([0.0, np.nan]))


def test_a_bug_is_reported_with_its_type_and_traceback(probe, capsys):
    assert say(probe, "crash") == ["error RuntimeError: probe bug"]
    err = capsys.readouterr().err
    assert "Traceback" in err and "probe: RuntimeError: probe bug" in err
    assert say(probe, "measure a") == ["done measure 10 48000 0"]


def test_require_model_says_how_to_load(probe):
    assert say(probe, "model") == [
        "error no model loaded: send 'load <name>' first (available: none in checkpoints/)"
    ]


def test_progress_is_rate_limited_and_clamped(probe):
    for fraction in (0.0, 0.01, 0.02, 0.3, 0.31, 2.0):
        probe.progress(fraction)
    assert standin.outputs(probe) == ["progress 0", "progress 0.3", "progress 1"]
