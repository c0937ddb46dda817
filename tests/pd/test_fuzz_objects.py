"""Fuzzing every dlwa object in real Pd, in real time (issue #13, acceptance 2).

Thousands of random and malformed messages (known selectors with wrong counts and types,
junk selectors, bangs, lists, huge numbers, long and non-ASCII symbols, valid and missing
models and arrays) go into ``[tone]``, ``[melody_rnn]``, ``[timbre_transfer]``,
``[gansynth]``, ``[samplernn]`` and ``[rave~]`` through
a ``[qlist]``, with a ``stop`` now and then so long jobs do not pile up. Then each object
must still answer correctly. Pd must not crash or hang, no traceback may reach the
console, and every error is one line.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dlwa import pd_runner

pytestmark = pytest.mark.pd

N_MESSAGES = 1200  # per object
STOP_EVERY = 40

SELECTORS = {
    "tone": ["render", "timbre", "decay", "load", "unload", "status", "help", "stop"],
    "melody_rnn": ["load", "note", "generate", "clear", "state", "temperature", "beam",
                   "length", "tempo", "seed", "duet", "stop", "allnotesoff", "time", "respond",
                   "unload", "status", "help"],
    "timbre_transfer": ["load", "run", "normalize", "f0_octave_shift",
                        "f0_confidence_threshold", "loudness_db_shift", "in_sample_rate",
                        "out_sample_rate", "adjust", "quiet", "autotune", "tracker", "unload",
                        "status", "help", "stop"],
    "gansynth": ["load", "randomize_z", "slerp_z", "synthesize", "hallucinate", "batch",
                 "seed", "out_sample_rate", "precision", "pitches", "load_ganspace_components",
                 "synthesize_noz", "unload", "status", "help", "stop"],
    "samplernn": ["load", "generate", "seed", "unload", "status", "help", "stop"],
    "rave_stream": ["load", "reload", "method", "enable", "set", "get", "chunk", "info",
                    "latency", "unload", "status", "help", "stop"],
}
# How each object is made, and its replies outlet (rave~'s first outlet is its signal).
BOXES = {"rave_stream": ("rave~ guitar", 1)}
MODELS = ["violin", "flute", "melody_rnn_basic", "basic_rnn", "nope", "ddsp_sax", "../x",
          "/tmp", "tone", "all_instruments", "--"]
WORDS = ["a", "in", "out", "missing", "bars", "seconds", "auto", "random", "yin", "crepe-tiny",
         "x" * 300, "é", "ünïcødé", "-", "0x10", "nan", "inf", "1e999", "bang", "float",
         "list", "symbol", "@detach", "reload", "--out", "--temp", "--dur", "--seed",
         "--num_seqs", "--out_sr", "Env([1,2],[1])", "Env([1", "guitar", "encode", "decode",
         "forward", "learn_target", "true"]
NUMBERS = [0, 1, -1, 0.5, 2, 64, 65, 127, 128, 1e9, -1e9, 1e37, -1e37, 3.5e-38, 48000, 1000]
JUNK_SELECTORS = ["fly", "loadd", "run1", "é", "x" * 200, "bang", "float", "list", "symbol",
                  "_del", "_init", "__init__", "load_1", "reply", "error"]


def atom(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        value = rng.choice(NUMBERS) if rng.random() < 0.6 else rng.uniform(-300, 300)
        return f"{value:g}"
    if kind < 0.6:
        return rng.choice(MODELS)
    return rng.choice(WORDS)


def message(rng: random.Random, cls: str) -> str:
    """One random message: mostly known selectors, with 0–12 random atoms."""
    if rng.random() < 0.8:
        selector = rng.choice(SELECTORS[cls])
    else:
        selector = rng.choice(JUNK_SELECTORS)
    if selector == "float" or (selector == "list" and rng.random() < 0.5):
        selector = f"{rng.choice(NUMBERS):g}"  # a float or list message
    n = rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 8, 12])
    return " ".join([selector, *(atom(rng) for _ in range(n))])


def fuzz_score(folder: Path, seed: int = 0) -> Path:
    """A qlist score: the fuzz, one message per millisecond, ``stop`` every STOP_EVERY."""
    rng = random.Random(seed)
    lines = []
    for i in range(N_MESSAGES):
        for cls in SELECTORS:
            text = message(rng, cls)
            lines.append(f"fuzz-{cls} {text};")
        if i % STOP_EVERY == STOP_EVERY - 1:
            lines += [f"fuzz-{cls} stop;" for cls in SELECTORS]
        lines.append("1;")  # a delay of 1 ms before the next round
    lines.append("fuzz-done bang;")
    path = folder / "fuzz.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


# After the fuzz: every object must still do its job. Each step waits for its reply.
CHECKS = [
    ("tone", "stop", None),
    ("melody_rnn", "stop", None),
    ("timbre_transfer", "stop", None),
    ("tone", "render a 69 0.1", "tone: done render a 4800"),
    ("melody_rnn", "load melody_rnn_basic", "melody_rnn: loaded melody_rnn_basic"),
    ("melody_rnn", "beam 1 1 1", None),
    ("melody_rnn", "length 1 bars", None),
    ("melody_rnn", "tempo 120", None),
    ("melody_rnn", "clear", None),
    ("melody_rnn", "note 60 100", None),
    ("melody_rnn", "note 60 0", None),
    ("melody_rnn", "generate", "melody_rnn: end 2000"),
    ("timbre_transfer", "run violin in out 0 0 0 0 0 1 20 0", "timbre_transfer: transferred"),
    ("timbre_transfer", "status", "timbre_transfer: model ddsp_violin"),
    ("gansynth", "stop", None),
    ("gansynth", "out_sample_rate 0", None),
    ("gansynth", "load all_instruments", "gansynth: loaded 192000 48000"),
    ("gansynth", "batch 2", None),
    ("gansynth", "randomize_z a", "gansynth: randomized"),
    ("gansynth", "synthesize a out 60 a a 62", "gansynth: synthesized"),
    ("samplernn", "stop", None),
    ("samplernn", "load --num_seqs 2 guitar", "samplernn: loaded samplernn_guitar 16000"),
    ("samplernn", "generate --out a --temp 0.9 --out out --dur 0.1",
     "samplernn: generated out 16000 1600"),
    ("rave_stream", "stop", None),
    ("rave_stream", "load guitar", "rave_stream: loaded guitar"),
    ("rave_stream", "method forward", "rave_stream: done method forward"),
    ("rave_stream", "set learn_target 0", "rave_stream: done set learn_target 0"),
    ("rave_stream", "info", "rave_stream: methods encode decode forward"),
]


def fuzz_patch(folder: Path, score: Path) -> Path:
    lines = ["#N canvas 0 0 800 600 12;"]
    index = 0

    def add(text: str) -> int:
        nonlocal index
        lines.append(f"#X {text};")
        index += 1
        return index - 1

    connects: list[tuple[int, int, int, int]] = []
    for cls in SELECTORS:
        box, replies = BOXES.get(cls, (f"pyext. dlwa.pd {cls}", 0))
        receive = add(f"obj 10 {20 + 30 * index} r fuzz-{cls}")
        obj = add(f"obj 10 {20 + 30 * index} {box}")
        prefix = add(f"obj 10 {20 + 30 * index} list prepend {cls}:")
        trim = add(f"obj 10 {20 + 30 * index} list trim")
        connects += [(receive, 0, obj, 1), (obj, replies, prefix, 0), (prefix, 0, trim, 0)]
        printer = add(f"obj 10 {20 + 30 * index} print out")
        watch = add(f"obj 10 {20 + 30 * index} s fuzz-replies")
        connects += [(trim, 0, printer, 0), (trim, 0, watch, 0)]
    add("obj 400 20 table a 10")
    add("obj 400 50 table in 48000")
    add("obj 400 80 table out 10")
    load = add("obj 400 110 loadbang")
    setup = add(r"msg 400 140 \; in sinesum 48000 0.5 0.2 \; pd dsp 0")
    qlist = add("obj 400 170 qlist")
    read = add(f"msg 400 200 read {score} \\, bang")
    connects += [(load, 0, setup, 0), (load, 0, read, 0), (read, 0, qlist, 0)]
    # When the score has been sent (its last line), the checks run, each sent when the
    # reply to the one before has arrived (the Checker below).
    end = add("obj 600 140 r fuzz-done")
    done = add("obj 600 170 delay 2000")
    connects.append((end, 0, done, 0))
    start = add("msg 600 185 start")
    check = add("obj 600 200 pyext dlwa_fuzz_check Checker")
    connects += [(done, 0, start, 0), (start, 0, check, 1)]
    replies = add("obj 600 230 r fuzz-replies")
    connects.append((replies, 0, check, 1))
    for src, outlet, dst, inlet in connects:
        lines.append(f"#X connect {src} {outlet} {dst} {inlet};")
    path = folder / "fuzz.pd"
    path.write_text("\n".join(lines) + "\n")
    return path


CHECK_SCRIPT = '''"""After the fuzz: send each check, wait for its reply, then the next; then quit."""
import pyext

CHECKS = {checks!r}


def _atom(word):
    try:
        return float(word)
    except ValueError:
        return word


class Checker(pyext._class):
    _inlets = 1
    _outlets = 0

    def __init__(self):
        self.step, self.waiting = -1, None

    def _anything_1(self, *reply):
        text = " ".join(f"{{a:g}}" if isinstance(a, float) else str(a) for a in reply)
        if text != "start" if self.step < 0 else not text.startswith(self.waiting):
            return
        self.step += 1
        while self.step < len(CHECKS):
            cls, msg, expect = CHECKS[self.step]
            print("check: send", cls, msg)
            self.waiting = expect
            selector, *atoms = msg.split()
            self._send("fuzz-" + cls, selector, [_atom(w) for w in atoms])
            if expect is not None:
                return
            self.step += 1
        print("check: all answered")
        self._send("pd", "quit", [])
'''


def test_fuzzed_objects_survive_and_still_answer(tmp_path):
    pd_runner.build_external()
    (tmp_path / "dlwa_fuzz_check.py").write_text(CHECK_SCRIPT.format(checks=CHECKS))
    patch = fuzz_patch(tmp_path, fuzz_score(tmp_path))
    run = pd_runner.run_patch(patch, batch=False, timeout_s=180,
                              paths=[pd_runner.PATCH_DIR]).check()
    output = run.output
    assert "check: all answered" in output, output[-6000:]
    assert "Traceback" not in output, _around(output, "Traceback")
    assert "pyext: exception" not in output, _around(output, "pyext: exception")
    indented = [line for line in run.lines if line.startswith((" ", "\t"))]
    assert not indented, indented[:10]  # the continuation lines of a multi-line error
    errors = [line for line in run.lines if ": error " in line]
    assert len(errors) > N_MESSAGES  # the fuzz did reach the objects


def _around(text: str, needle: str, context: int = 3000) -> str:
    at = text.find(needle)
    return text[max(0, at - context):at + context]
