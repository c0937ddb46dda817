"""[pym] and @py 1: Python objects passed as values between [py], [pym] and [pyext].

The chains of the original's examples (methods-1, methods-2, builtins-1, the Buffer
example), an object arriving in a [pyext] inlet as itself, longer chains, the lifetime
rule (a reference outlives its source for 1 ms of logical time, is pinned while a
detached object has it queued, then expires with one line and is freed), and opaque
messages reaching objects that cannot take them.
"""

import pytest
from pyext_patch import QUIT, Patch

pytestmark = pytest.mark.pd


def printer(p: Patch, src: int, name: str, outlet: int = 0) -> int:
    pr = p.obj(f"print {name}")
    p.connect(src, outlet, pr, 0)
    return pr


def test_examples_of_the_original(run):
    p = Patch()
    p.array("buf", 10)
    # methods-1: py .str @py 1 -> pym swapcase (a str method returning a new str)
    s = p.obj("py .str @py 1")
    sw = p.obj("pym swapcase")
    p.connect(s, 0, sw, 1)
    printer(p, sw, "SWAP")
    # methods-2: pym 2 * (a symbol times a number)
    mul = p.obj("pym 2 *")
    printer(p, mul, "MUL")
    # builtins-1: py .range @py 1 -> py .sum
    rng = p.obj("py .range @py 1")
    total = p.obj("py .sum")
    p.connect(rng, 0, total, 1)
    printer(p, total, "SUM")
    # Buffer: py pyext.Buffer @py 1 -> pym 2 resize @py 1 -> py .len
    buf = p.obj("py pyext.Buffer @py 1")
    resize = p.obj("pym 2 resize @py 1")
    length = p.obj("py .len")
    p.connect(buf, 0, resize, 1)
    p.connect(resize, 0, length, 1)
    printer(p, length, "LEN")
    size = p.obj("array size buf")
    printer(p, size, "SIZE")
    p.sequence(
        ("symbol hello_World", s, 1),
        ("3", mul, 2),          # cold: the argument
        ("symbol ab", mul, 1),  # hot: the object
        ("5 12 3", rng, 1),
        ("25", resize, 2),
        ("symbol buf", buf, 1),
        ("bang", size, 0),
        QUIT,
    )
    r = run(p).check()
    assert r.printed("SWAP") == ["symbol HELLO_wORLD"]
    assert r.printed("MUL") == ["symbol ababab"]
    assert r.printed("SUM") == [str(5 + 8 + 11)]
    assert r.printed("LEN") == ["25"]
    assert r.printed("SIZE") == ["25"]
    assert "error" not in r.output


def test_object_into_pyext_inlet_is_the_object_and_chains_pass_it_on(run):
    p = Patch()
    make = p.obj("py pyobjs make @py 1")
    inc = p.obj("pym incr @py 1")
    inc5 = p.obj("pym 2 incr @py 1")
    keep = p.obj("pyext pyobjs Keeper @py 1")
    val = p.obj("pym value")
    p.connect(make, 0, inc, 1)
    p.connect(inc, 0, inc5, 1)
    p.connect(inc5, 0, keep, 1)
    p.connect(keep, 0, val, 1)
    printer(p, val, "CHAIN")
    # the same object into a [pyext] without @py: its outlet converts (an object: one line)
    keep0 = p.obj("pyext pyobjs Keeper")
    p.connect(make, 0, keep0, 1)
    printer(p, keep0, "KEEP0")
    p.sequence(("5", inc5, 2), ("1", make, 1), QUIT)
    r = run(p).check()
    assert r.printed("CHAIN") == [str(1 + 1 + 5)]
    assert r.lines.count("KEEPER Thing same=True args=1") == 2
    assert r.printed("KEEP0") == ["symbol "]  # a Thing is no Pd atom (as without @py)
    assert r.output.count("could not convert argument of type Thing") == 1


def test_receivers_without_py_and_switching_it_off(run):
    p = Patch()
    s = p.obj("py .str @py 1")
    raw = printer(p, s, "RAW")
    n = p.obj("py .len")  # @py 0: takes the object, sends atoms
    p.connect(s, 0, n, 1)
    printer(p, n, "LEN")
    attrs = printer(p, s, "ATTR", outlet=1)
    assert raw and attrs
    p.sequence(
        ("symbol abc", s, 1),
        ("getpy", s, 0),
        ("py 0", s, 0),
        ("getpy", s, 0),
        ("symbol wxyz", s, 1),
        QUIT,
    )
    r = run(p).check()
    got = r.printed("RAW")
    assert len(got) == 2
    assert got[0].startswith("PyObject str ")
    assert got[1] == "symbol wxyz"
    assert r.printed("LEN") == ["3", "4"]
    assert r.printed("ATTR") == ["py 1", "py 0"]


def test_opaque_message_into_objects_that_cannot_take_it(run):
    p = Patch()
    s = p.obj("py .str @py 1")
    plus = p.obj("+ 1")           # not a Python object
    ext = p.obj("pyext pyobjs Keeper")
    pym = p.obj("pym upper")
    p.connect(s, 0, plus, 0)
    p.connect(s, 0, ext, 0)      # the control inlet of a [pyext]
    p.connect(s, 0, pym, 0)      # the control inlet of a [pym]
    after = p.msg("still running")
    printer(p, after, "AFTER")
    p.sequence(("symbol x", s, 1), ("bang", after, 0), QUIT)
    r = run(p).check()
    errors = [line for line in r.lines if "PyObject" in line or "Python object" in line]
    tail = ": a Python object (PyObject message) into the leftmost inlet, which takes control"
    tail += " messages only: connect it to a Python inlet"
    assert errors == [
        "error: +: no method for 'PyObject'",
        "error: pyext" + tail,
        "error: pym" + tail,
    ], r.output
    assert r.printed("AFTER") == ["still running"]


def test_reference_outlives_its_source_then_expires_and_is_freed(run):
    p = Patch()
    fresh = p.obj("py pyobjs fresh @py 1")
    store = p.obj("list store")
    desc = p.obj("py pyobjs describe")
    p.connect(fresh, 0, store, 1)
    p.connect(store, 0, desc, 1)
    printer(p, desc, "DESC")
    stats = p.obj("py pyobjs stats")
    printer(p, stats, "STATS")
    d0 = p.obj("delay 0")
    d10 = p.obj("delay 10")
    d20 = p.obj("delay 20")
    quit_ = p.msg("\\; pd quit")
    for d in (d0, d10):
        p.connect(d, 0, store, 0)
    p.connect(d20, 0, stats, 0)
    p.connect(d20, 0, quit_, 0)
    p.sequence(("7", fresh, 1), ("bang", d0, 0), ("bang", d10, 0), ("bang", d20, 0))
    r = run(p).check()
    # [delay 0]: the same logical instant, long after [py] returned: still the object
    # [delay 10]: expired: one line, nothing sent; the Thing was freed, nothing is held
    assert r.printed("DESC") == ["symbol Thing:7"]
    expired = [line for line in r.lines if "has expired" in line]
    assert len(expired) == 1, r.output
    assert "Python object #" in expired[0] and "(Thing)" in expired[0]
    assert r.printed("STATS") == ["0 0"]


def test_detached_receiver_keeps_the_reference_until_its_worker_runs(run):
    # Under -batch logical time races ahead while the worker sleeps 0.3 s of wall time:
    # hundreds of windows pass; the queued reference is pinned, and so is the one the
    # worker sends back until Pd delivers it.
    p = Patch()
    fresh = p.obj("py pyobjs fresh @py 1")
    slow = p.obj("pyext pyobjs Slow @detach 1 @sync 0 @py 1")
    desc = p.obj("py pyobjs describe")
    p.connect(fresh, 0, slow, 1)
    p.connect(slow, 0, desc, 1)
    printer(p, desc, "DESC")
    quit_ = p.msg("\\; pd quit")
    p.connect(desc, 0, quit_, 0)
    p.sequence(("3", fresh, 1))
    r = run(p, timeout_s=60).check()
    assert r.printed("DESC") == ["symbol Thing:3"]
    assert "expired" not in r.output


def test_references_do_not_accumulate(run):
    # 20 bursts of 500 objects, 1 ms apart; 10 ms later every one was released
    p = Patch()
    burst = p.obj("pyext pyobjs Burst @py 1")
    sink = p.obj("py pyobjs describe")  # takes each one (the newest is valid)
    p.connect(burst, 0, sink, 1)
    metro = p.obj("metro 1")
    p.connect(metro, 0, burst, 1)
    stop = p.obj("delay 19.5")
    stop_msg = p.msg("stop")
    p.connect(stop, 0, stop_msg, 0)
    p.connect(stop_msg, 0, metro, 0)
    stats = p.obj("py pyobjs stats")
    printer(p, stats, "STATS")
    later = p.obj("delay 30")
    total = p.obj("t b b")
    p.connect(later, 0, total, 0)
    p.connect(total, 1, stats, 0)
    quit_ = p.msg("\\; pd quit")
    p.connect(total, 0, quit_, 0)
    p.sequence(("bang", metro, 0), ("bang", stop, 0), ("bang", later, 0))
    r = run(p).check()
    assert r.printed("STATS") == ["0 0"]
    assert "expired" not in r.output


def test_object_sent_to_a_bound_receiver_arrives_as_itself(run):
    p = Patch()
    p.obj("pyext pyobjs Listener")
    make = p.obj("py pyobjs.make @py 1")
    send = p.obj("s objs")
    p.connect(make, 0, send, 0)
    plain = p.msg("1 2")
    p.connect(plain, 0, send, 0)
    p.sequence(("3", make, 1), ("bang", plain, 0), QUIT)
    r = run(p).check()
    assert "BOUND Thing same=True args=1" in r.lines, r.output
    assert "BOUND int same=False args=2" in r.lines, r.output  # atoms convert as before
