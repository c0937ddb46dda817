"""Busy dlwa objects in real Pd, in real time (issue #13, items 3 and 4).

A ``[melody_rnn]`` runs a generation of minutes (beam 64 64 1, 64 bars at 400 qpm). While
it runs, ``status`` answers and ``stop`` ends it; deleting the object (``clear`` of its
subpatch, or closing its patch) ends it without a word. A ``[timbre_transfer]`` deleted
in the middle of a ``run`` is silent too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlwa import pd_runner

pytestmark = pytest.mark.pd

LONG_GENERATION = (r"\; busy-in load melody_rnn_basic \; busy-in beam 64 64 1 \; busy-in tempo 400"
                   r" \; busy-in length 64 bars \; busy-in note 60 100 \; busy-in note 60 0"
                   r" \; busy-in note 64 100 \; busy-in note 64 0 \; busy-in generate")

BUSY_OBJECT = """#X obj 10 10 r busy-in;
#X obj 10 40 pyext. dlwa.pd {cls};
#X obj 10 70 s busy-out;
#X obj 200 10 r busy-ctl;
#X connect 0 0 1 1;
#X connect 1 0 2 0;
#X connect 3 0 1 0;
"""


def busy_patch(folder: Path, *, cls: str, start: str, trigger: str, action: str,
               separate_file: bool = False, extra: tuple[str, ...] = ()) -> Path:
    """A patch that starts a long job, then, ``trigger``'s reply later, does ``action``.

    The busy object lives in subpatch ``sub`` (or in ``busy.pd`` when ``separate_file``);
    everything it says is printed as ``out: ...``; Pd quits 1.5 s after the action (or
    after 60 s, which only a hang reaches). ``extra`` lines follow the other objects.
    """
    lines = ["#N canvas 0 0 600 400 12;"]
    if separate_file:
        (folder / "busy.pd").write_text("#N canvas 0 0 300 200 12;\n"
                                        + BUSY_OBJECT.format(cls=cls))
        lines.append(r"#X msg 300 300 \; pd open busy.pd " + str(folder) + ";")
    else:
        lines += ["#N canvas 0 0 300 200 sub 0;", *BUSY_OBJECT.format(cls=cls).splitlines(),
                  "#X restore 300 300 pd sub;"]
    (folder / "busy_probe.py").write_text(PROBE)
    action += r" \; probe-in begin"
    lines += [
        "#X obj 10 40 r busy-out;",  # 1
        "#X obj 10 70 print out;",  # 2
        f"#X obj 10 100 route {trigger};",  # 3
        "#X obj 10 130 delay 300;",  # 4
        f"#X msg 10 160 {action};",  # 5
        "#X obj 10 190 delay 1500;",  # 6
        r"#X msg 10 220 \; probe-in end \; pd quit;",  # 7
        "#X obj 200 10 loadbang;",  # 8
        f"#X msg 200 40 {start};",  # 9
        "#X obj 200 70 delay 60000;",  # 10
        "#X obj 200 100 t b b;",  # 11
        "#X obj 10 115 t b;",  # 12
        "#X obj 200 130 r probe-in;",  # 13
        "#X obj 200 160 pyext busy_probe Probe;",  # 14
        *extra,
    ]
    for src, outlet, dst in ((1, 0, 2), (1, 0, 3), (3, 0, 12), (12, 0, 4), (4, 0, 5), (4, 0, 6), (6, 0, 7),
                             (8, 0, 11), (11, 0, 9), (11, 1, 0), (8, 0, 10), (10, 0, 7)):
        if separate_file or src != 11 or dst != 0:
            lines.append(f"#X connect {src} {outlet} {dst} 0;")
    lines.append("#X connect 13 0 14 1;")
    path = folder / "main.pd"
    path.write_text("\n".join(lines) + "\n")
    return path


PROBE = '''"""Pd's CPU time between "begin" and "end": a job left running would use it."""
import time

import pyext


class Probe(pyext._class):
    _inlets = 1
    _outlets = 0
    start = 0.0

    def begin_1(self):
        self.start = time.process_time()

    def end_1(self):
        print(f"probe: cpu {time.process_time() - self.start:.3f}")
'''


def cpu_after_action(run: pd_runner.PdRun) -> float:
    """Seconds of CPU Pd used in the 1.5 s after the action (idle Pd: about 0.01)."""
    (line,) = [line for line in run.lines if line.startswith("probe: cpu ")]
    return float(line.split()[-1])


def run_busy(patch: Path) -> pd_runner.PdRun:
    pd_runner.build_external()
    run = pd_runner.run_patch(patch, batch=False, timeout_s=120,
                              paths=[pd_runner.PATCH_DIR]).check()
    assert "Traceback" not in run.output, run.output
    return run


@pytest.mark.parametrize("inlet", ["python", "control"])
def test_status_answers_and_stop_ends_a_long_generation(tmp_path, inlet):
    stop = r"\; busy-in stop" if inlet == "python" else r"\; busy-ctl stop"
    run = run_busy(busy_patch(tmp_path, cls="melody_rnn", start=LONG_GENERATION,
                              trigger="loaded", action=r"\; busy-in status " + stop))
    out = run.printed("out")
    assert "error generate stopped" in out, run.output
    if inlet == "python":  # (stop into the control inlet drops the queued status: spec)
        assert "state generating" in out, run.output
        assert out.index("state generating") < out.index("error generate stopped")
    assert not [line for line in out if line.startswith("answer")], run.output
    assert cpu_after_action(run) < 0.5, run.output


@pytest.mark.parametrize("how", ["clear", "menuclose"])
def test_deleting_a_generating_object_is_silent(tmp_path, how):
    action = r"\; pd-sub clear" if how == "clear" else r"\; pd-busy.pd menuclose 1"
    run = run_busy(busy_patch(tmp_path, cls="melody_rnn", start=LONG_GENERATION,
                              trigger="loaded", action=action,
                              separate_file=how == "menuclose"))
    assert run.printed("out") == ["loaded melody_rnn_basic"], run.output
    assert "error" not in run.output.replace("errors", ""), run.output
    assert cpu_after_action(run) < 0.5, run.output  # the generation ended with the object


def test_deleting_a_transferring_object_is_silent(tmp_path):
    """``clear`` while ``run`` works on 175 s of audio: no traceback, no error."""
    start = (r"\; busy-in load violin \; in resize 8388608 \; in sinesum 8388608 0.5 0.2"
             r" \; busy-in run violin in out")
    arrays = ("#N canvas 0 0 300 200 arrays 0;", "#X array in 100 float 0;",
              "#X array out 100 float 0;", "#X restore 300 340 pd arrays;")
    patch = busy_patch(tmp_path, cls="timbre_transfer", start=start, trigger="loaded",
                       action=r"\; pd-sub clear", extra=arrays)
    run = run_busy(patch)
    out = run.printed("out")
    assert out[0] == "loaded ddsp_violin" and out[1] == "progress 0", run.output
    assert not [line for line in out if line.startswith(("error", "transferred"))], run.output
    assert cpu_after_action(run) < 0.5, run.output
