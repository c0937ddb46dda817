"""The pyext contract (``contract_table.ROWS``) run through real Pd with ``pyext_py3``."""

from __future__ import annotations

import re
from pathlib import Path

import contract_table as table
import pytest

from dlwa import pd_runner

pytestmark = pytest.mark.pd

HERE = Path(__file__).resolve().parent
MARK = re.compile(r"^mark: (\d+)$")


def split_by_marks(lines: list[str]) -> list[tuple[list[str], list[str]]]:
    """Group Pd's console into per-row ``(printed, console)`` between ``mark: i`` lines."""
    groups: list[tuple[list[str], list[str]]] = []
    current: tuple[list[str], list[str]] | None = None
    for line in lines:
        mark = MARK.match(line)
        if mark:
            current = ([], [])
            groups.append(current)
        elif current is not None:
            if line == "contract:":
                current[0].append("")
            elif line.startswith("contract: "):
                current[0].append(line[len("contract: "):])
            else:
                current[1].append(line)
    return groups


def test_contract_rows_through_pd(pd_external, tmp_path):
    patch = table.write_patch(tmp_path)
    run = pd_runner.run_patch(patch, timeout_s=60, sample_rate=table.SAMPLE_RATE, paths=[HERE])
    run.check()
    groups = split_by_marks(run.lines)
    assert len(groups) == len(table.ROWS) + 1, run.output[-3000:]
    problems = table.check_rows(groups[:-1])
    assert problems == [], "\n".join(problems) + "\n--- Pd console ---\n" + run.output[-4000:]
