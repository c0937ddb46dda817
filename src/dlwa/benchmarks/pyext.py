"""Benchmarks of the pyext_py3 external, each a headless Pd run.

- ``round_trip``: synchronous message round trip Pd -> Python handler -> outlet -> Pd.
- ``buffer_write``: ``buf[:] = x`` for 64,000 float32 samples, on Pd's thread and from a
  detached worker (which hands the copy to Pd's thread and waits for it).
- ``streaming_overhead``: extra wall time per 2048-sample chunk of a streaming ``[pyext~]``
  (identity ``process``) over plain Pd, rendering 60 s in ``-batch``.
- ``metro_lateness``: worst lateness of a 1 ms ``[metro]`` against the wall clock in real
  time (``-nosound``, not ``-batch``) while nothing runs, while a detached handler does 5 s
  of pure-Python work, and while a streaming object runs (with pure-Python work per chunk).
- ``quit_time``: how long ``pd quit`` takes with a Python thread still running.

Figures are measured inside Pd with ``[realtime]`` (wall clock) and ``[timer]`` (logical
time), so process start-up is not counted.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from dlwa import pd_runner
from dlwa.bench import Measurement, benchmark

OBJ = "dlwa.benchmarks.pyext_objects"


def _run(patch: pd_runner.Patch, **kw) -> pd_runner.PdRun:
    """Write ``patch`` into a temporary folder and run it headless; raise if Pd failed."""
    with tempfile.TemporaryDirectory(prefix="dlwa-bench-") as d:
        kw.setdefault("timeout_s", 120)
        return pd_runner.run_patch(patch.write(Path(d) / "bench.pd"), **kw).check()


def _number(run: pd_runner.PdRun, prefix: str) -> float:
    values = run.printed(prefix)
    if not values:
        raise RuntimeError(f"no '{prefix}' line in Pd's output:\n{run.output[-2000:]}")
    return float(values[-1].split()[-1])


def _timed_loop(p: pd_runner.Patch, n: int, body_in: tuple[int, int]) -> None:
    """On load: realtime start, n bangs of an [until] into body_in, print the elapsed ms."""
    rt = p.obj("realtime")
    pr = p.obj("print ELAPSED")
    p.connect(rt, 0, pr, 0)
    count = p.msg(str(n))
    until = p.obj("until")
    f, plus = p.obj("f"), p.obj("+ 1")
    p.connect(count, 0, until, 0)
    p.connect(until, 0, f, 0)
    p.connect(f, 0, plus, 0)
    p.connect(plus, 0, f, 1)
    p.connect(f, 0, *body_in)
    quit_ = p.msg("\\; pd quit")
    p.on_load((rt, 0), (count, 0), (rt, 1), (quit_, 0))


@benchmark("pyext")
def round_trip() -> list[Measurement]:
    pd_runner.build_external()
    n = 20000
    out = []
    for label, body in (("pyext", f"pyext. {OBJ} Echo"), ("plain Pd [f]", "f")):
        p = pd_runner.Patch()
        obj = p.obj(body)
        sink = p.obj("f")
        p.connect(obj, 0, sink, 1)
        _timed_loop(p, n, (obj, 1 if label == "pyext" else 0))
        ms = _number(_run(p), "ELAPSED")
        out.append(Measurement(f"sync round trip ({label})", ms * 1000 / n, "us/message",
                               f"{n} floats through [{body}] in -batch, [realtime]"))
    return out


def _buffer_write(detach: int, batch: bool) -> float:
    p = pd_runner.Patch()
    p.array("bench", 64000)
    obj = p.obj(f"pyext. {OBJ} BufferWrite @detach {detach}")
    pr = p.obj("print BW")
    p.connect(obj, 0, pr, 0)
    route = p.obj("route bufwrite")
    p.connect(obj, 0, route, 0)
    quit_ = p.msg("\\; pd quit")
    p.connect(route, 0, quit_, 0)
    go = p.msg("write bench 64000 200")
    p.connect(go, 0, obj, 1)
    p.on_load((go, 0))
    run = _run(p, batch=batch)
    fields = run.printed("BW")[-1].split()
    if fields[-1] != "1":
        raise RuntimeError("buffer contents differ after the write")
    return float(fields[-2])


@benchmark("pyext")
def buffer_write() -> list[Measurement]:
    pd_runner.build_external()
    return [
        Measurement("Buffer write 64,000 samples (Pd thread)", _buffer_write(0, True), "us",
                    "b[:] = float32 array, mean of 200, sync object"),
        Measurement("Buffer write 64,000 samples (detached worker)", _buffer_write(1, False), "us",
                    "same from @detach 1 in real time: handed to Pd's thread, includes waiting "
                    "for its next scheduler tick"),
    ]


def _render_ms(source: str, seconds: int) -> float:
    p = pd_runner.Patch()
    osc = p.obj("osc~ 440")
    obj = p.obj(source)
    snake = p.obj("*~ 0.5")
    dac = p.obj("dac~")
    p.connect(osc, 0, obj, 0)
    p.connect(obj, 0, snake, 0)
    p.connect(snake, 0, dac, 0)
    rt = p.obj("realtime")
    pr = p.obj("print ELAPSED")
    p.connect(rt, 0, pr, 0)
    dsp = p.msg("\\; pd dsp 1")
    d = p.obj(f"delay {seconds * 1000}")
    t = p.obj("t b b")
    p.connect(d, 0, t, 0)
    p.connect(t, 1, rt, 1)
    quit_ = p.msg("\\; pd quit")
    p.connect(t, 0, quit_, 0)
    p.on_load((rt, 0), (dsp, 0), (d, 0))
    return _number(_run(p, batch=True), "ELAPSED")


@benchmark("pyext")
def streaming_overhead() -> list[Measurement]:
    pd_runner.build_external()
    seconds, chunk = 60, 2048
    chunks = seconds * 48000 / chunk
    base = min(_render_ms("*~ 1", seconds) for _ in range(2))
    stream = min(_render_ms(f"pyext.~ {OBJ} StreamWork 0", seconds) for _ in range(2))
    return [Measurement("streaming overhead per chunk", (stream - base) * 1000 / chunks, "us/chunk",
                        f"[pyext~] identity process, chunk {chunk}, 1 ch, {seconds} s rendered "
                        f"in -batch ({stream:.0f} ms vs {base:.0f} ms plain Pd)")]


def _lateness(load: str, flags: tuple[str, ...]) -> tuple[float, float]:
    """Worst and 99th-percentile lateness (ms) of a 1 ms [metro] over 5 s in real time."""
    ticks = 5000
    p = pd_runner.Patch()
    p.array("late", ticks + 100)
    metro = p.obj("metro 1")
    rt, tm = p.obj("realtime"), p.obj("timer")
    sub, counter, plus = p.obj("-"), p.obj("f"), p.obj("+ 1")
    pk, tw = p.obj("pack f f"), p.obj("tabwrite late")
    t = p.obj("t b b b")  # fires right to left: logical time, index, then wall time (hot)
    p.connect(metro, 0, t, 0)
    p.connect(t, 2, tm, 1)
    p.connect(tm, 0, sub, 1)
    p.connect(t, 1, counter, 0)
    p.connect(counter, 0, plus, 0)
    p.connect(plus, 0, counter, 1)
    p.connect(counter, 0, pk, 1)
    p.connect(t, 0, rt, 1)
    p.connect(rt, 0, sub, 0)
    p.connect(sub, 0, pk, 0)
    p.connect(pk, 0, tw, 0)  # "value index" spreads over tabwrite's two inlets
    start = p.msg("1")
    p.connect(start, 0, metro, 0)
    stop = p.obj(f"delay {ticks}")
    fin = p.obj("t b b b")
    p.connect(stop, 0, fin, 0)
    mstop = p.msg("stop")
    p.connect(fin, 2, mstop, 0)
    p.connect(mstop, 0, metro, 0)
    report = p.obj(f"pyext. {OBJ} Lateness")
    rmsg = p.msg(f"report late {ticks - 10}")
    p.connect(fin, 1, rmsg, 0)
    p.connect(rmsg, 0, report, 1)
    dq = p.obj("delay 100")
    qm = p.msg("\\; pd quit")
    p.connect(fin, 0, dq, 0)
    p.connect(dq, 0, qm, 0)
    targets = []
    if load == "detached":
        busy = p.obj(f"pyext. {OBJ} Busy 5.5 @detach 1")
        targets.append((busy, 1))
    elif load == "streaming":
        osc = p.obj("osc~ 440")
        s = p.obj(f"pyext.~ {OBJ} StreamWork 10")
        dac = p.obj("dac~")
        p.connect(osc, 0, s, 0)
        p.connect(s, 0, dac, 0)
        dsp = p.msg("\\; pd dsp 1")
        targets.append((dsp, 0))
    wait = p.obj("delay 200")  # let start-up settle
    p.connect(wait, 0, rt, 0)
    p.connect(wait, 0, tm, 0)
    p.connect(wait, 0, start, 0)
    p.connect(wait, 0, stop, 0)
    p.on_load(*targets, (wait, 0))
    run = _run(p, batch=False, timeout_s=60, extra_args=flags)
    line = next(l for l in run.lines if l.startswith("LATENESS"))
    return (float(re.search(r"worst ([0-9.]+)", line).group(1)),
            float(re.search(r"p99 ([0-9.]+)", line).group(1)))


# Real-time flags as a musician runs Pd: real-time priority (Pd's default as root without
# -nrt) and a 1 ms scheduler sleep grain (with an audio device Pd wakes per audio block).
RT_FLAGS = ("-rt", "-sleepgrain", "1")
LOADS = {
    "idle": "nothing else running",
    "detached": "@detach 1 handler looping in pure Python for 5.5 s",
    "streaming": "[pyext~] chunk 2048 with 10 ms of pure Python per chunk",
}


@benchmark("pyext")
def metro_lateness() -> list[Measurement]:
    pd_runner.build_external()
    out = []
    for flags, label, runs in ((RT_FLAGS, "-rt -sleepgrain 1", 3), ((), "default -nrt", 1)):
        for load, what in LOADS.items():
            results = sorted(_lateness(load, flags) for _ in range(runs))
            worst = [w for w, _ in results]
            p99 = max(p for _, p in results)
            median = worst[len(worst) // 2]
            out.append(Measurement(
                f"metro lateness, {load} ({label})", median, "ms",
                f"worst tick of 5000 (1 ms [metro], -nosound real time), median of {runs} run(s); "
                f"max {worst[-1]:.2f} ms, p99 {p99:.2f} ms; {what}"))
    return out


@benchmark("pyext")
def quit_time() -> list[Measurement]:
    pd_runner.build_external()
    out = []
    for label, thread in (("no Python thread", False), ("detached handler running", True)):
        p = pd_runner.Patch()
        stamp = p.obj(f"pyext. {OBJ} Stamp")
        d = p.obj("delay 300")
        t = p.obj("t b b")
        q = p.msg("\\; pd quit")
        p.connect(d, 0, t, 0)
        p.connect(t, 1, stamp, 1)
        p.connect(t, 0, q, 0)
        targets = [(d, 0)]
        if thread:
            targets.insert(0, (p.obj(f"pyext. {OBJ} Busy 30 @detach 1"), 1))
        p.on_load(*targets)
        run = _run(p, batch=False, timeout_s=30)
        ended = time.time()
        quit_at = float(next(l for l in run.lines if l.startswith("STAMP ")).split()[1])
        out.append(Measurement(f"pd quit to process exit ({label})", (ended - quit_at) * 1000, "ms",
                               "wall time from the quit message to the end of the process"))
    return out
