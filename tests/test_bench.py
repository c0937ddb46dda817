"""The shared timing helper of ``dlwa bench``."""

from __future__ import annotations

import itertools

import pytest

from dlwa import bench


def test_median_seconds_times_only_the_runs_after_the_warm_ups(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = itertools.count()
    durations = iter([100.0, 3.0, 1.0, 2.0])  # the warm-up is slow and not timed
    now = [0.0]

    def perf_counter() -> float:
        return now[0]

    def call() -> None:
        next(clock)
        now[0] += next(durations)

    monkeypatch.setattr(bench.time, "perf_counter", perf_counter)
    assert bench.median_seconds(call, runs=3) == 2.0
    assert next(clock) == 4  # one warm-up, three runs
