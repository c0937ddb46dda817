"""Driving a shipped GANSynth-family patch in real Pd through tests/pd/patches/gansynth_harness.pd.

The harness creates a probe inside the opened patch (so the probe knows that patch's
``$0``); tests send to the patch's own receives through it and mark sections of the run
with ``gst-mark <word>``.
"""

from __future__ import annotations

from pathlib import Path

from dlwa import pd_runner

PATCHES = Path(__file__).resolve().parent / "patches"
HARNESS = PATCHES / "gansynth_harness.pd"


def run_shipped(patch: str, sends: list[str], timeout_s: float = 180) -> pd_runner.PdRun:
    """Open ``pd_patches/<patch>`` with the probe in it, send ``sends`` in order, quit."""
    pd_runner.build_external()
    return pd_runner.run_patch(
        HARNESS, timeout_s=timeout_s, paths=[pd_runner.PATCH_DIR, PATCHES],
        extra_args=["-open", str(pd_runner.PATCH_DIR / patch)],
        send=[f"gst-attach symbol {patch}", *sends, "pd quit"]).check()


def sections(run: pd_runner.PdRun, printer: str = "gansynth") -> dict[str, list[str]]:
    """The object's replies (``[print <printer>]``, no progress) and the console's error
    lines after each ``gst-mark <word>``, by word; ``""``: before the first mark."""
    out: dict[str, list[str]] = {"": []}
    current = ""
    for line in run.lines:
        if line.startswith("gst-mark: "):
            current = line.removeprefix("gst-mark: ")
            out[current] = []
        elif line.startswith(f"{printer}: ") and not line.startswith(f"{printer}: progress"):
            out[current].append(line.removeprefix(f"{printer}: "))
        elif "error" in line.lower() or "traceback" in line.lower():
            out[current].append(f"console: {line}")
    return out
