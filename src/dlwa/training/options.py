"""The one set of flags every ``dlwa train <model>`` takes.

``--steps``, ``--batch-size``, ``--max-minutes``, ``--seed``, ``--device``, ``--threads``,
``--resume``, ``--force`` and ``--logdir`` mean the same for every model; the SLURM flags
(``--slurm`` …, see :mod:`dlwa.training.slurm`) write a cluster job instead of training.
Earlier spellings (``--updates``, ``--minutes``) still work but are not shown.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RunOptions:
    """The shared settings of a training run, as the flags give them.

    Attributes:
        steps: Optimiser steps in total (a resumed run counts those already done).
        batch_size: Examples per step over all processes (each of N takes 1/N).
        max_minutes: Stop (and save) after this wall-clock time; None for no limit.
        seed: Seeds initialisation, batches, noise and dropout.
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: torch CPU threads per process.
        resume: Continue the unfinished run in ``--out``.
        force: Replace what ``--out`` holds (a dlwa model or run) with a new run.
        logdir: TensorBoard folder; None: ``<out>/logs``.
    """

    steps: int
    batch_size: int
    max_minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    threads: int = 1
    resume: bool = False
    force: bool = False
    logdir: Path | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunOptions:
        return cls(steps=args.steps, batch_size=args.batch_size, max_minutes=args.max_minutes,
                   seed=args.seed, device=args.device, threads=args.threads,
                   resume=args.resume, force=args.force,
                   logdir=Path(args.logdir) if args.logdir else None)


def add_training_options(parser: argparse.ArgumentParser, *, steps: int, batch_size: int,
                         state_file: str, steps_help: str = "optimiser steps in total",
                         threads: int | None = 1) -> None:
    """Add the shared flags (with this model's defaults) and the SLURM flags to ``parser``.

    ``state_file`` names the file that marks an unfinished run (a SLURM job resumes when
    it exists)."""
    group = parser.add_argument_group("training (the same for every model)")
    group.add_argument("--steps", type=int, default=steps, help=steps_help)
    group.add_argument("--updates", dest="steps", type=int, help=argparse.SUPPRESS)
    group.add_argument("--batch-size", type=int, default=batch_size,
                       help="examples per step, over all processes")
    group.add_argument("--max-minutes", type=float, default=None,
                       help="stop (and save) after this many minutes")
    group.add_argument("--minutes", dest="max_minutes", type=float, help=argparse.SUPPRESS)
    group.add_argument("--seed", type=int, default=0,
                       help="seeds weights, batches, noise and dropout")
    group.add_argument("--device", choices=DEVICES, default="auto",
                       help="auto: a CUDA GPU when there is one")
    group.add_argument("--threads", type=int, default=threads, help="torch CPU threads")
    group.add_argument("--resume", action="store_true",
                       help="continue the unfinished run in --out (same model settings)")
    group.add_argument("--force", action="store_true",
                       help="replace the model or run in --out with a new run")
    group.add_argument("--logdir", default=None,
                       help="TensorBoard folder; when not given, <out>/logs")
    from dlwa.training.slurm import add_slurm_options

    add_slurm_options(parser)
    parser.set_defaults(state_file=state_file)
