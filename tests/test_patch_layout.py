"""Layout check of every shipped patch: nothing overlaps, no global names, everything creates.

Each box's extent is estimated from Pd 0.53's font metrics (``sys_fontspec`` in
``s_main.c``: at font size 12 a character is 7 px wide and a line 16 px high), with
Pd's text wrapping (60 characters, or the ``, f N`` width saved after a box) and the
sizes and label positions of the IEM GUIs. A patch passes when

- no two boxes, comments or GUI labels of one canvas overlap;
- the top-level canvas fits a 1280 x 800 screen;
- send and receive names are local (``$0-...``), except the render hook of
  ``[dlwa-recorder~]`` and the names listed in ALLOWED_GLOBAL_NAMES;
- every IEM GUI label is one word (Pd drops a label with spaces);
- every model patch has a "select model folder" button (``[openpanel 1]``);
- opened in Pd batch mode, it prints no "couldn't create" and no error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dlwa import pd_runner

PATCHES = sorted(pd_runner.PATCH_DIR.glob("*.pd"))
# The two front panels still wait for their redesign (numbered steps, [pd internals]):
# their layout checks are expected to fail until then, and must pass afterwards.
REDESIGN_PENDING: tuple[str, ...] = ()


def _pending(paths: list[Path], pending: tuple[str, ...] = REDESIGN_PENDING) -> list:
    reason = "front panel redesign pending (issue #15)"
    return [pytest.param(p, id=p.name, marks=pytest.mark.xfail(reason=reason, strict=True))
            if p.name in pending else pytest.param(p, id=p.name) for p in paths]
MODEL_PATCHES = ("ai_duet.pd", "rave.pd", "timbre_transfer.pd", "ddsp_live.pd", "gansynth.pd", "gansynth_multi.pd",
                 "gansynth_hallucination.pd", "ganspacesynth.pd", "ganspacesynth_noz.pd",
                 "ganspacesynth_halluseq.pd", "samplernn.pd")
SCREEN_W, SCREEN_H = 1280, 800

# Pd 0.53's sys_fontspec: font size -> (character width, line height) in pixels.
FONT_METRICS = {8: (5, 11), 10: (6, 13), 12: (7, 16), 16: (10, 19), 24: (14, 29), 36: (22, 44)}
WRAP_CHARS = 60

# Global names a patch may use, with why.
ALLOWED_GLOBAL_NAMES = {
    "pd": "Pd itself (pd dsp 1, pd quit)",
    "dlwa-render": "the render hook of [dlwa-recorder~], sent by dlwa render",
    "timbre_transfer-demo": "kept for tests/ddsp/test_pd_integration.py, which sends it",
    "ai_duet-demo": "the demo trigger sent by dlwa demo (DEMOS) and tests/pd/test_ai_duet.py",
    "ddsp_live-demo": "the demo trigger of ddsp_live.pd, sent by dlwa demo (DEMOS)",
    "rave-demo": "the demo trigger of rave.pd, sent by dlwa demo (DEMOS) and "
                 "tests/pd/test_rave_pd.py",
    "gansynth-demo": "the demo trigger of gansynth.pd, sent by dlwa demo (DEMOS) and "
                     "tests/pd/test_gansynth_patches.py",
}

# IEM GUIs: argument count, (send, receive, label, ldx, ldy, font size) argument indexes.
IEM_ARGS = {
    "bng": (14, (4, 5, 6, 7, 8, 10)),
    "tgl": (14, (2, 3, 4, 5, 6, 8)),
    "nbx": (18, (6, 7, 8, 9, 10, 12)),
    "hsl": (17, (6, 7, 8, 9, 10, 12)),
    "vsl": (17, (6, 7, 8, 9, 10, 12)),
    "hradio": (15, (4, 5, 6, 7, 8, 10)),
    "vradio": (15, (4, 5, 6, 7, 8, 10)),
    "cnv": (13, (3, 4, 5, 6, 7, 9)),
}
SEND_RECEIVE_OBJECTS = {"s", "send", "r", "receive", "s~", "send~", "r~", "receive~",
                        "throw~", "catch~", "v", "value"}


@dataclass
class Box:
    """One thing drawn on a canvas, with its pixel extent."""

    index: int
    kind: str
    text: str
    x: float
    y: float
    w: float
    h: float
    owner: int | None = None  # a label belongs to its GUI
    record: int = -1  # which record of the file drew it

    def overlaps(self, other: Box) -> bool:
        return (self.x < other.x + other.w and other.x < self.x + self.w
                and self.y < other.y + other.h and other.y < self.y + self.h)

    def describe(self) -> str:
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"{self.kind} #{self.index} at ({self.x:g}, {self.y:g}) [{text}]"


@dataclass
class Canvas:
    """A canvas (the patch or a subpatch) and what is drawn on it."""

    name: str
    header: list[str]
    boxes: list[Box] = field(default_factory=list)
    count: int = 0  # object index, as #X connect counts


@dataclass
class Problems:
    overlaps: list[str] = field(default_factory=list)
    global_names: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def split_records(text: str) -> list[list[str]]:
    """The records of a .pd file as token lists (``\\;`` and ``\\,`` stay tokens)."""
    records = re.split(r"(?<!\\);\s*(?:\n|$)", text)
    return [re.split(r"(?<!\\)\s+", rec.strip()) for rec in records if rec.strip()]


def wrap(tokens: list[str], width: int) -> list[str]:
    """Pd's word wrapping of a box's text at ``width`` characters; ``;`` ends a line."""
    lines: list[str] = []
    line = ""
    for token in tokens:
        word = token.replace("\\", "")
        while len(word) > width:  # Pd breaks words longer than the box
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = f"{line} {word}" if line else word
        if len(candidate) > width and line:
            lines.append(line)
            line = word
        else:
            line = candidate
        if token == "\\;":
            lines.append(line)
            line = ""
    if line or not lines:
        lines.append(line)
    return lines


def text_box(tokens: list[str], width_chars: int | None, font: int, *, border: bool) -> tuple[
        float, float]:
    cw, lh = FONT_METRICS[font]
    lines = wrap(tokens, width_chars or WRAP_CHARS)
    cols = width_chars or max(max(len(line) for line in lines), 3 if border else 1)
    pad = 5 if border else 2
    return cols * cw + pad, len(lines) * lh + pad


def take_width(tokens: list[str]) -> tuple[list[str], int | None]:
    """Split a record's ``, f N`` width off its tokens."""
    if len(tokens) >= 3 and tokens[-2] == "f" and tokens[-3].endswith(",") \
            and not tokens[-3].endswith("\\,"):
        head = tokens[-3][:-1]
        return [*tokens[:-3], *([head] if head else [])], int(tokens[-1])
    return tokens, None


def is_global(name: str) -> bool:
    return name not in ("empty", "-", "") and not name.startswith("\\$0") \
        and not name.startswith("$0") and name not in ALLOWED_GLOBAL_NAMES


def parse(path: Path) -> tuple[list[Canvas], Problems, int, int]:
    """Every canvas of ``path`` with its boxes, the problems found on the way, window size."""
    records = split_records(path.read_text())
    head = records[0]
    font = int(head[-1]) if head[:2] == ["#N", "canvas"] else 12
    window = (int(head[4]), int(head[5]))
    cw, _ = FONT_METRICS[font]
    problems = Problems()
    stack: list[Canvas] = []
    done: list[Canvas] = []
    pending_size: list[tuple[float, float] | None] = []
    for number, rec in enumerate(records):
        tag = rec[:2]
        if tag == ["#N", "canvas"]:
            stack.append(Canvas(" ".join(rec[6:-1]) or path.name, rec))
            pending_size.append(None)
            continue
        if not stack or rec[0] != "#X":
            continue
        canvas = stack[-1]
        kind = rec[1]
        where = f"{path.name} [{canvas.name}]"
        if kind == "coords" and len(rec) >= 9 and rec[8] != "0":
            pending_size[-1] = (float(rec[6]), float(rec[7]))
            continue
        if kind == "restore":
            sub = stack.pop()
            size = pending_size.pop()
            done.append(sub)
            canvas = stack[-1]
            x, y = float(rec[2]), float(rec[3])
            if size is None:
                w, h = text_box(rec[4:], None, font, border=True)
            else:
                w, h = size
            canvas.boxes.append(Box(canvas.count, "subpatch", " ".join(rec[4:]), x, y, w, h,
                                    record=number))
            canvas.count += 1
            continue
        if kind not in ("obj", "msg", "text", "floatatom", "symbolatom", "listbox"):
            continue
        tokens, width = take_width(rec[4:])
        x, y = float(rec[2]), float(rec[3])
        index = canvas.count
        canvas.count += 1
        if kind in ("floatatom", "symbolatom", "listbox"):
            chars = int(tokens[0]) or (5 if kind == "floatatom" else 10)
            canvas.boxes.append(Box(index, kind, " ".join(tokens), x, y, chars * cw + 4,
                                    FONT_METRICS[font][1] + 5, record=number))
            label, where_label, names = tokens[4], int(tokens[3]), tokens[5:7]
            for name in names:
                if is_global(name):
                    problems.global_names.append(f"{where}: {kind} #{index} uses '{name}'")
            if label not in ("-", "empty"):
                lw = len(label) * cw + 2
                lx, ly = {0: (x - lw - 2, y), 1: (x + chars * cw + 6, y),
                          2: (x, y - FONT_METRICS[font][1] - 2),
                          3: (x, y + FONT_METRICS[font][1] + 6)}.get(where_label, (x, y))
                canvas.boxes.append(Box(index, "label", label, lx, ly, lw,
                                        FONT_METRICS[font][1], owner=index))
            continue
        name = tokens[0] if tokens else ""
        if kind == "obj" and name in IEM_ARGS:
            count, (send, receive, label, ldx, ldy, fsize) = IEM_ARGS[name]
            args = tokens[1:]
            if len(args) != count:
                problems.labels.append(f"{where}: {name} #{index} has {len(args)} arguments, "
                                       f"not {count}: a label with spaces? {' '.join(args)}")
                canvas.boxes.append(Box(index, name, " ".join(tokens), x, y, 15, 15))
                continue
            w, h = iem_size(name, args, cw)
            if name != "cnv":  # a canvas is a background: things sit on it
                canvas.boxes.append(Box(index, name, " ".join(tokens), x, y, w, h, record=number))
            for n in (args[send], args[receive]):
                if is_global(n):
                    problems.global_names.append(f"{where}: {name} #{index} uses '{n}'")
            if args[label] not in ("empty", "-"):
                fs_px = int(args[fsize])
                lcw = max(round(fs_px * 7 / 12), 1)
                ly = y + float(args[ldy]) - fs_px / 2
                canvas.boxes.append(Box(index, "label", args[label], x + float(args[ldx]), ly,
                                        len(args[label].replace("\\", "")) * lcw, fs_px + 2,
                                        owner=index))
            continue
        w, h = text_box(tokens, width, font, border=kind != "text")
        canvas.boxes.append(Box(index, kind, " ".join(tokens), x, y, w, h, record=number))
        if kind == "obj" and name in SEND_RECEIVE_OBJECTS and len(tokens) > 1 \
                and is_global(tokens[1]):
            problems.global_names.append(f"{where}: [{' '.join(tokens)}] is global")
        if kind == "msg":
            for i, token in enumerate(tokens[:-1]):
                if token == "\\;" and is_global(tokens[i + 1]):
                    problems.global_names.append(
                        f"{where}: message #{index} sends to '{tokens[i + 1]}'")
    done.extend(stack)
    for canvas in done:
        boxes = canvas.boxes
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                if a.owner is not None and a.owner == b.index or \
                        b.owner is not None and b.owner == a.index:
                    continue
                if a.overlaps(b):
                    problems.overlaps.append(
                        f"{path.name} [{canvas.name}]: {a.describe()} overlaps {b.describe()}")
    top = done[-1]
    for box in top.boxes:
        if box.x < 0 or box.y < 0 or box.x + box.w > window[0] or box.y + box.h > window[1]:
            problems.outside.append(f"{path.name}: {box.describe()} lies outside the "
                                    f"{window[0]} x {window[1]} window")
    return done, problems, *window


def iem_size(name: str, args: list[str], cw: int) -> tuple[float, float]:
    if name in ("bng", "tgl"):
        return float(args[0]), float(args[0])
    if name == "nbx":
        height = float(args[1])
        return int(args[0]) * cw + height / 2 + 4, height
    if name in ("hsl", "vsl"):
        return float(args[0]), float(args[1])
    if name == "hradio":
        return float(args[0]) * int(args[3]), float(args[0])
    if name == "vradio":
        return float(args[0]), float(args[0]) * int(args[3])
    return float(args[1]), float(args[2])  # cnv


@pytest.mark.parametrize("path", _pending(PATCHES))
def test_patch_layout(path: Path) -> None:
    _, problems, w, h = parse(path)
    assert problems.overlaps == [], "\n".join(problems.overlaps)
    assert problems.labels == [], "\n".join(problems.labels)
    assert problems.outside == [], "\n".join(problems.outside)
    assert w <= SCREEN_W and h <= SCREEN_H, f"{path.name}: window {w} x {h}"


@pytest.mark.parametrize("path", _pending(PATCHES))
def test_no_global_send_or_receive_names(path: Path) -> None:
    _, problems, _, _ = parse(path)
    if path.name == "dlwa-recorder~.pd":  # the render hook itself
        problems.global_names = [p for p in problems.global_names if "dlwa-rec" not in p]
    assert problems.global_names == [], "\n".join(problems.global_names)


@pytest.mark.parametrize("name", [pytest.param(
    n, marks=pytest.mark.xfail(reason="front panel redesign pending (issue #15)", strict=True))
    if n in REDESIGN_PENDING else n for n in MODEL_PATCHES])
def test_model_patches_have_a_select_model_folder_button(name: str) -> None:
    text = (pd_runner.PATCH_DIR / name).read_text()
    assert "openpanel 1" in text and "select model folder" in text


OVERLAPPING = """#N canvas 0 0 600 400 12;
#X obj 20 20 osc~ 440;
#X obj 20 60 *~ 0.1;
#X text 20 100 a comment that stays clear of the boxes;
#X obj 50 65 dac~;
#X connect 0 0 1 0;
"""


def test_check_finds_one_deliberately_overlapping_box(tmp_path: Path) -> None:
    path = tmp_path / "overlap.pd"
    path.write_text(OVERLAPPING)
    _, problems, _, _ = parse(path)
    assert len(problems.overlaps) == 1
    assert "[*~ 0.1]" in problems.overlaps[0] and "[dac~]" in problems.overlaps[0]
    path.write_text(OVERLAPPING.replace("#X obj 50 65 dac~;", "#X obj 20 140 dac~;"))
    assert parse(path)[1].overlaps == []


def test_check_finds_wrapped_comments_global_names_and_spaced_labels(tmp_path: Path) -> None:
    path = tmp_path / "bad.pd"
    path.write_text("#N canvas 0 0 600 400 12;\n"
                    "#X text 20 20 " + "word " * 30 + ";\n"  # 150 chars: three lines
                    "#X obj 20 50 r global-name;\n"
                    "#X obj 300 300 bng 19 250 50 0 empty empty record 5 s 24 10 0 12 "
                    "#fcfcfc #000000 #000000;\n")
    _, problems, _, _ = parse(path)
    assert len(problems.overlaps) == 1 and "r global-name" in problems.overlaps[0]
    assert problems.global_names == [f"{path.name} [{path.name}]: [r global-name] is global"]
    assert len(problems.labels) == 1


@pytest.mark.pd
@pytest.mark.parametrize("path", PATCHES, ids=lambda p: p.name)
def test_patch_opens_without_errors_in_batch_mode(path: Path, pd_external: Path) -> None:
    run = pd_runner.run_patch(path, timeout_s=120, send=["pd quit"],
                              paths=[pd_runner.PATCH_DIR]).check()
    bad = [line for line in run.lines if "couldn't create" in line or "error" in line]
    assert bad == [], run.output
