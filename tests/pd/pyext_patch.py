"""Patch builder for the pyext_py3 integration tests (imported by conftest and tests)."""

from __future__ import annotations

from pathlib import Path


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
        self.lines.append("#N canvas 0 0 450 300 (subpatch) 0;")
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
