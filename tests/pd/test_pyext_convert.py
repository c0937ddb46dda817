"""Python -> Pd conversions, Symbol, _send and module functions, in real Pd."""

import pytest
from pyext_patch import QUIT, Patch

pytestmark = pytest.mark.pd

CASES = [
    ("none", "bang"),
    ("int", "7"),
    ("bool", "1"),
    ("float", "2.5"),
    ("str", "symbol abc"),
    ("symbol", "symbol sym"),
    ("anything", "note 60 100"),
    ("list", "1 x 2.5"),
    ("tuple_args", "list note 60 100"),
    ("empty", "bang"),
    ("np_float32", "1.5"),
    ("np_float64", "0.25"),
    ("np_int64", "42"),
    ("np_bool", "1"),
    ("np_array", "0 1 2"),
    ("np_float_array", "0.5 -1.5"),
    ("np_0d", "6.5"),
    ("torch_scalar", "3.5"),
    ("torch_int", "9"),
    ("array_array", "4 5"),
    ("nested", "symbol "),
    ("object", "symbol "),
]


def test_python_to_pd(run):
    p = Patch()
    obj = p.obj("pyext convert Out")
    pr = p.obj("print OUT")
    p.connect(obj, 0, pr, 0)
    p.sequence(*[("get " + key, obj, 1) for key, _ in CASES], QUIT)
    r = run(p).check()
    assert r.printed("OUT") == [want for _, want in CASES]
    assert sum("could not convert argument of type" in l for l in r.lines) == 2


def test_send_and_missing_receiver(run):
    p = Patch()
    obj = p.obj("pyext convert Send")
    recv = p.obj("r recv1")
    pr = p.obj("print RECV")
    p.connect(recv, 0, pr, 0)
    p.sequence(("bang", obj, 1), QUIT)
    r = run(p).check()
    assert r.printed("RECV") == ["hello 1 2", "3", "bang"]


def test_symbol_is_a_str(run):
    p = Patch()
    obj = p.obj("pyext convert Symbols")
    p.sequence(("symbol abc", obj, 1), QUIT)
    r = run(p).check()
    assert "SYM True True True abc <Symbol abc> 1" in r.lines
    assert "SUBCLASS refused" in r.lines


def test_module_functions(run, workdir):
    p = Patch()
    obj = p.obj("pyext convert Info")
    pr = p.obj("print INFO")
    p.connect(obj, 0, pr, 0)
    p.sequence(("bang", obj, 1), QUIT)
    r = run(p, sample_rate=44100).check()
    assert r.printed("INFO") == [
        "sr 44100", "bs 64", "sync 1 1", f"dir {workdir}", "static 44100 64",
    ]


def test_bundle_tocanvas_priority(run):
    p = Patch()
    obj = p.obj("pyext convert Extras")
    pr = p.obj("print OUT")
    p.connect(obj, 0, pr, 0)
    recv = p.obj("r recv2")
    p.connect(recv, 0, pr, 0)
    # the sequence below adds 6 objects (loadbang, trigger, 4 message boxes)
    n = p.count + 6
    p.sequence(("bundle", obj, 1), (f"dyn {n}", obj, 1), ("prio", obj, 1), QUIT)
    r = run(p).check()
    assert r.printed("OUT") == ["first 1", "second 2", "third 3"]
    assert "BUNDLE bundle already sent" in r.lines
    assert r.printed("DYN") == ["5"]
    assert "PRIORITY ok" in r.lines


STRICT = {  # key: the exception the value must raise instead of being sent mangled
    "surrogate": "UnicodeEncodeError",
    "surrogate_selector": "UnicodeEncodeError",
    "surrogate_in_list": "UnicodeEncodeError",
    "surrogate_send": "UnicodeEncodeError",
    "complex": "TypeError",
    "complex_real": "TypeError",
    "np_complex64": "TypeError",
    "np_complex_array": "TypeError",
    "complex_in_list": "TypeError",
    "torch_complex": "TypeError",
    "complex_send": "TypeError",
    "symbol_int": "TypeError",
    "symbol_bytes": "TypeError",
}


def test_values_pd_cannot_hold_raise(run):
    """Lone surrogates, complex numbers and non-str symbols raise; nothing reaches Pd."""
    p = Patch()
    obj = p.obj("pyext convert Strict")
    pr = p.obj("print OUT")
    p.connect(obj, 0, pr, 0)
    recv, pr3 = p.obj("r recv3"), p.obj("print RECV")
    p.connect(recv, 0, pr3, 0)
    p.sequence(*[("bad " + key, obj, 1) for key in STRICT], QUIT)
    r = run(p).check()
    raised = {line.split()[1]: line.split()[2] for line in r.lines if line.startswith("RAISED")}
    assert raised == STRICT, [line for line in r.lines if line.startswith(("RAISED", "SENT"))]
    assert r.printed("OUT") == [] and r.printed("RECV") == []
    assert not [line for line in r.lines if "ComplexWarning" in line]
    messages = [line for line in r.lines if line.startswith("RAISED")]
    assert any("surrogates not allowed" in m for m in messages)
    assert any("complex value (complex) cannot be sent to Pd" in m for m in messages)
    assert "RAISED symbol_int TypeError Symbol() takes a str or Symbol, not int" in r.lines
