"""Fixtures for the pyext_py3 integration tests: write patches beside the helper scripts.

The session fixture ``pd_external`` (tests/conftest.py) builds the external once.

Patches are generated with :class:`Patch` into ``tmp_path`` next to copies of the helper
scripts from ``tests/pd/scripts``, then run headless with :func:`dlwa.pd_runner.run_patch`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyext_patch import Patch

from dlwa import pd_runner

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """tmp_path with the helper scripts copied in (the patch's own directory)."""
    for f in SCRIPTS.glob("*.py"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


@pytest.fixture
def run(pd_external, workdir):
    """run(patch, **kw): write the patch into workdir and run Pd; returns the PdRun."""

    def _run(patch: Patch, name: str = "test.pd", **kw) -> pd_runner.PdRun:
        path = patch.write(workdir / name)
        kw.setdefault("timeout_s", 60)
        return pd_runner.run_patch(path, **kw)

    return _run
