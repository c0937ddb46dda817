"""Dispatch order of spec §2.3 and the Pd -> Python conversions of §2.4, in real Pd."""

import pytest
from pyext_patch import QUIT, Patch

pytestmark = pytest.mark.pd


def calls(result):
    return [line[len("CALL "):] for line in result.lines if line.startswith("CALL ")]


def test_dispatch_table_first_choice(run):
    p = Patch()
    obj = p.obj("pyext dispatch Full")
    p.sequence(
        ("bang", obj, 1),
        ("3", obj, 1),
        ("3.5", obj, 1),
        ("list 1 2 x", obj, 1),
        ("symbol abc", obj, 1),
        ("foo 1 2.5 bar", obj, 1),
        ("bar 7", obj, 1),
        ("list", obj, 1),
        ("1 2", obj, 1),
        ("5", obj, 2),
        ("bang", obj, 2),
        QUIT,
    )
    r = run(p).check()
    assert calls(r) == [
        "bang_1",
        "float_1 int:3",
        "float_1 float:3.5",
        "list_1 int:1 int:2 Symbol:<Symbol x>",
        "symbol_1 Symbol:<Symbol abc>",
        "foo_1 int:1 float:2.5 Symbol:<Symbol bar>",
        "_anything_1 Symbol:<Symbol bar> int:7",
        "list_1 ",
        "list_1 int:1 int:2",
        "_anything_ 2 int:5",
        "_anything_ 2 Symbol:<Symbol bang> Symbol:<Symbol >",
    ]


def test_dispatch_fallbacks(run):
    p = Patch()
    a = p.obj("pyext dispatch IntOnly")
    b = p.obj("pyext dispatch IntAny")
    c = p.obj("pyext dispatch Nothing")
    p.sequence(
        ("7.9", a, 1),       # step 2: int_1(trunc)
        ("bang", a, 1),      # step 4: bang_(n)
        ("hello 1 x", a, 1), # step 4: hello_(n, ...)
        ("-2.5", b, 1),      # step 5: int_(trunc) without the inlet number
        ("foo 3", b, 2),     # step 6: _anything_(n, sel, ...)
        ("zap 1", c, 1),     # step 7: nothing matches
        QUIT,
    )
    r = run(p).check()
    assert calls(r) == [
        "int_1 int:7",
        "bang_ 1",
        "hello_ 1 int:1 Symbol:<Symbol x>",
        "int_ int:-2",
        "_anything_ 2 Symbol:<Symbol foo> int:3",
    ]
    assert any("no matching method found for 'zap' into inlet 1" in l for l in r.lines)
