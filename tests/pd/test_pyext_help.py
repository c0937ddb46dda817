"""The help patches of pyext_py3 open in Pd without errors, and their example scripts work."""

import pytest
from pyext_patch import QUIT, Patch

from dlwa import pd_runner

pytestmark = pytest.mark.pd

HELP = ["pyext-help.pd", "pyext~-help.pd", "py-help.pd"]


@pytest.mark.parametrize("name", HELP)
def test_help_patch_opens_cleanly(pd_external, name):
    patch = pd_runner.PATCH_DIR / name
    r = pd_runner.run_patch(patch, send=["pd quit"], timeout_s=60).check()
    problems = [l for l in r.lines if "error" in l.lower() or "couldn't create" in l]
    assert problems == [], r.output


def test_help_examples_work(run):
    p = Patch()
    counter = p.obj("pyext pyext_examples Counter 5")
    gen = p.obj("pyext pyext_examples Generate @detach 1")
    add = p.obj("py pyext_examples add")
    stats = p.obj("py pyext_examples stats")
    pr = p.obj("print EX")
    for o in (counter, gen, add, stats):
        p.connect(o, 0, pr, 0)
    p.array("ex_arr", 10)
    p.sequence(("bang", counter, 1), ("bang", counter, 1), ("2 3", add, 1), ("1 5 9 2", stats, 1),
               ("generate ex_arr 480", gen, 1), QUIT)
    r = run(p, paths=[pd_runner.PATCH_DIR]).check()  # -batch: @detach 1 runs synchronously
    assert r.printed("EX") == ["6", "7", "5", "stats 1 9 4.25", "done ex_arr"]
