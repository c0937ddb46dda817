"""pyext.Buffer over Pd arrays, from Pd's thread and from a detached worker."""

import math

import pytest
from pyext_patch import QUIT, Patch

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


BIG = 100_000  # 800 kB of t_word: malloc maps it, so writing freed memory faults at once

# Pd-side changes to an array while a numpy view of it is alive: (setup, message, target)
PD_SIDE = {
    "resize message": ("\\; big resize 200000", None),
    "array size": ("200000", "array size big"),
    "soundfiler read -resize": ("read -resize small.wav big", "soundfiler"),
    "sinesum": ("\\; big sinesum 64 1", None),
    "properties dialog": ("\\; big arraydialog big 50 0 0", None),
    "dialog delete": ("\\; big arraydialog big 100 0 1", None),
    "clear subpatch": ("\\; pd-sub clear", None),
}


def patch_with_big_array_in_sub() -> Patch:
    """A patch whose first object is subpatch ``sub`` holding array ``big`` (so that
    ``; pd-sub clear`` deletes the array)."""
    p = Patch()
    p.lines += ["#N canvas 0 0 300 200 sub 0;", "#N canvas 0 0 450 300 (subpatch) 0;",
                f"#X array big {BIG} float 0;", f"#X coords 0 1 {BIG} -1 200 140 1;",
                "#X restore 10 10 graph;", "#X restore 400 10 pd sub;"]
    p.count += 1
    return p


@pytest.mark.parametrize("change", list(PD_SIDE))
def test_view_survives_pd_side_resize_and_delete(run, change):
    """A view kept across a change made by Pd keeps valid memory, detached from the array."""
    text, target = PD_SIDE[change]
    p = patch_with_big_array_in_sub()
    p.array("small", 10)
    keep = p.obj("pyext buffers Keep")
    sf = p.obj("soundfiler")
    steps = [("write small.wav small", sf, 0), ("keep big", keep, 1)]
    if target == "soundfiler":
        steps.append((text, sf, 0))
    elif target:
        steps.append((text, p.obj(target), 0))
    else:
        steps.append((text, -1, 0))
    p.sequence(*steps, ("poke big", keep, 1), QUIT)
    r = run(p).check()
    assert f"KEPT {BIG}" in r.lines
    assert f"POKED {BIG} 7.0" in r.lines
    after = [line for line in r.lines if line.startswith("AFTER")]
    if change in ("dialog delete", "clear subpatch"):
        assert after == ["AFTER gone"]
    else:
        _, n, _, peak = after[0].split()
        assert int(n) != BIG and float(peak) < 7.0  # the new array did not get the 7s


def test_buffer_limits_raise_without_changing_the_array(run):
    p = Patch()
    p.array("lim", 10)
    obj = p.obj("pyext buffers Limits")
    p.sequence(("limits lim", obj, 1), QUIT)
    r = run(p).check()
    got = {line.split()[1]: line.split()[2:] for line in r.lines if line.startswith("LIMIT")}
    unchanged = ["10", "0.5", "0.5"]
    assert got == {
        "resize_2**32+10": ["OverflowError", *unchanged],
        "resize_2**31": ["OverflowError", *unchanged],
        "resize_2**28": ["OverflowError", *unchanged],
        "resize_2**70": ["OverflowError", *unchanged],
        "write_empty": ["ValueError", *unchanged],
        "write_empty_array": ["ValueError", *unchanged],
        "item_complex": ["TypeError", *unchanged],
        "item_np_complex64": ["TypeError", *unchanged],
        "slice_complex": ["TypeError", *unchanged],
        "slice_complex_list": ["TypeError", *unchanged],
        "write_complex": ["TypeError", *unchanged],
    }
    assert not [line for line in r.lines if "ComplexWarning" in line]


def test_dsp_readers_never_see_the_memory_of_a_released_view(run):
    """A 'bounds' message moves a viewed array aside without Pd reallocating it, so Pd
    does not refresh [tabread~]'s pointer itself; once the view is gone and its memory
    freed, [tabread~] must be reading the array's new memory, not the freed one."""
    p = patch_with_big_array_in_sub()
    keep = p.obj("pyext buffers Keep")
    index, read, snap, pr = (p.obj(x) for x in ("sig~ 5", "tabread~ big", "snapshot~",
                                                 "print SNAP"))
    p.connect(index, 0, read, 0)
    p.connect(read, 0, snap, 0)
    p.connect(snap, 0, pr, 0)
    d, t, q = p.obj("delay 50"), p.obj("t b b"), p.msg("\\; pd quit")
    p.connect(d, 0, t, 0)
    p.connect(t, 1, snap, 0)
    p.connect(t, 0, q, 0)
    p.sequence(("\\; pd dsp 1", -1, 0), ("keep big", keep, 1),
               (f"\\; big bounds 0 1 {BIG - 1} -1", -1, 0), ("poke big", keep, 1),
               ("bang", d, 0))
    r = run(p).check()
    assert f"POKED {BIG} 7.0" in r.lines
    assert r.printed("SNAP") == ["1"]
