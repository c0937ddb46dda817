"""Test-suite wide fixtures and the rule for Pd tests.

Tests that run real Pure Data are marked ``pd``. Where Pd is not installed they skip,
except when ``DLWA_REQUIRE_PD=1`` (set by scripts/test.sh, hence in CI): then a missing
Pd is a failure, so CI can never pass by skipping the integration tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dlwa import pd_runner

REQUIRE_PD = os.environ.get("DLWA_REQUIRE_PD") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which("pd") or REQUIRE_PD:
        return
    skip = pytest.mark.skip(reason="Pure Data is not installed (run scripts/setup.sh)")
    for item in items:
        if "pd" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pd_external() -> Path:
    """The built ``py`` library (builds it once per session)."""
    return pd_runner.build_external()


@pytest.fixture(autouse=True)
def _single_thread_torch() -> None:
    """Two cores shared with Pd: keep torch to one thread in tests."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
