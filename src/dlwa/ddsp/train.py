"""Train the DDSP solo-instrument model on a folder of audio (``dlwa train ddsp``).

Steps: validate and scan the folder, cut examples, compute and cache features, keep the
dataset statistics for auto-adjust, then Adam on the multi-scale spectral loss with
progress and ETA. ``<out>/train_state.pt`` (model, optimiser, step, RNG) is written every
``save_every`` steps and at the end, next to a usable checkpoint, so a run that stops
resumes where it was with ``resume=True``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlwa.audio import multiscale_spectral_loss
from dlwa.ddsp.data import DDSPExamples, build_dataset
from dlwa.ddsp.features import DEFAULT_TRACKER
from dlwa.ddsp.model import KIND, DDSPConfig, DDSPModel, n_parameters, save_model
from dlwa.training import (
    check_output,
    check_same_config,
    fresh_output,
    save_state,
    write_json,
)
from dlwa.training.distributed import Placement, step_generator, unwrap
from dlwa.training.logs import TrainLog
from dlwa.training.options import RunOptions
from dlwa.training.run import TrainingRun

STATE_FILE = "train_state.pt"
EXAMPLE_EVERY = 4
"""A sound example goes to TensorBoard at every ``EXAMPLE_EVERY``-th save."""


@dataclass
class TrainConfig:
    """Training settings.

    Attributes:
        n_steps: optimiser steps in total.
        batch_size: examples per step, over all processes.
        example_s: example length in seconds.
        learning_rate: Adam's initial rate; decays to 10 % with a cosine.
        tracker: pitch tracker for the features (use the same at transfer).
        max_minutes: stop (and save) after this wall-clock time, if set.
        save_every: steps between saves.
        seed: random seed for batches, noise and initialisation.
        n_threads: torch threads (1 is kind to a shared machine).
        smoke_test: one step, tiny batches: checks the whole pipeline quickly.
        device: ``auto``, ``cpu`` or ``cuda``.
        force: replace the model or run in the output folder.
        logdir: TensorBoard folder (default ``<out>/logs``).
        dtype: ``float32``; ``float64`` trains in double precision, slowly: it lets a test
            tell a one-process run from a multi-process one beyond rounding.
    """

    n_steps: int = 3000
    batch_size: int = 8
    example_s: float = 2.0
    learning_rate: float = 2e-3
    tracker: str = DEFAULT_TRACKER
    max_minutes: float | None = None
    save_every: int = 200
    seed: int = 0
    n_threads: int = 1
    smoke_test: bool = False
    device: str = "auto"
    force: bool = False
    logdir: str | None = None
    dtype: str = "float32"

    def run_options(self, resume: bool) -> RunOptions:
        return RunOptions(steps=1 if self.smoke_test else self.n_steps,
                          batch_size=min(2, self.batch_size) if self.smoke_test
                          else self.batch_size,
                          max_minutes=self.max_minutes, seed=self.seed, device=self.device,
                          threads=self.n_threads, resume=resume, force=self.force,
                          logdir=Path(self.logdir) if self.logdir else None)


Progress = Callable[[str], None]


def train(
    data_folder: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
    model_config: DDSPConfig | None = None, train_config: TrainConfig | None = None,
    resume: bool = False, log: Progress = print,
) -> Path:
    """Train and write a checkpoint to ``out_dir``; returns its path.

    ``out_dir`` must be new or empty (or hold a model, with ``force``); with ``resume`` it
    must hold an unfinished DDSP run (its ``train_state.pt``), which continues with its own
    model configuration (``model_config``, if given, must match it). Nothing is written
    before the data folder has been checked. Under ``torchrun`` each process trains on its
    share of every batch (DDP) and rank 0 writes.

    Raises:
        OutputFolderError: ``out_dir`` holds a model or other files (and not ``resume``),
            or there is no matching run to resume.
        DataError: the data folder is unusable (the message says why and what to do).
    """
    cfg = train_config or TrainConfig()
    options = cfg.run_options(resume)
    torch.set_num_threads(max(1, cfg.n_threads))  # the pitch tracker runs on torch too
    placement = Placement.start(cfg.device)
    main = placement.is_main
    # Rank 0 alone judges (and prepares) the folder; the others would see its writes.
    out = (check_output(out_dir, kind=KIND, state_file=STATE_FILE, resume=resume,
                        force=cfg.force) if main else Path(out_dir).expanduser())
    state_path = out / STATE_FILE
    state = None
    if resume:
        state = torch.load(state_path, weights_only=False)
        if model_config is not None:
            check_same_config(state["model_config"], model_config.to_dict(), where=out)
        model_config = DDSPConfig.from_dict(state["model_config"])
        if main:
            log(f"resuming from step {state['step']} in {out}")
    model_config = model_config or DDSPConfig.small()

    def data_progress(stage: str, done: int, total: int) -> None:
        if main:
            log(f"{stage}: {done}/{total} files")

    def prepare() -> tuple[dict[str, DDSPExamples], Any]:
        return build_dataset(
            data_folder, sample_rate=model_config.sample_rate,
            frame_rate=model_config.frame_rate, tracker=cfg.tracker,
            cache_dir=out / "features", example_s=cfg.example_s, progress=data_progress)

    if main:  # the others read the feature cache rank 0 has written
        with fresh_output(out, resume=resume, force=cfg.force):
            splits, statistics = prepare()
        write_json({"model": model_config.to_dict(), "train": asdict(cfg),
                    "data": str(data_folder)}, out / "train_config.json")
    placement.barrier()
    if not main:
        splits, statistics = prepare()
    train_set = splits["train"]
    if main:
        log(f"{len(train_set)} training and {len(splits['validation'])} validation examples "
            f"of {cfg.example_s:g} s")
    torch.manual_seed(cfg.seed)
    model = DDSPModel(model_config).to(getattr(torch, cfg.dtype))
    step = 0
    rng = np.random.default_rng(cfg.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        step = int(state["step"])
        rng.bit_generator.state = state["rng"]
    n_steps, batch_size = options.steps, options.batch_size
    with TrainingRun(out, options, total=n_steps, done=step, log=log,
                     placement=placement) as run:
        net = placement.wrap(model)
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
        run.log(f"model: {n_parameters(model):,} parameters; {n_steps} steps of batch "
                f"{batch_size} on {placement.device.type}")
        example = splits["validation"] if len(splits["validation"]) else train_set
        saves = 0

        def save() -> None:
            nonlocal saves
            if not main:
                return
            training = {"data": os.fspath(data_folder), "tracker": cfg.tracker, "steps": step,
                        "n_train_examples": len(train_set), "example_s": cfg.example_s,
                        "date": time.strftime("%Y-%m-%d")}
            save_model(out, model, statistics=statistics, training=training)
            save_state({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "step": step, "rng": rng.bit_generator.state,
                        "model_config": model_config.to_dict()}, state_path)
            if saves % EXAMPLE_EVERY == 0:
                log_example(run.tb, model, example, step)
            saves += 1

        rng_before_step = None  # the batch RNG before a step that has not finished
        try:
            if step == 0 and main:
                run.tb.audio("example/target", 0, example.audio[0], model_config.sample_rate)
            while run.going(step):
                rng_before_step = rng.bit_generator.state
                lr = cfg.learning_rate * (0.1 + 0.9 * 0.5
                                          * (1 + math.cos(math.pi * step / n_steps)))
                for group in optimizer.param_groups:
                    group["lr"] = lr
                index = rng.integers(0, len(train_set), size=batch_size)
                loss = training_step(net, optimizer, train_set, index, step=step,
                                     seed=cfg.seed, placement=placement)
                step += 1
                rng_before_step = None
                run.stepped(step, {"loss/train": loss, "learning_rate": lr})
                if step % cfg.save_every == 0 or step == n_steps:
                    run.log(run.progress_line(step))
                if step % cfg.save_every == 0:
                    save()
                    run.log(f"saved step {step} to {out}")
        except KeyboardInterrupt:
            if rng_before_step is not None:  # the unfinished step's batch is drawn again
                rng.bit_generator.state = rng_before_step
            save()
            run.log(f"interrupted at step {step}: saved; run the same command with --resume "
                    "to continue")
            raise
        if step % cfg.save_every:
            save()
        if main and len(splits["validation"]):
            log(f"validating on {len(splits['validation'])} examples")
            loss = validation_loss(model, splits["validation"])
            run.tb.scalars(step, {"loss/validation": loss})
            log(f"validation spectral loss {loss:.3f}")
    placement.close()
    if main:
        log(f"wrote {out}")
    return out


def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  data: DDSPExamples, index: np.ndarray, *, step: int = 0, seed: int = 0,
                  placement: Placement | None = None) -> float:
    """One Adam step on the examples at ``index`` (the global batch); returns its loss.

    The noise synth's source is drawn for the whole batch from the step's own generator
    and each process takes its rows, so the step is the same in one process or many, and
    after a resume.
    """
    placement = placement or Placement()
    model.train()
    config = unwrap(model).config
    n_samples = data.f0_hz.shape[1] * config.hop_length
    dtype = next(model.parameters()).dtype
    noise = torch.rand(len(index), n_samples, generator=step_generator(seed, step),
                       dtype=dtype) * 2 - 1
    rows = placement.rows(len(index))
    local = index[rows]
    device = placement.device
    audio = torch.from_numpy(data.audio[local]).to(device, dtype)
    f0 = torch.from_numpy(data.f0_hz[local]).to(device, dtype)
    loudness = torch.from_numpy(data.loudness_db[local]).to(device, dtype)
    prediction = model(f0, loudness, noise=noise[rows].to(device))
    loss = multiscale_spectral_loss(audio, prediction)
    optimizer.zero_grad()
    (loss * placement.share(len(local), len(index))).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
    optimizer.step()
    return placement.mean_of_shares(float(loss.detach()) * placement.share(len(local), len(index)))


def log_example(tb: TrainLog, model: DDSPModel, data: DDSPExamples, step: int) -> None:
    """The model's resynthesis of the first example (audio and spectrogram)."""
    if not tb.enabled or not len(data):
        return
    model.eval()
    parameter = next(model.parameters())
    device = parameter.device
    with torch.inference_mode():
        audio = model(torch.from_numpy(data.f0_hz[:1]).to(device, parameter.dtype),
                      torch.from_numpy(data.loudness_db[:1]).to(device, parameter.dtype),
                      generator=torch.Generator(device=device).manual_seed(0))
    tb.audio("example/resynthesis", step, audio[0].cpu().numpy(), model.config.sample_rate)


def validation_loss(model: DDSPModel, data: DDSPExamples, *, batch_size: int = 8) -> float:
    """Mean multi-scale spectral loss of resynthesis over ``data``."""
    model.eval()
    parameter = next(model.parameters())
    losses = []
    generator = torch.Generator(device=parameter.device).manual_seed(0)

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(parameter.device, parameter.dtype)

    with torch.inference_mode():
        for i in range(0, len(data), batch_size):
            sl = slice(i, i + batch_size)
            prediction = model(tensor(data.f0_hz[sl]), tensor(data.loudness_db[sl]),
                               generator=generator)
            losses.append(float(multiscale_spectral_loss(tensor(data.audio[sl]), prediction))
                          * len(prediction))
    return float(np.sum(losses) / len(data))
