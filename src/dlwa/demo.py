"""Play shipped patches headless and record them; open patches in Pd's GUI.

Recording works through the ``[dlwa-recorder~]`` abstraction that each demo patch feeds
with its output: on ``dlwa-render <wav path> <seconds>`` it records that many logical
seconds into arrays, writes them to the wav file and quits Pd. In ``pd -batch`` that takes a fraction
of the wall-clock time, and model objects run synchronously there, so a render is the
same every time.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
    """A finished render: the wav file, Pd's console output and what went wrong.

    Attributes:
        wav: The wav file written.
        run: Pd's run (console lines, exit status).
        errors: Console lines that report an error (see ``console_errors``).
        peak: The largest absolute sample in the recording; 0 means pure silence.
    """

    wav: Path
    run: pd_runner.PdRun
    errors: list[str] = field(default_factory=list)
    peak: float = 0.0

    @property
    def silent(self) -> bool:
        """True when the recording never rises above -100 dBFS."""
        return self.peak < SILENCE_PEAK


SILENCE_PEAK = 1e-5
"""Recordings whose peak stays below this (-100 dBFS) count as silent."""

_ERROR_LINE = re.compile(r"^(?:[^\s:]+: )?error\b|couldn't create|\.\.\. couldn't|no such object")


def console_errors(lines: Sequence[str]) -> list[str]:
    """The lines of a Pd console that report an error.

    Pd's own errors (``error: ...``, ``... couldn't create``) and error replies of dlwa
    objects printed by a ``[print <name>]`` (``<name>: error <text>``), as the shipped
    patches do.
    """
    return [line for line in lines if _ERROR_LINE.search(line)]


DEMOS: tuple[Demo, ...] = (
    Demo("bridge_demo", "bridge_demo.pd", 2.55,
         description="[tone] renders a four-note melody into arrays, the patch plays it"),
    Demo("ai_duet", "ai_duet.pd", 5.5, send=("ai_duet-demo bang",),
         description="a seven-note phrase; attention_rnn answers it after 600 ms of silence"),
    Demo("timbre_transfer", "timbre_transfer.pd", 5.2, send=("timbre_transfer-demo bang",),
         description="DDSP: a trumpet melody transferred to the violin model, then played"),
    Demo("ddsp_live", "ddsp_live.pd", 5.2, send=("ddsp_live-demo bang",),
         description="live DDSP: the trumpet melody played through [ddsp~ violin] as it streams"),
    Demo("rave", "rave.pd", 5.2, send=("rave-demo bang",),
         description="RAVE: the guitar example streamed through [rave~ guitar], played "
         "beside the dry signal"),
    Demo("gansynth", "gansynth.pd", 4.2, send=("gansynth-demo bang",),
         description="GANSynth: a random instrument (seed 7) synthesizes middle C, then plays it"),
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
        The wav file written, Pd's console output, the console's error lines and the
        recording's peak. Errors the patch reported and silence do not raise: the caller
        decides (``dlwa render`` exits non-zero on errors and warns on silence).

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
    return Rendered(out, run, errors=console_errors(run.lines), peak=_peak(out))


def _peak(wav: Path) -> float:
    import soundfile as sf

    audio, _ = sf.read(wav, dtype="float32", always_2d=True)
    return float(np.max(np.abs(audio))) if audio.size else 0.0


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


_GUI_FAILURE = re.compile(r"couldn't connect to display|no display name|"
                          r"application-specific initialization failed|cannot connect to X")


def display_problem(env: dict[str, str] | None = None) -> str | None:
    """Why Pd's GUI cannot open a window here, or None when a display seems reachable.

    Checks that DISPLAY or WAYLAND_DISPLAY is set and, for an X display, that its
    server accepts a connection (Unix socket ``/tmp/.X11-unix/X<n>`` or TCP ``6000+n``).
    """
    env = dict(os.environ if env is None else env)
    display = env.get("DISPLAY", "").strip()
    if not display:
        if env.get("WAYLAND_DISPLAY", "").strip():
            return None
        return "no display: DISPLAY and WAYLAND_DISPLAY are unset"
    match = re.fullmatch(r"(?:unix)?([^:]*):(\d+)(?:\.\d+)?", display)
    if match is None:
        return f"DISPLAY={display!r} is not a display name such as ':0'"
    host, number = match.group(1), int(match.group(2))
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(f"/tmp/.X11-unix/X{number}")
        else:
            socket.create_connection((host, 6000 + number), timeout=2).close()
    except OSError as exc:
        return f"cannot connect to the X display {display} ({exc.strerror or exc})"
    return None


def open_in_pd(patch: Path | None = None) -> int:
    """Start Pd with its GUI, the ``py`` library loaded and the patch folder on the path.

    Nothing in Pd's preferences needs editing: the flags are given on the command line.
    Returns Pd's exit status.

    Raises:
        FileNotFoundError: the patch does not exist.
        RuntimeError: there is no display, or Pd's GUI could not start on it (one line,
            at once, instead of Tk's message and a Pd waiting for its GUI forever).
    """
    if patch is not None and not Path(patch).is_file():
        raise FileNotFoundError(f"no such patch: {patch}")
    problem = display_problem()
    if problem is not None:
        raise RuntimeError(f"{problem}; Pd's GUI needs one (use 'dlwa render' to play a patch "
                           "headless)")
    lib = pd_runner.build_external()
    cmd = [pd_runner.find_pd(), "-path", str(lib.parent), "-path", str(pd_runner.PATCH_DIR),
           "-lib", lib.stem]
    if patch is not None:
        cmd += ["-open", str(Path(patch).resolve())]
    env = dict(os.environ, PYEXT_PYTHON=sys.executable)
    print(" ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, errors="replace", start_new_session=True)
    gui_failed: list[str] = []

    def forward_console() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if _GUI_FAILURE.search(line):
                gui_failed.append(line.strip())
                os.killpg(proc.pid, 9)  # Pd would wait for its GUI forever
                return
            sys.stderr.write(line)

    reader = threading.Thread(target=forward_console, daemon=True)
    reader.start()
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        os.killpg(proc.pid, 15)
        raise
    reader.join(timeout=1)
    if gui_failed:
        raise RuntimeError(f"Pd's GUI could not start: {gui_failed[0]}")
    return code
