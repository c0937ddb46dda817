"""Stress: detached workers use pyext.Buffer while Pd resizes, refills and deletes arrays.

Pd runs in real time (``-nosound``, not ``-batch``) with glibc's malloc checks on. Six
detached workers read, write (elements, slices, ``write()``, numpy views kept across
changes) and resize two arrays while Pd, from ``[metro 1]``, resizes them with a
``resize`` message, ``[array size]`` and ``[soundfiler] read -resize``, and clears and
re-creates the subpatch holding one of them. Pd must neither crash nor corrupt its heap,
must quit at once, and the workers must see Python exceptions, nothing worse.

The run lasts ``DLWA_STRESS_SECONDS`` seconds (default 10); for a long manual run:
``DLWA_STRESS_SECONDS=600 .venv/bin/python -m pytest tests/pd/test_pyext_stress.py -s``.
The figures (operations, exceptions, Pd-side changes, worst scheduler lateness) are
printed with ``-s``.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from pyext_patch import Patch

from dlwa import pd_runner

pytestmark = pytest.mark.pd

SECONDS = float(os.environ.get("DLWA_STRESS_SECONDS", "10"))
MALLOC_DEBUG = Path("/lib/x86_64-linux-gnu/libc_malloc_debug.so.0")
HAMMERS = [  # (kind, array)
    ("elements", "sa"), ("views", "sa"), ("structure", "sa"),
    ("elements", "sb"), ("views", "sb"), ("structure", "sb"),
]
SUB_CONTENT = [  # [table sb] and its resizer, inside pd-sub (re-created after each clear)
    "obj 10 10 table sb 300", "obj 10 40 r sbsize", "obj 10 70 array size sb",
    "connect 1 0 2 0",
]
BAD_WORDS = ("malloc", "corrupt", "invalid pointer", "double free", "segmentation",
             "signal 6", "signal 11", "aborted")


def stress_patch(seconds: float) -> Patch:
    p = Patch()
    p.array("sa", 100)
    p.lines.append("#N canvas 0 0 300 200 sub 0;")
    p.lines += [f"#X {line};" for line in SUB_CONTENT]
    p.lines.append("#X restore 400 10 pd sub;")
    p.count += 1

    # Pd's side, every millisecond: resize sa by message and sb by [array size]; measure
    # how late the tick runs (real time elapsed minus logical time elapsed, worst so far).
    tick = p.obj("metro 1")
    t = p.obj("t b b b")
    rnd = p.obj("random 4000")
    plus = p.obj("+ 1")
    tf = p.obj("t f f")
    resize_sa = p.msg("\\; sa resize \\$1")
    size_sb = p.obj("s sbsize")
    p.connect(tick, 0, t, 0)
    p.connect(t, 2, rnd, 0)
    p.connect(rnd, 0, plus, 0)
    p.connect(plus, 0, tf, 0)
    p.connect(tf, 1, resize_sa, 0)
    p.connect(tf, 0, size_sb, 0)
    count, inc, n_resizes = p.obj("f"), p.obj("+ 1"), p.obj("f")
    p.connect(t, 1, count, 0)
    p.connect(count, 0, inc, 0)
    p.connect(inc, 0, count, 1)
    p.connect(inc, 0, n_resizes, 1)
    timer, real, worst = p.lateness_meter(t, 0)

    # every 10 ms: refill sa from a file with -resize (written at load time)
    sf_tick = p.obj("metro 10")
    sf_read = p.msg("read -resize stress.wav sa")
    soundfiler = p.obj("soundfiler")
    p.connect(sf_tick, 0, sf_read, 0)
    p.connect(sf_read, 0, soundfiler, 0)

    # every 25 ms: clear pd-sub (sb disappears), or re-create its content
    cyc = p.obj("metro 25")
    cf, cinc, cmod, csel, n_cycles = (p.obj(x) for x in ("f", "+ 1", "mod 2", "sel 0 1", "f"))
    clear = p.msg("\\; pd-sub clear")
    create = p.msg(" ".join(f"\\; pd-sub {line}" for line in SUB_CONTENT))
    p.connect(cyc, 0, cf, 0)
    p.connect(cf, 0, cinc, 0)
    p.connect(cinc, 0, cf, 1)
    p.connect(cinc, 0, n_cycles, 1)
    p.connect(cf, 0, cmod, 0)
    p.connect(cmod, 0, csel, 0)
    p.connect(csel, 0, clear, 0)
    p.connect(csel, 1, create, 0)

    # the workers; when all are done: figures, then quit
    route = p.obj("route done")
    pdone = p.obj("print DONE")
    p.connect(route, 0, pdone, 0)
    hammers = []
    for kind, _ in HAMMERS:
        h = p.obj(f"pyext stress Hammer {kind} @detach 1")
        p.connect(h, 0, route, 0)
        hammers.append(h)
    tb, n_done, n_inc, n_sel = (p.obj(x) for x in ("t b", "f", "+ 1", f"sel {len(HAMMERS)}"))
    p.connect(route, 0, tb, 0)
    p.connect(tb, 0, n_done, 0)
    p.connect(n_done, 0, n_inc, 0)
    p.connect(n_inc, 0, n_done, 1)
    p.connect(n_inc, 0, n_sel, 0)
    fin = p.obj("t b b b b b")
    p.connect(n_sel, 0, fin, 0)
    stop = p.msg("0")
    for m in (tick, sf_tick, cyc):
        p.connect(stop, 0, m, 0)
    p_late, p_res, p_cyc, p_quit = (p.obj(f"print {x}") for x in ("LATENESS", "PDRESIZES",
                                                                   "CLEARCYCLES", "QUITTING"))
    quit_ = p.msg("\\; pd quit")
    p.connect(fin, 4, stop, 0)
    p.connect(fin, 3, worst, 0)
    p.connect(worst, 0, p_late, 0)
    p.connect(fin, 2, n_resizes, 0)
    p.connect(n_resizes, 0, p_res, 0)
    p.connect(fin, 2, n_cycles, 0)
    p.connect(n_cycles, 0, p_cyc, 0)
    p.connect(fin, 1, p_quit, 0)
    p.connect(fin, 0, quit_, 0)

    p.sequence(
        ("write stress.wav sa", soundfiler, 0),
        ("bang", timer, 0), ("bang", real, 0),
        *[(f"run {arr} {seconds} {i + 1}", h, 1) for i, ((_, arr), h) in
          enumerate(zip(HAMMERS, hammers))],
        ("1", tick, 0), ("1", sf_tick, 0), ("1", cyc, 0),
    )
    return p


def run_realtime(patch: Path, timeout_s: float, env: dict[str, str]):
    """Run Pd in real time; returns (returncode, lines, seconds from 'QUITTING' to exit)."""
    cmd = pd_runner.pd_command(patch, batch=False)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=patch.parent, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        start_new_session=True,
    )
    lines: list[str] = []
    quit_seen: list[float] = []
    crashed: list[float] = []

    def reader():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if line.startswith("QUITTING:"):
                quit_seen.append(time.monotonic())
            if any(w in line.lower() for w in BAD_WORDS):
                crashed.append(time.monotonic())

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        now = time.monotonic()
        late = (quit_seen and now - quit_seen[0] > 10) or (crashed and now - crashed[0] > 2)
        if now > deadline or late:  # a crashed Pd may hang in its signal handler
            os.killpg(proc.pid, 9)
            break
        time.sleep(0.02)
    exit_time = time.monotonic()
    proc.wait()
    th.join(5)
    to_exit = exit_time - quit_seen[0] if quit_seen else None
    return proc.returncode, lines, to_exit


def test_buffers_survive_pd_resizing_and_deleting_arrays(pd_external, workdir):
    patch = stress_patch(SECONDS).write(workdir / "stress.pd")
    env = {"MALLOC_CHECK_": "3"}
    if MALLOC_DEBUG.exists():  # glibc >= 2.34 checks MALLOC_CHECK_ only with this preloaded
        env["LD_PRELOAD"] = str(MALLOC_DEBUG)
    code, lines, to_exit = run_realtime(patch, SECONDS + 60, env)
    out = "\n".join(lines)
    tail = "\n".join(lines[-60:])
    bad = [line for line in lines if any(w in line.lower() for w in BAD_WORDS)]
    assert not bad, tail
    assert code == 0, f"pd exited with {code}\n{tail}"
    assert to_exit is not None and to_exit < 2.0, f"pd quit took {to_exit} s\n{tail}"
    assert "UNEXPECTED" not in out, tail

    done = [line.split() for line in lines if line.startswith("DONE: ")]
    assert len(done) == len(HAMMERS), tail
    stats = {}
    for d in done:
        kind, arr, ops = d[1], d[2], int(float(d[3]))
        errors = {k: int(float(v)) for k, v in zip(d[6::2], d[7::2])}
        stats[(kind, arr)] = (ops, int(float(d[5])), errors)
        assert ops > 0, (kind, arr, d)
    # sb vanished under its workers hundreds of times: they saw RuntimeError (array not
    # found) and ValueError (Buffer('sb') of a missing array), and arrays shrank under
    # element access (IndexError): exceptions, never a crash
    for arr in ("sa", "sb"):
        seen = {k for (_, a), (_, _, e) in stats.items() if a == arr for k in e}
        assert seen <= {"IndexError", "RuntimeError", "ValueError"}, stats
    sb_seen = {k for (_, a), (_, _, e) in stats.items() if a == "sb" for k in e}
    assert {"IndexError", "RuntimeError", "ValueError"} <= sb_seen, stats

    def last_word(prefix: str) -> str:
        return next(x for x in lines if x.startswith(prefix)).split()[-1]

    figures = {
        "seconds": SECONDS,
        "worker_ops": {f"{k}/{a}": v[0] for (k, a), v in stats.items()},
        "stale_view_checks": {f"{k}/{a}": v[1] for (k, a), v in stats.items() if k == "views"},
        "exceptions": {f"{k}/{a}": v[2] for (k, a), v in stats.items()},
        "pd_resize_ticks": last_word("PDRESIZES:"),
        "clear_cycles": last_word("CLEARCYCLES:"),
        "worst_lateness_ms": last_word("LATENESS:"),
        "quit_s": round(to_exit, 3),
    }
    print("STRESS FIGURES", figures)
