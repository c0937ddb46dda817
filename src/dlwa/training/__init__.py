"""What every ``dlwa train <model>`` shares.

- :mod:`~dlwa.training.output`: the output folder's rules (never overwrite a model without
  ``--resume`` or ``--force``) and atomic state files.
- :mod:`~dlwa.training.options`: the one set of flags.
- :mod:`~dlwa.training.distributed`: one process or many under ``torchrun`` (DDP).
- :mod:`~dlwa.training.run`: the step loop's bookkeeping (progress, time limit, logs).
- :mod:`~dlwa.training.logs`: TensorBoard scalars, sound examples and pictures.
- :mod:`~dlwa.training.slurm`: the same command as a SLURM batch job.
"""

from dlwa.training.output import (
    OutputFolderError,
    beside_bar,
    check_output,
    check_same_config,
    fresh_output,
    interrupted_by_sigterm,
    progress_bar,
    removed_on_failure,
    save_state,
    write_json,
)

__all__ = [
    "OutputFolderError",
    "beside_bar",
    "check_output",
    "check_same_config",
    "fresh_output",
    "interrupted_by_sigterm",
    "progress_bar",
    "removed_on_failure",
    "save_state",
    "write_json",
]
