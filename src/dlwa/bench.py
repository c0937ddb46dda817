"""``dlwa bench``: a registry of benchmarks and one table with the machine's description.

A benchmark is a function that takes no arguments and returns a list of Measurement.
Modules under ``dlwa.benchmarks`` register theirs with ``@benchmark("group")``; the
module names are listed in ``BENCHMARK_MODULES`` so that importing them is explicit and
lazy (heavy imports happen only when the benchmarks run).
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

BENCHMARK_MODULES: tuple[str, ...] = ("dlwa.benchmarks.pyext", "dlwa.benchmarks.melody_rnn",
                                      "dlwa.benchmarks.ddsp", "dlwa.benchmarks.gansynth",
                                      "dlwa.benchmarks.samplernn", "dlwa.benchmarks.rave")


@dataclass
class Measurement:
    """One measured figure: ``value`` in ``unit``, with how it was measured in ``note``."""

    name: str
    value: float
    unit: str
    note: str = ""


BenchmarkFn = Callable[[], list[Measurement]]
_REGISTRY: dict[str, list[tuple[str, BenchmarkFn]]] = {}


def benchmark(group: str) -> Callable[[BenchmarkFn], BenchmarkFn]:
    """Register ``fn`` under ``group`` (shown as ``dlwa bench <group>``)."""

    def register(fn: BenchmarkFn) -> BenchmarkFn:
        _REGISTRY.setdefault(group, []).append((fn.__name__, fn))
        return fn

    return register


def median_seconds(call: Callable[[], object], runs: int, warm_ups: int = 1) -> float:
    """Median wall-clock seconds of ``runs`` calls of ``call``, after ``warm_ups`` untimed."""
    for _ in range(warm_ups):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_benchmarks() -> dict[str, list[tuple[str, BenchmarkFn]]]:
    """Import every benchmark module and return the registry, group -> [(name, fn)]."""
    for module in BENCHMARK_MODULES:
        importlib.import_module(module)
    return _REGISTRY


def machine_description() -> str:
    """One line naming the CPU, core count, memory, OS and Python/torch versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    parts = [cpu, f"{os.cpu_count()} cores", f"{mem_gib:.0f} GiB",
             f"{platform.system()} {platform.release()}", f"Python {sys.version.split()[0]}"]
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    return ", ".join(parts)


def format_table(rows: list[tuple[str, Measurement]]) -> str:
    """A Markdown table of (group, measurement) rows."""
    lines = ["| group | benchmark | value | unit | how |", "|---|---|---:|---|---|"]
    for group, m in rows:
        lines.append(f"| {group} | {m.name} | {m.value:.4g} | {m.unit} | {m.note} |")
    return "\n".join(lines)


def run_benchmarks(groups: list[str] | None = None, *, echo: Callable[[str], None] = print
                   ) -> list[tuple[str, Measurement]]:
    """Run the registered benchmarks (all, or those in ``groups``) and print the table.

    Raises:
        ValueError: a requested group does not exist; the message lists those that do.
    """
    registry = load_benchmarks()
    wanted = groups or sorted(registry)
    unknown = [g for g in wanted if g not in registry]
    if unknown:
        raise ValueError(f"unknown benchmark group(s) {unknown}; available: {sorted(registry)}")
    rows: list[tuple[str, Measurement]] = []
    for group in wanted:
        for name, fn in registry[group]:
            echo(f"running {group}/{name} ...")
            rows.extend((group, m) for m in fn())
    echo(f"\nMachine: {machine_description()}\n")
    echo(format_table(rows))
    return rows
