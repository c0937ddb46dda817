"""Run Pure Data headless with the pyext_py3 external: for tests, renders and the demo.

This module only starts processes; it imports nothing from Pd or the models. It knows
where the project keeps the external (``pyext_py3/build/py.pd_linux``), how to build it,
and the command-line flags that make Pd 0.53 behave in a test: no GUI, no preferences,
no audio or MIDI devices, console on stderr, no real-time priority (as root Pd would
otherwise spawn ``pd-watchdog``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXTERNAL_DIR = PROJECT_ROOT / "pyext_py3"
EXTERNAL_BUILD_DIR = EXTERNAL_DIR / "build"
EXTERNAL_LIB = EXTERNAL_BUILD_DIR / "py.pd_linux"
PATCH_DIR = PROJECT_ROOT / "pd_patches"

HEADLESS_FLAGS = ("-nogui", "-noprefs", "-nosound", "-nomidi", "-stderr", "-nrt")


class PdError(RuntimeError):
    """Pd is missing, the external does not build, or a run failed."""


def find_pd() -> str:
    """Return the path of the ``pd`` binary, or raise PdError saying how to install it."""
    pd = shutil.which("pd") or shutil.which("puredata")
    if pd is None:
        raise PdError("Pure Data not found: run scripts/setup.sh (installs Debian's puredata-core)")
    return pd


def build_external(*, python: str | None = None, quiet: bool = True) -> Path:
    """Build ``pyext_py3`` with make (a no-op when up to date) and return the library path.

    Args:
        python: The interpreter to embed; defaults to the one running this code, so the
            external sees the same virtual environment and packages.
        quiet: Capture make's output and show it only on failure.

    Raises:
        PdError: make failed; the message carries the end of its output.
    """
    cmd = ["make", "-C", str(EXTERNAL_DIR), f"PYTHON={python or sys.executable}"]
    proc = subprocess.run(cmd, check=False, capture_output=quiet, text=True)
    if proc.returncode != 0:
        tail = ((proc.stdout or "") + (proc.stderr or ""))[-3000:]
        raise PdError(f"building pyext_py3 failed ({' '.join(cmd)}):\n{tail}")
    if not EXTERNAL_LIB.exists():
        raise PdError(f"make succeeded but {EXTERNAL_LIB} is missing")
    return EXTERNAL_LIB


@dataclass
class PdRun:
    """What one headless Pd run left behind."""

    returncode: int
    lines: list[str]
    elapsed_s: float
    timed_out: bool = False
    command: list[str] = field(default_factory=list)

    def printed(self, prefix: str) -> list[str]:
        """Lines ``[print prefix]`` wrote, with ``"prefix: "`` removed.

        A bare ``[print prefix]`` receiving ``bang`` prints ``prefix: bang``; one printing
        a list prints its atoms separated by spaces.
        """
        head = prefix + ":"
        out = []
        for line in self.lines:
            if line == head:
                out.append("")
            elif line.startswith(head + " "):
                out.append(line[len(head) + 1 :])
        return out

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def check(self) -> PdRun:
        """Raise PdError with the console output unless Pd exited 0 in time."""
        if self.timed_out or self.returncode != 0:
            why = "timed out" if self.timed_out else f"exited with {self.returncode}"
            raise PdError(f"pd {why}: {' '.join(self.command)}\n{self.output[-4000:]}")
        return self


class Patch:
    """A Pd patch built object by object, for tests and benchmarks.

    ``obj``/``msg`` return the object's index for ``connect(src, outlet, dst, inlet)``.
    Message text is written as in a .pd file, so a semicolon is ``\\;``.
    """

    def __init__(self) -> None:
        self.lines: list[str] = ["#N canvas 0 0 900 700 12;"]
        self.count = 0

    def _add(self, kind: str, text: str) -> int:
        y = 20 + 25 * self.count
        self.lines.append(f"#X {kind} 10 {y} {text};".replace(" ;", ";"))
        self.count += 1
        return self.count - 1

    def obj(self, text: str) -> int:
        """Add an object box; returns its index."""
        return self._add("obj", text)

    def msg(self, text: str) -> int:
        """Add a message box; returns its index."""
        return self._add("msg", text)

    def array(self, name: str, size: int) -> None:
        """Add a table (a graph with one array) of ``size`` zeros."""
        self.lines.append("#N canvas 0 0 450 300 (subpatch) 0;")
        self.lines.append(f"#X array {name} {size} float 0;")
        self.lines.append(f"#X coords 0 1 {size} -1 200 140 1;")
        self.lines.append(f"#X restore 500 {20 + 25 * self.count} graph;")
        self.count += 1

    def connect(self, src: int, outlet: int, dst: int, inlet: int) -> None:
        """Connect ``src``'s outlet to ``dst``'s inlet."""
        self.lines.append(f"#X connect {src} {outlet} {dst} {inlet};")

    def on_load(self, *targets: tuple[int, int]) -> None:
        """Bang each ``(object, inlet)`` at load time, in the given order."""
        load = self.obj("loadbang")
        trigger = self.obj("t " + " ".join(["b"] * len(targets)))
        self.connect(load, 0, trigger, 0)
        for i, (target, inlet) in enumerate(targets):
            self.connect(trigger, len(targets) - 1 - i, target, inlet)

    def lateness_meter(self, tick: int, outlet: int = 0) -> tuple[int, int, int]:
        """How late Pd's scheduler runs: at each bang from ``tick``'s ``outlet``, real time
        minus logical time since the start, worst so far.

        Returns:
            ``(timer, realtime, worst)``: bang ``timer`` and ``realtime`` to start (both
            left inlets), bang ``worst`` (an ``[f]``) at the end to output the figure in ms.
        """
        both = self.obj("t b b")
        timer, real, minus, most, worst = (self.obj(x) for x in
                                           ("timer", "realtime", "-", "max", "f"))
        self.connect(tick, outlet, both, 0)
        self.connect(both, 1, timer, 1)
        self.connect(both, 0, real, 1)
        self.connect(timer, 0, minus, 1)
        self.connect(real, 0, minus, 0)
        self.connect(minus, 0, most, 0)
        self.connect(most, 0, most, 1)
        self.connect(most, 0, worst, 1)
        return timer, real, worst

    def timed_messages(self, events: dict[float, list[str]], target: int, inlet: int) -> None:
        """Send each ``events[ms]`` message text to ``target``'s ``inlet``, ``ms`` after load."""
        for ms, texts in events.items():
            delay = self.obj(f"delay {ms}")
            for text in texts:
                box = self.msg(text)
                self.connect(delay, 0, box, 0)
                self.connect(box, 0, target, inlet)
            self.on_load((delay, 0))

    def write_then_quit(self, after_ms: float, wav: Path | str, arrays: list[str],
                        soundfiler: int | None = None) -> int:
        """``after_ms`` after a bang to the returned ``[delay]``: write ``arrays`` to ``wav``
        (float WAV, one channel each) with ``soundfiler`` (a new one if None), then quit Pd."""
        end = self.obj(f"delay {after_ms}")
        trigger = self.obj("t b b")
        write = self.msg(f"write -wave -bytes 4 {wav} {' '.join(arrays)}")
        files = self.obj("soundfiler") if soundfiler is None else soundfiler
        quit_ = self.msg("\\; pd quit")
        self.connect(end, 0, trigger, 0)
        self.connect(trigger, 1, write, 0)
        self.connect(write, 0, files, 0)
        self.connect(trigger, 0, quit_, 0)
        return end

    def sequence(self, *steps: tuple[str, int, int]) -> None:
        """At load time send each message box text, ``(text, target, inlet)``, in order.

        A target of -1 leaves the message box unconnected (for ``\\; receiver ...``).
        """
        boxes = [self.msg(text) for text, _, _ in steps]
        for box, (_, target, inlet) in zip(boxes, steps):
            if target >= 0:
                self.connect(box, 0, target, inlet)
        self.on_load(*((box, 0) for box in boxes))

    def write(self, path: Path) -> Path:
        """Write the patch to ``path`` and return it."""
        path.write_text("\n".join(self.lines) + "\n")
        return path


def pd_command(
    patch: Path | str | None,
    *,
    batch: bool = True,
    sample_rate: int = 48000,
    paths: Sequence[Path | str] = (),
    send: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    external: Path | None = None,
) -> list[str]:
    """Build the command line for a headless Pd run with the ``py`` library loaded."""
    lib = Path(external or EXTERNAL_LIB)
    cmd = [find_pd(), *HEADLESS_FLAGS, "-r", str(sample_rate)]
    if batch:
        cmd.append("-batch")
    for p in (lib.parent, *paths):
        cmd += ["-path", str(p)]
    # By name, not by path: Pd remembers loaded libraries by the name they were asked for,
    # so a patch's [declare -lib py] then finds "py" loaded instead of loading it twice.
    cmd += ["-lib", lib.stem]
    for message in send:
        cmd += ["-send", message]
    cmd += list(extra_args)
    if patch is not None:
        cmd += ["-open", str(patch)]
    return cmd


def run_patch(
    patch: Path | str | None,
    *,
    timeout_s: float = 60.0,
    batch: bool = True,
    sample_rate: int = 48000,
    paths: Sequence[Path | str] = (),
    send: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
) -> PdRun:
    """Run Pd headless on ``patch`` until it quits (the patch must send ``pd quit``).

    Args:
        patch: The ``.pd`` file to open, or None to open nothing.
        timeout_s: Wall-clock limit; a run past it is killed and marked ``timed_out``.
        batch: ``-batch`` (logical time as fast as possible) or real time with ``-nosound``.
        sample_rate: Pd's sample rate (``-r``).
        paths: Extra ``-path`` entries, searched for abstractions and Python modules.
        send: Messages sent at start-up, e.g. ``"pd dsp 1"``.
        extra_args: Further Pd flags, placed before ``-open``.
        env: Extra environment variables.
        cwd: Working directory for Pd (defaults to the patch's folder).

    Returns:
        A PdRun with Pd's console lines (stdout and stderr, in order) and exit status.
    """
    cmd = pd_command(
        patch, batch=batch, sample_rate=sample_rate, paths=paths, send=send,
        extra_args=extra_args,
    )
    run_env = dict(os.environ)
    run_env.setdefault("PYTHONUNBUFFERED", "1")
    run_env.update(env or {})
    workdir = cwd or (Path(patch).parent if patch is not None else None)
    start = time.monotonic()
    # One pipe for both streams keeps Pd's console order.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=workdir, env=run_env, start_new_session=True,
    )
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, 9)  # Pd and anything it started (pd-watchdog)
        out, _ = proc.communicate()
    elapsed = time.monotonic() - start
    text = out.decode("utf-8", errors="replace")
    return PdRun(
        returncode=proc.returncode, lines=text.splitlines(), elapsed_s=elapsed,
        timed_out=timed_out, command=cmd,
    )
