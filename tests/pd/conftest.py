"""Fixtures for the pyext_py3 integration tests: build the external once, write patches.

Patches are generated with :class:`Patch` into ``tmp_path`` next to copies of the helper
scripts from ``tests/pd/scripts``, then run headless with :func:`dlwa.pd_runner.run_patch`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dlwa import pd_runner

SCRIPTS = Path(__file__).parent / "scripts"


class Patch:
    """A Pd patch built object by object; ``obj``/``msg`` return the object's index.

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
        return self._add("obj", text)

    def msg(self, text: str) -> int:
        return self._add("msg", text)

    def array(self, name: str, size: int) -> None:
        """A table (graph with one array) of ``size`` zeros."""
        self.lines.append(f"#N canvas 0 0 450 300 (subpatch) 0;")
        self.lines.append(f"#X array {name} {size} float 0;")
        self.lines.append(f"#X coords 0 1 {size} -1 200 140 1;")
        self.lines.append(f"#X restore 500 {20 + 25 * self.count} graph;")
        self.count += 1

    def connect(self, src: int, outlet: int, dst: int, inlet: int) -> None:
        self.lines.append(f"#X connect {src} {outlet} {dst} {inlet};")

    def sequence(self, *steps: tuple[str, int, int]) -> None:
        """On load, send each message box text (step = (text, target, inlet)) in order."""
        lb = self.obj("loadbang")
        trig = self.obj("t " + " ".join(["b"] * len(steps)))
        self.connect(lb, 0, trig, 0)
        for i, (text, target, inlet) in enumerate(steps):
            m = self.msg(text)
            self.connect(trig, len(steps) - 1 - i, m, 0)
            if target >= 0:
                self.connect(m, 0, target, inlet)

    def write(self, path: Path) -> Path:
        path.write_text("\n".join(self.lines) + "\n")
        return path


QUIT = ("\\; pd quit", -1, 0)


@pytest.fixture(scope="session")
def pyext_lib() -> Path:
    """Build pyext_py3 (a no-op when up to date); fail, never skip, when Pd is present."""
    pd_runner.find_pd()
    return pd_runner.build_external()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """tmp_path with the helper scripts copied in (the patch's own directory)."""
    for f in SCRIPTS.glob("*.py"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


@pytest.fixture
def run(pyext_lib, workdir):
    """run(patch, **kw): write the patch into workdir and run Pd; returns the PdRun."""

    def _run(patch: Patch, name: str = "test.pd", **kw) -> pd_runner.PdRun:
        path = patch.write(workdir / name)
        kw.setdefault("timeout_s", 60)
        return pd_runner.run_patch(path, **kw)

    return _run
