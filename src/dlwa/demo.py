"""Play shipped patches headless and record them; open patches in Pd's GUI.

Recording works through the ``[dlwa-recorder~]`` abstraction that each demo patch feeds
with its output: on ``dlwa-render <wav path> <seconds>`` it records that many logical
seconds with ``[writesf~ 2]`` and then quits Pd. In ``pd -batch`` that takes a fraction of
the wall-clock time, and model objects run synchronously there, so a render is the same
every time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlwa import pd_runner


@dataclass(frozen=True)
class Demo:
    """A shipped patch, what to send it at start-up, and how long to record."""

    name: str
    patch: str
    seconds: float
    send: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Rendered:
    """A finished render: the wav file and Pd's console output."""

    wav: Path
    run: pd_runner.PdRun


DEMOS: tuple[Demo, ...] = (
    Demo("bridge_demo", "bridge_demo.pd", 2.55,
         description="[tone] renders a four-note melody into arrays, the patch plays it"),
    Demo("ai_duet", "ai_duet.pd", 5.5, send=("ai_duet-demo bang",),
         description="a seven-note phrase; attention_rnn answers it after 600 ms of silence"),
    Demo("timbre_transfer", "timbre_transfer.pd", 5.2, send=("timbre_transfer-demo bang",),
         description="DDSP: a trumpet melody transferred to the violin model, then played"),
)


def render_patch(
    patch: Path, *, out: Path, seconds: float, send: Sequence[str] = (), timeout_s: float = 300.0
) -> Rendered:
    """Open ``patch`` in Pd batch mode, record ``seconds`` of its output to ``out``.

    Args:
        patch: A ``.pd`` file containing a ``[dlwa-recorder~]``.
        out: The wav file to write (32-bit float, stereo, Pd's sample rate).
        seconds: Logical seconds to record, > 0.
        send: Messages sent to Pd after the patch opened, e.g. ``"tone-in render a 60 1"``.
        timeout_s: Wall-clock limit for the whole run.

    Returns:
        The wav file written and Pd's console output.

    Raises:
        FileNotFoundError: the patch does not exist.
        ValueError: a bad duration, or a path Pd cannot take as one symbol.
        RuntimeError: Pd failed, timed out, or wrote no audio (its console is included).
    """
    patch = Path(patch).resolve()
    out = Path(out).resolve()
    if not patch.is_file():
        raise FileNotFoundError(f"no such patch: {patch}")
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    if any(c in str(out) for c in " ;,$\\"):
        raise ValueError(f"Pd cannot take the output path {out!s} as one symbol; "
                         "choose one without spaces, ';', ',', '$' or '\\'")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    pd_runner.build_external()
    run = pd_runner.run_patch(
        patch, timeout_s=timeout_s, batch=True, paths=[pd_runner.PATCH_DIR],
        send=["pd dsp 1", *send, f"dlwa-render {out} {seconds:g}"],
    )
    run.check()
    if not out.is_file() or out.stat().st_size <= 44:
        raise RuntimeError(f"Pd wrote no audio to {out}; is there a [dlwa-recorder~] in "
                           f"{patch.name}?\n" + run.output[-3000:])
    return Rendered(out, run)


def run_demo(out_dir: Path, demos: Sequence[Demo] = DEMOS) -> list[Path]:
    """Render every demo patch into ``out_dir`` and say where each wav file is."""
    written = []
    for demo in demos:
        print(f"rendering {demo.name}: {demo.description or demo.patch} ...", flush=True)
        wav = render_patch(pd_runner.PATCH_DIR / demo.patch, out=Path(out_dir) / f"{demo.name}.wav",
                           seconds=demo.seconds, send=demo.send).wav
        print(f"  wrote {wav}")
        written.append(wav)
    if not written:
        print("no demo patches registered yet")
    return written


def open_in_pd(patch: Path | None = None) -> int:
    """Start Pd with its GUI, the ``py`` library loaded and the patch folder on the path.

    Nothing in Pd's preferences needs editing: the flags are given on the command line.
    Returns Pd's exit status.
    """
    lib = pd_runner.build_external()
    cmd = [pd_runner.find_pd(), "-path", str(lib.parent), "-path", str(pd_runner.PATCH_DIR),
           "-lib", lib.stem]
    if patch is not None:
        if not Path(patch).is_file():
            raise FileNotFoundError(f"no such patch: {patch}")
        cmd += ["-open", str(Path(patch).resolve())]
    env = dict(os.environ, PYEXT_PYTHON=sys.executable)
    print(" ".join(cmd))
    return subprocess.call(cmd, env=env)
