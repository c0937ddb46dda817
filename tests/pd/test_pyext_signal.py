"""pyext~: classic _signal processing and the streaming (chunked, ring-buffered) extension."""

import pytest
from pyext_patch import QUIT, Patch

pytestmark = pytest.mark.pd


def record_patch(source: str, recorder_inputs: list[tuple[int, int, str]], check: str,
                 n: int = 9600, extra=()) -> tuple[Patch, dict]:
    """DSP on, record into tables for n samples (at 48 kHz), then run a Check message."""
    p = Patch()
    ids = {}
    for name in ("rec", "rec2", "src"):
        p.array(name, n)
    for label, text in [("source", source), *extra]:
        ids[label] = p.obj(text)
    for src, outlet, table in recorder_inputs:
        tw = p.obj(f"tabwrite~ {table}")
        p.connect(ids[src] if isinstance(src, str) else src, outlet, tw, 0)
        ids.setdefault("writers", []).append(tw)
    chk = p.obj("pyext signals Check")
    ms = n / 48.0 + 20
    d = p.obj(f"delay {ms}")
    t = p.obj("t b b")
    p.connect(d, 0, t, 0)
    m = p.msg(check)
    p.connect(t, 1, m, 0)
    p.connect(m, 0, chk, 1)
    q = p.msg("\\; pd quit")
    p.connect(t, 0, q, 0)
    steps = [("\\; pd dsp 1", -1, 0)]
    steps += [("bang", w, 0) for w in ids["writers"]]
    steps += [("bang", d, 0)]
    p.sequence(*steps)
    return p, ids


def test_classic_signal_generates_a_sine(run):
    p, _ = record_patch("pyext~ 0 0 0 1 signals Sine 750", [("source", 0, "rec")], "sine rec 750")
    r = run(p).check()
    assert "SINE peak 0.500 freq_ok 1" in r.lines


def test_classic_signal_processes_a_sine(run):
    p, ids = record_patch("pyext~ 0 0 1 1 signals Gain", [("source", 0, "rec")], "sine rec 1500",
                          extra=[("osc", "osc~ 1500")])
    p.connect(ids["osc"], 0, ids["source"], 0)
    p.obj("pyext~ 0 0 0 1 signals Off")  # _dsp returning False: silent, _signal unused
    r = run(p).check()
    assert "SINE peak 0.500 freq_ok 1" in r.lines
    assert "never called" not in r.output


def test_streaming_output_is_input_delayed_by_reported_latency(run):
    p, ids = record_patch("pyext~ signals Identity", [("source", 0, "rec"), ("ph", 0, "src")],
                          "delay src rec 2048", extra=[("ph", "phasor~ 7.3")])
    p.connect(ids["ph"], 0, ids["source"], 0)
    pr = p.obj("print ATTR")
    p.connect(ids["source"], 2, pr, 0)  # outlets: signal, Python outlet 1, attribute outlet
    r = run(p).check()  # -batch: synchronous, latency = one chunk
    assert r.printed("ATTR")[:2] == ["latency 2048", "underruns 0"]
    assert "DELAY head_silent 1 exact 1 nonzero 1" in r.lines


def test_streaming_in_real_time_with_a_worker(run):
    p, ids = record_patch("pyext~ signals Identity", [("source", 0, "rec"), ("ph", 0, "src")],
                          "blocks src rec 4096", extra=[("ph", "phasor~ 7.3")], n=19200)
    p.connect(ids["ph"], 0, ids["source"], 0)
    pr = p.obj("print ATTR")
    p.connect(ids["source"], 2, pr, 0)
    r = run(p, batch=False).check()  # worker thread: latency = two chunks
    assert r.printed("ATTR")[0] == "latency 4096"
    assert "BLOCKS good>0 1 bad 0" in r.lines  # every block is exact, or silence counted as underrun


def test_streaming_two_channels(run):
    p, ids = record_patch("pyext~ signals Stereo", [("source", 0, "rec"), ("source", 1, "rec2")],
                          "sine rec 3000", extra=[("a", "osc~ 1500"), ("b", "osc~ 3000")])
    p.connect(ids["a"], 0, ids["source"], 0)
    p.connect(ids["b"], 0, ids["source"], 1)
    r = run(p).check()
    assert "SINE peak 2.000 freq_ok 1" in r.lines  # channel 2 (3 kHz) came out on channel 1


def test_streaming_latency_attribute(run):
    p, ids = record_patch("pyext~ signals LowLatency", [("source", 0, "rec"), ("ph", 0, "src")],
                          "blocks src rec 2304", extra=[("ph", "phasor~ 7.3")], n=19200)
    p.connect(ids["ph"], 0, ids["source"], 0)
    pr = p.obj("print ATTR")
    p.connect(ids["source"], 2, pr, 0)
    r = run(p, batch=False).check()
    assert r.printed("ATTR")[0] == "latency 2304"
    assert "BLOCKS good>0 1 bad 0" in r.lines


def test_latency_queries_answer_on_objects_that_do_not_stream(run):
    p = Patch()
    msg = p.obj("pyext dispatch Full")
    classic = p.obj("pyext~ 0 0 1 1 signals Gain")
    streaming = p.obj("pyext~ signals Identity")  # DSP stays off
    attrs = p.obj("print ATTR")
    for o, n in ((msg, 1), (classic, 1), (streaming, 2)):
        p.connect(o, n, attrs, 0)
    p.sequence(("getlatency", msg, 0), ("getunderruns", classic, 0),
               ("getlatency", streaming, 0), QUIT)
    r = run(p).check()
    assert r.printed("ATTR") == []
    errors = [line for line in r.lines if "getlatency" in line or "getunderruns" in line]
    why = "this object does not stream (only [pyext~] classes with _chunk and process() do)"
    assert errors == [
        f"error: pyext: Full: getlatency: {why}",
        f"error: pyext~: Gain: getunderruns: {why}",
        "error: pyext~: Identity: getlatency: not streaming yet (switch DSP on)",
    ]
