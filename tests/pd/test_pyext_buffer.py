"""pyext.Buffer over Pd arrays, from Pd's thread and from a detached worker."""

import math

import pytest
from pyext_patch import Patch

pytestmark = pytest.mark.pd


def buffer_patch(method: str, detach: int) -> Patch:
    p = Patch()
    p.array("arr", 10)
    obj = p.obj(f"pyext buffers Buf @detach {detach}")
    route = p.obj("route done")
    p.connect(obj, 0, route, 0)
    trig = p.obj("t b b b b")
    p.connect(route, 0, trig, 0)
    # after 'done': print the array size and three values as Pd sees them, then quit
    size = p.obj("array size arr")
    psize = p.obj("print SIZE")
    p.connect(trig, 3, size, 0)
    p.connect(size, 0, psize, 0)
    idx = p.msg("0 \\, 1 \\, 3")
    tab = p.obj("tabread arr")
    ptab = p.obj("print TAB")
    p.connect(trig, 2, idx, 0)
    p.connect(idx, 0, tab, 0)
    p.connect(tab, 0, ptab, 0)
    quit_ = p.msg("\\; pd quit")
    p.connect(trig, 0, quit_, 0)
    p.sequence((f"{method} arr", obj, 1))
    return p


@pytest.mark.parametrize("detach", [0, 1])
def test_buffer_operations(run, detach):
    r = run(buffer_patch("run", detach), batch=False).check()
    out = r.lines
    assert "LEN 10 <Symbol arr>" in out
    assert "READ 0.5 1.0 9.0 [0.5, 1.0, 2.0]" in out
    assert "VIEW float32 (8,) False 2.0 f" in out
    assert "SLICE [2.0, 30.0] ndarray" in out
    assert "MATH 3.0 -2.0" in out
    assert "RESIZED 20 10 60.0" in out
    assert "AFTER 60.0 0.0" in out
    assert "WRITE 4 0.25" in out
    assert any(l.startswith("MISSING pyext.Buffer: no Pd array named 'no_such_array'") for l in out)
    assert r.printed("SIZE") == ["4"]
    assert r.printed("TAB") == ["0.25", "0.25", "0.25"]


def test_buffer_course_style(run):
    r = run(buffer_patch("course", 1), batch=False).check()
    assert r.printed("SIZE") == ["1000"]
    want = [math.sin(math.pi * i / 999) for i in (0, 1, 3)]
    assert [float(v) for v in r.printed("TAB")] == pytest.approx(want, abs=1e-5)
