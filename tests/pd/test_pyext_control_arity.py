"""Extra arguments to a control message are one clear line, not silently ignored
(issue #13, item 7): the message is refused and the object keeps its settings."""

from __future__ import annotations

import pytest

from dlwa import pd_runner

pytestmark = pytest.mark.pd

PATCH = r"""#N canvas 0 0 600 400 12;
#X obj 10 10 r c-ctl;
#X obj 10 40 pyext. dlwa.pd tone;
#X obj 10 70 print attr;
#X obj 200 10 loadbang;
#X msg 200 40 \; c-ctl stop 1 2 3 \; c-ctl dir x \; c-ctl help x \; c-ctl detach 2 2 \; c-ctl getdetach z \; c-ctl respond 1 9 \; c-ctl sync \; c-ctl getdetach \; c-ctl load guitar \; pd quit;
#X connect 0 0 1 0;
#X connect 1 1 2 0;
#X connect 3 0 4 0;
"""


def test_control_messages_with_wrong_argument_counts_are_refused(tmp_path):
    pd_runner.build_external()
    patch = tmp_path / "arity.pd"
    patch.write_text(PATCH)
    run = pd_runner.run_patch(patch, paths=[pd_runner.PATCH_DIR]).check()
    usage = [line for line in run.lines if ": usage: " in line]
    assert usage == [
        "error: pyext: tone: usage: stop [ms] (got 3 arguments)",
        "error: pyext: tone: usage: dir (got 1 argument)",
        "error: pyext: tone: usage: help (got 1 argument)",
        "error: pyext: tone: usage: detach 0|1|2 (got 2 arguments)",
        "error: pyext: tone: usage: getdetach (got 1 argument)",
        "error: pyext: tone: usage: respond 0|1 (got 2 arguments)",
        "error: pyext: tone: usage: sync 0|1 (got 0 arguments)",
    ], run.output
    assert run.printed("attr") == ["detach 1"], run.output  # "detach 2 2" changed nothing


def test_a_python_message_sent_to_the_control_inlet_says_where_it_belongs(tmp_path):
    """'load guitar' into the leftmost inlet (a patching slip) says that Python inlets
    start at 1; it used to answer "pyext: load needs a number" and swallow the message."""
    pd_runner.build_external()
    patch = tmp_path / "arity.pd"
    patch.write_text(PATCH)
    run = pd_runner.run_patch(patch, paths=[pd_runner.PATCH_DIR]).check()
    assert "needs a number" not in run.output, run.output
    assert ("error: pyext: no method for 'load' in the leftmost inlet (Python inlets start "
            "at 1)") in run.lines, run.output
