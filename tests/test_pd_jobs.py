"""Long jobs of dlwa objects run beside their messages and stop when asked (issue #13, 3–4).

The objects run here as in Pd's real time (their job thread), through the pyext stand-in:
``status`` answers while a generation runs, ``stop`` and deleting the object end it
within a step of the beam search, and a deleted object says nothing more.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dlwa.pd import standin
from dlwa.pd.base import PdObject, message
from dlwa.pd.melody_rnn import melody_rnn

LONG = ("beam 64 64 1", "tempo 400", "length 64 bars", "note 60 100", "note 60 0",
        "note 64 100", "note 64 0")


@pytest.fixture(autouse=True)
def host():
    standin.reset()
    yield
    standin.reset()


@pytest.fixture
def threaded(monkeypatch):
    """Jobs on the job thread, as in Pd's real time (the stand-in is synchronous)."""
    monkeypatch.setattr(PdObject, "_runs_synchronously", lambda self: False)


def wait_for(predicate, timeout_s=60.0):
    """Poll until ``predicate()``; a generous bound that only catches a hang."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def start_long_generation(tmp_path):
    obj = standin.create(melody_rnn, canvas_dir=tmp_path)
    for text in ("load melody_rnn_basic", *LONG, "generate"):
        standin.send_message(obj, 1, text)
    wait_for(lambda: obj.state == "generating")
    return obj


def job_thread(obj) -> threading.Thread:
    thread = obj._job_thread
    assert thread is not None
    return thread


def test_status_answers_while_generating_and_stop_ends_it(threaded, tmp_path):
    obj = start_long_generation(tmp_path)
    standin.outputs(obj)
    standin.send_message(obj, 1, "status")  # handled now, not after the generation
    out = standin.outputs(obj)
    assert "state generating" in out and "beam 64 64 1" in out
    standin.send_message(obj, 1, "stop")
    wait_for(lambda: "error generate stopped" in standin.outputs(obj, clear=False), 10)
    assert obj.state == "idle"
    assert not any(line.startswith("answer") for line in standin.outputs(obj))
    # The object keeps working: a short answer after the stopped one.
    for text in ("beam 1 1 1", "length 1 bars", "generate"):
        standin.send_message(obj, 1, text)
    wait_for(lambda: any(line.startswith("end") for line in standin.outputs(obj, clear=False)))
    assert [line for line in standin.outputs(obj) if line.startswith("answer")]


def test_stop_into_the_control_inlet_ends_the_job(threaded, tmp_path):
    obj = start_long_generation(tmp_path)
    standin.stop(obj)  # into inlet 0: _shouldexit is cleared at once (no handler runs)
    wait_for(lambda: "error generate stopped" in standin.outputs(obj, clear=False), 10)


def test_deleting_a_busy_object_ends_its_job_silently(threaded, tmp_path, capsys):
    obj = start_long_generation(tmp_path)
    thread = job_thread(obj)
    standin.outputs(obj)
    capsys.readouterr()
    standin.delete(obj)
    thread.join(10)
    assert not thread.is_alive()
    assert standin.outputs(obj) == []
    assert standin.console() == []
    assert capsys.readouterr().err == ""


def test_jobs_run_in_message_order(threaded, tmp_path):
    """A ``generate`` sent right after ``load`` waits for it instead of failing."""
    obj = standin.create(melody_rnn, canvas_dir=tmp_path)
    for text in ("load melody_rnn_basic", "seed 1", "length 1 bars", "note 60 100",
                 "note 60 0", "generate"):
        standin.send_message(obj, 1, text)
    wait_for(lambda: any(line.startswith("end") for line in standin.outputs(obj, clear=False)))
    out = standin.outputs(obj)
    assert out[0] == "loaded melody_rnn_basic"
    assert not [line for line in out if line.startswith("error")]


class busy(PdObject):
    """A job that polls ``check_stop`` every millisecond, and a quick message."""

    object_name = "busy"

    @message("work")
    def work_1(self):
        yield
        self.state = "working"
        while True:
            self.check_stop()
            time.sleep(0.001)

    @message("ping")
    def ping_1(self):
        self.reply("pong")


def test_a_deleted_object_never_reaches_its_outlet(threaded, capsys):
    obj = standin.create(busy)
    standin.send_message(obj, 1, "work")
    wait_for(lambda: obj.state == "working")
    standin.send_message(obj, 1, "ping")
    assert standin.outputs(obj) == ["pong"]
    thread = job_thread(obj)
    standin._state(obj).alive = False  # Pd deleted it; _del has not run yet
    obj.reply("late")  # what a job finishing now would do: nothing, no exception
    standin.delete(obj)
    thread.join(10)
    assert not thread.is_alive()
    assert capsys.readouterr().err == ""


def test_transfer_reports_progress_at_every_block():
    """Progress is where a job sees ``stop``: it is called for every block, not thinned
    out, so a transfer in Pd (1-s blocks) stops within a block."""
    from dlwa.ddsp.model import load_model
    from dlwa.ddsp.transfer import transfer

    sr = 16000
    t = np.arange(20 * sr) / sr
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    calls = []
    transfer(audio, sample_rate=sr, model=load_model("violin"), progress=calls.append,
             block_duration_s=0.1)
    assert len(calls) >= 2 * 200  # 200 blocks, once in each pass at least


def test_transfer_in_pd_stops_on_stop(threaded, tmp_path):
    from dlwa.pd.timbre_transfer import timbre_transfer

    standin.set_samplerate(16000)
    t = np.arange(120 * 16000) / 16000
    standin.make_array("in", len(t), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    standin.make_array("out", 1)
    obj = standin.create(timbre_transfer, canvas_dir=tmp_path)
    standin.send_message(obj, 1, "run violin in out")
    wait_for(lambda: any(line.startswith("progress 0.1")
                         for line in standin.outputs(obj, clear=False)))
    standin.send_message(obj, 1, "stop")
    wait_for(lambda: "error run stopped" in standin.outputs(obj, clear=False), 10)
    assert not [line for line in standin.outputs(obj) if line.startswith("transferred")]
