"""The shape every trainer shares: :class:`TrainingRun`.

A trainer builds its model and data, then hands the step loop's bookkeeping to a
``TrainingRun``: where it runs (:class:`~dlwa.training.distributed.Placement`), the
progress bar (steps/s, ETA) on rank 0's terminal, the time limit agreed by all processes,
TensorBoard logs, and the log lines. The trainer keeps what is its own: the step, the
validation and what a checkpoint holds. A typical loop::

    with TrainingRun(out, options, total=n_steps, done=step) as run:
        model = run.placement.wrap(model)
        try:
            while run.going(step):
                loss = training_step(...)
                step += 1
                run.stepped(step, {"loss/train": loss})
                if step % save_every == 0:
                    save()
        except KeyboardInterrupt:
            save()
            run.log(f"interrupted at step {step}: ...")
            raise
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import torch

from dlwa.training.distributed import Placement
from dlwa.training.logs import LOG_FOLDER, TrainLog
from dlwa.training.options import RunOptions
from dlwa.training.output import beside_bar, progress_bar


class TrainingRun:
    """Bookkeeping of one run's step loop (see the module docstring).

    Args:
        out: The run's output folder.
        options: The shared flags.
        total: Steps of the whole run.
        done: Steps already done (a resumed run).
        log: Where rank 0's lines go.
        unit: What a step is called in the progress bar.
        placement: Where this process runs; by default from torchrun's environment and
            ``options.device``.
    """

    def __init__(self, out: Path, options: RunOptions, *, total: int, done: int = 0,
                 log: Callable[[str], None] = print, unit: str = "step",
                 placement: Placement | None = None) -> None:
        self.out = Path(out)
        self.options = options
        self.total = total
        self.placement = placement or Placement.start(options.device)
        if options.batch_size < self.placement.world_size:
            raise ValueError(f"--batch-size {options.batch_size} is smaller than the "
                             f"{self.placement.world_size} processes: each needs examples")
        torch.set_num_threads(max(1, options.threads))
        self.is_main = self.placement.is_main
        self.tb = TrainLog(options.logdir or self.out / LOG_FOLDER, enabled=self.is_main)
        self._log = beside_bar(log)
        self._unit = unit
        self._done = done
        self._bar: Any = None
        self._start = time.monotonic()
        self._stopped_by_time = False

    def __enter__(self) -> Self:
        if self.is_main:
            _remove_stale_temporaries(self.out)
            self._bar = progress_bar(self.total, self._done, unit=self._unit)
        if self.placement.distributed:
            self.log(f"{self.placement.world_size} processes on "
                     f"{self.placement.device.type}, {self.options.batch_size} examples per "
                     "step in all")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
        self.tb.close()

    @property
    def elapsed(self) -> float:
        """Seconds since the run (this process) started its loop."""
        return time.monotonic() - self._start

    @property
    def stopped_by_time(self) -> bool:
        """The loop ended at ``--max-minutes``, before ``total``."""
        return self._stopped_by_time

    def log(self, line: str) -> None:
        """A line from rank 0 (the others are quiet), beside the progress bar."""
        if self.is_main:
            self._log(line)

    def going(self, step: int) -> bool:
        """Whether to take another step: ``step < total`` and within ``--max-minutes``
        (decided together by all processes)."""
        if step >= self.total:
            return False
        limit = self.options.max_minutes
        out_of_time = limit is not None and self.elapsed > 60 * limit
        if self.placement.any(out_of_time):
            self._stopped_by_time = True
            self.log(f"time limit of {limit:g} min reached at {self._unit} {step}; run the "
                     "same command with --resume to continue")
            return False
        return True

    def stepped(self, step: int, scalars: Mapping[str, float]) -> None:
        """After a step: advance the bar, log ``scalars`` (e.g. ``loss/train``) to
        TensorBoard."""
        self.tb.scalars(step, scalars)
        if self._bar is not None:
            shown = "  ".join(f"{k.split('/')[0]} {v:.4g}" for k, v in scalars.items()
                              if not k.startswith("learning_rate"))
            limit = self.options.max_minutes
            cap = "" if limit is None else f", stops at the {limit:g} min cap"
            self._bar.set_postfix_str(shown + cap, refresh=False)
            self._bar.update(step - self._bar.n)

    def progress_line(self, step: int) -> str:
        """``step 200/3000  2.31 steps/s  ETA 20m12s``: for logs, at each save."""
        rate = (step - self._done) / max(self.elapsed, 1e-9)
        left = (self.total - step) / rate if rate > 0 else float("inf")
        limit = self.options.max_minutes
        cap = ("" if limit is None else
               f"; the {limit:g} min cap stops it in "
               f"{duration(max(0.0, 60 * limit - self.elapsed))}")
        return (f"{self._unit} {step}/{self.total}  {rate:.2f} {self._unit}s/s  "
                f"ETA {duration(left)}{cap}")


def duration(seconds: float) -> str:
    """``12m05s`` (``?`` when unknown)."""
    if not seconds < float("inf"):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def _remove_stale_temporaries(out: Path) -> None:
    """Half-written state files left by a process killed while saving (never read)."""
    if out.is_dir():
        for leftover in out.glob(".*.tmp"):
            if leftover.is_file():
                leftover.unlink(missing_ok=True)

