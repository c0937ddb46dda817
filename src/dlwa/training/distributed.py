"""Where a training run executes: one process, or one of many under ``torchrun``.

The same ``dlwa train …`` command runs alone or as ``torchrun --nproc_per_node N -m dlwa
train …``. torchrun sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` and a rendezvous address;
:meth:`Placement.start` then joins PyTorch's process group (gloo on CPU, NCCL on GPU) and
the trainers wrap their model in DistributedDataParallel. Nothing here launches processes
or implements a collective: torchrun and torch.distributed do that.

Every rank draws the same global batch from the same seeded random state and takes its
own rows of it (:meth:`Placement.rows`), so N processes with a global batch of B follow
the same trajectory as one process with batch B (DDP averages the gradients).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from dlwa.training.options import DEVICES


class DeviceError(ValueError):
    """The requested device cannot be used here; the message says why."""


def choose_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda`` (the local rank's GPU) or ``auto`` (CUDA when there is one)."""
    if name not in DEVICES:
        raise DeviceError(f"--device {name}: choose one of {', '.join(DEVICES)}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError("--device cuda: this torch build or machine has no CUDA GPU; "
                          "use --device cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


@dataclass
class Placement:
    """This process's place in the run: its rank among ``world_size`` and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs and progress; the others only compute."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def start(cls, device: str = "auto") -> Placement:
        """The placement from torchrun's environment (one process without it); joins the
        process group when there are several processes."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        placement = cls(rank, world_size, local_rank, choose_device(device, local_rank))
        if placement.distributed and not torch.distributed.is_initialized():
            backend = "nccl" if placement.device.type == "cuda" else "gloo"
            if placement.device.type == "cuda":
                torch.cuda.set_device(placement.device)
            torch.distributed.init_process_group(backend)
        return placement

    def close(self) -> None:
        """Leave the process group (safe to call when there is none)."""
        if self.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

    def rows(self, n: int) -> slice:
        """This rank's rows of a global batch of ``n`` (contiguous, sizes within one).

        A rank may get no rows when ``n`` is smaller than the world; trainers then weigh
        its loss by zero (see :meth:`share`).
        """
        base, extra = divmod(n, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))

    def share(self, n_local: int, n_global: int) -> float:
        """The factor that turns this rank's mean loss into its share of the global mean.

        DDP averages gradients over ranks; scaling each rank's mean over its ``n_local``
        items by ``world_size · n_local / n_global`` makes that average the gradient of the
        mean over all ``n_global`` items, whatever the split.
        """
        return self.world_size * n_local / n_global if n_global else 0.0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` on this device, in DistributedDataParallel when there are several
        processes (DDP copies rank 0's weights to the others)."""
        model.to(self.device)
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any (stop together: a time limit
        or an interrupt seen by one process must stop all, or the others would wait)."""
        if not self.distributed:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self._collective_device())
        torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
        return bool(value.item() > 0)

    def mean_of_shares(self, value: float) -> float:
        """The mean over processes of ``value`` (a loss scaled by :meth:`share` averages
        to the global batch's loss); ``value`` itself in one process."""
        if not self.distributed:
            return value
        total = torch.tensor([value], dtype=torch.float64, device=self._collective_device())
        torch.distributed.all_reduce(total)
        return float(total.item()) / self.world_size

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def _collective_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")


def unwrap(model: Any) -> Any:
    """The model inside a DistributedDataParallel wrapper (``model`` itself otherwise)."""
    return getattr(model, "module", model)


def step_generator(seed: int, step: int, device: torch.device | str = "cpu"
                   ) -> torch.Generator:
    """A generator for the random draws of one training step (noise, dropout).

    It depends only on the seed and the step, so a resumed run and a run split over
    several processes draw what an uninterrupted single process draws.
    """
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + step)
