"""[py]: calling module functions, builtins and pyext functions."""

import pytest
from pyext_patch import QUIT, Patch

pytestmark = pytest.mark.pd


def test_py_calls(run):
    p = Patch()
    boxes = {
        "add": "py pyfuncs add",
        "dotted": "py pyfuncs.greet",
        "len": "py .len",
        "sr": "py ._samplerate",
        "bysel": "py pyfuncs",
        "two": "py 2 pyfuncs pair",
        "none": "py pyfuncs nothing",
    }
    ids = {k: p.obj(v) for k, v in boxes.items()}
    pr = p.obj("print PY")
    for i in ids.values():
        p.connect(i, 0, pr, 0)
    p.sequence(
        ("2 3", ids["add"], 1),
        ("4", ids["add"], 1),
        ("x y", ids["dotted"], 1),
        ("foo 1", ids["dotted"], 1),
        ("symbol abc", ids["len"], 1),
        ("bang", ids["sr"], 0),
        ("add 5 6", ids["bysel"], 1),
        ("7", ids["two"], 2),      # cold
        ("8", ids["two"], 1),      # hot: pair(8, 7)
        ("bang", ids["none"], 0),  # None -> bang
        ("set pyfuncs greet", ids["add"], 0),
        ("bang", ids["add"], 0),
        QUIT,
    )
    r = run(p).check()
    assert r.printed("PY") == [
        "5", "4", "list hello x y", "list hello foo 1", "3", "48000", "11", "8 7", "bang",
        "symbol hello",
    ]
