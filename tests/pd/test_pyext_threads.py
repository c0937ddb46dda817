"""Threading guarantees of spec §3.5 in real Pd: delivery from any thread, in order;
detached handlers; deleting an object while its handler runs; quitting promptly."""

import pytest
from pyext_patch import QUIT, Patch

pytestmark = pytest.mark.pd


def route_done_to_quit(p: Patch, obj: int, printer: str) -> None:
    route = p.obj("route done")
    quit_ = p.msg("\\; pd quit")
    pr = p.obj(f"print {printer}")
    p.connect(obj, 0, route, 0)
    p.connect(route, 0, quit_, 0)
    p.connect(route, 1, pr, 0)


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "realtime"])
def test_outlets_from_python_thread_in_order(run, batch):
    p = Patch()
    obj = p.obj("pyext threads ThreadOut 1000")
    route_done_to_quit(p, obj, "N")
    p.sequence(("bang", obj, 1))
    r = run(p, batch=batch, timeout_s=60).check()
    assert r.printed("N") == [str(i) for i in range(1000)]
    assert "THREAD printed after 1000" in r.lines


def test_ten_thousand_messages_into_detached_object(run):
    p = Patch()
    obj = p.obj("pyext threads Counter @detach 1")
    route_done_to_quit(p, obj, "C")
    count = p.msg("10000")
    until = p.obj("until")
    f = p.obj("f")
    plus = p.obj("+ 1")
    p.connect(count, 0, until, 0)
    p.connect(until, 0, f, 0)
    p.connect(f, 0, plus, 0)
    p.connect(plus, 0, f, 1)
    p.connect(f, 0, obj, 1)
    p.sequence(("bang", count, 0), ("finish", obj, 1))
    r = run(p, batch=False, timeout_s=60).check()
    # all 10,000 arrived, in order, on the worker (not Pd's main thread), not in sync mode
    assert r.printed("C") == ["count 10000 1 0 0"]


def test_sync_mode_runs_detached_handlers_on_pd_thread(run):
    p = Patch()
    a = p.obj("pyext threads Counter @detach 1")
    b = p.obj("pyext threads Counter @detach 1 @sync 1")
    pa, pb = p.obj("print A"), p.obj("print B")
    p.connect(a, 0, pa, 0)
    p.connect(b, 0, pb, 0)
    p.sequence(("0", a, 1), ("finish", a, 1), ("0", b, 1), ("finish", b, 1), QUIT)
    r = run(p, batch=True).check()  # -batch: automatic sync mode
    assert r.printed("A") == ["count 1 1 1 1", "done"]
    assert r.printed("B") == ["count 1 1 1 1", "done"]
    r = run(p, batch=False).check()  # real time: only @sync 1 is synchronous
    assert r.printed("B") == ["count 1 1 1 1", "done"]


def _delete_patch(poll: int) -> Patch:
    p = Patch()
    p.lines.append("#N canvas 0 0 300 200 sub 0;")
    p.lines.append(f"#X obj 10 10 pyext threads Slow {poll} @detach 1;")
    p.lines.append("#X obj 10 40 r slowin;")
    p.lines.append("#X connect 1 0 0 1;")
    p.lines.append("#X restore 400 10 pd sub;")
    p.count += 1
    d1, d2 = p.obj("delay 300"), p.obj("delay 1500")
    clear = p.msg("\\; pd-sub clear")
    done = p.msg("\\; pd quit")
    p.connect(d1, 0, clear, 0)
    p.connect(d2, 0, done, 0)
    p.sequence(("\\; slowin bang", -1, 0), ("bang", d1, 0), ("bang", d2, 0))
    return p


def test_delete_while_detached_handler_runs(run):
    r = run(_delete_patch(poll=1), batch=False, timeout_s=30).check()
    assert "START" in r.lines
    assert "SAW SHOULDEXIT" in r.lines
    assert "FINISHED" not in r.lines
    assert "DEL 1" in r.lines  # _del ran on the worker once the handler returned


def test_delete_then_quit_while_handler_still_runs(run):
    r = run(_delete_patch(poll=0), batch=False, timeout_s=30)
    assert not r.timed_out and r.returncode == 0, r.output
    assert "START" in r.lines and "FINISHED" not in r.lines


def test_quit_with_python_threads_running(run):
    p = Patch()
    obj = p.obj("pyext threads Forever")
    d = p.obj("delay 200")
    p.sequence(("bang", obj, 1), ("bang", d, 0))
    q = p.msg("\\; pd quit")
    p.connect(d, 0, q, 0)
    r = run(p, batch=False, timeout_s=20)
    assert not r.timed_out and r.returncode == 0, r.output
    assert "THREAD STARTED" in r.lines


def test_stop_sets_shouldexit_then_clears_it(run):
    p = Patch()
    obj = p.obj("pyext threads Slow 1 @detach 1")
    d1, d2 = p.obj("delay 400"), p.obj("delay 900")
    stop, again, q = p.msg("stop 3000"), p.msg("bang"), p.msg("\\; pd quit")
    p.connect(d1, 0, stop, 0)
    p.connect(stop, 0, obj, 0)
    p.connect(d2, 0, again, 0)
    p.connect(again, 0, obj, 1)
    d3, d4 = p.obj("delay 1400"), p.obj("delay 1900")
    stop2 = p.msg("stop 3000")
    p.connect(d3, 0, stop2, 0)
    p.connect(stop2, 0, obj, 0)
    p.connect(d4, 0, q, 0)  # stop returns at once: give the handler time to see it
    p.sequence(("bang", obj, 1), ("bang", d1, 0), ("bang", d2, 0), ("bang", d3, 0),
               ("bang", d4, 0))
    r = run(p, batch=False, timeout_s=30).check()
    # stop ended the first call; _shouldexit was reset, so the second call ran (and stopped)
    assert [l for l in r.lines if l in ("START", "SAW SHOULDEXIT", "FINISHED")] == [
        "START", "SAW SHOULDEXIT", "START", "SAW SHOULDEXIT"]
    assert "still running after stop" not in r.output


def test_stop_never_blocks_pd_while_the_handler_needs_pd(run):
    """A handler writing an array when stopped needs Pd's thread for its last write: stop
    must not wait for it (it used to, until its timeout: Pd stalled, and the call was
    reported as still running)."""
    p = Patch()
    p.array("stoparr", 10)
    obj = p.obj("pyext threads WriteUntilStopped @detach 1")
    d1, d2 = p.obj("delay 300"), p.obj("delay 1500")
    stop, q = p.msg("stop 1000"), p.msg("\\; pd quit")
    p.connect(d1, 0, stop, 0)
    p.connect(stop, 0, obj, 0)
    p.connect(d2, 0, q, 0)
    p.sequence(("bang", obj, 1), ("bang", d1, 0), ("bang", d2, 0))
    r = run(p, batch=False, timeout_s=30).check()
    assert "LOOP START" in r.lines and "LOOP STOPPED 1" in r.lines
    assert "still running" not in r.output


def test_stop_reports_calls_still_running_later(run):
    p = Patch()
    obj = p.obj("pyext threads Slow 0 @detach 1")  # ignores _shouldexit
    d1, d2 = p.obj("delay 100"), p.obj("delay 600")
    stop, q = p.msg("stop 200"), p.msg("\\; pd quit")
    p.connect(d1, 0, stop, 0)
    p.connect(stop, 0, obj, 0)
    p.connect(d2, 0, q, 0)
    p.sequence(("bang", obj, 1), ("bang", d1, 0), ("bang", d2, 0))
    r = run(p, batch=False, timeout_s=30).check()
    assert "START" in r.lines and "FINISHED" not in r.lines
    assert "error: pyext: Slow: 1 detached call(s) still running 200 ms after stop" in r.lines


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "realtime"])
def test_handler_joining_a_thread_that_uses_a_buffer(run, batch):
    """Element access from a thread takes Pd's lock, unless Pd's thread is inside Python
    (here: waiting in join), where the GIL already keeps them apart: no deadlock."""
    p = Patch()
    p.array("joinarr", 100)
    obj = p.obj("pyext threads JoinBufferThread")
    p.sequence(("bang", obj, 1), QUIT)
    r = run(p, batch=batch, timeout_s=30).check()
    assert "JOINED [5049.0]" in r.lines


def test_detach_2_calls_overlap(run):
    p = Patch()
    obj = p.obj("pyext threads Overlap @detach 2")
    d = p.obj("delay 1000")
    q = p.msg("\\; pd quit")
    p.connect(d, 0, q, 0)
    p.sequence(("bang", obj, 1), ("bang", obj, 1), ("bang", d, 0))
    r = run(p, batch=False, timeout_s=30).check()
    events = [l for l in r.lines if l.startswith(("BEGIN", "END"))]
    assert sorted(events) == ["BEGIN 1", "BEGIN 2", "END 1", "END 2"]
    assert events[:2] == ["BEGIN 1", "BEGIN 2"] or events[:2] == ["BEGIN 2", "BEGIN 1"]


def test_pd_never_waits_for_the_gil_on_detached_messages(run):
    """While one worker holds the GIL for minutes, Pd keeps sending to detached objects and
    quits on time; if Pd's thread took the GIL for those messages, the run would hang."""
    p = Patch()
    hog = p.obj("pyext threads HoldGil @detach 1")
    other = p.obj("pyext threads Counter @detach 1")
    d1, d2 = p.obj("delay 200"), p.obj("delay 400")
    burst = p.msg("1 \\, 2 \\, 3 \\, finish")
    q = p.msg("\\; pd quit")
    p.connect(d1, 0, burst, 0)
    p.connect(burst, 0, other, 1)
    p.connect(d2, 0, q, 0)
    p.sequence(("bang", hog, 1), ("bang", d1, 0), ("bang", d2, 0))
    r = run(p, batch=False, timeout_s=30)
    assert not r.timed_out and r.returncode == 0, r.output
    assert "REGEX START" in r.lines and "REGEX DONE" not in r.lines
