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

import numpy as np
import torch

from dlwa.audio import multiscale_spectral_loss
from dlwa.ddsp.data import DDSPExamples, build_dataset
from dlwa.ddsp.features import DEFAULT_TRACKER
from dlwa.ddsp.model import KIND, DDSPConfig, DDSPModel, n_parameters, save_model
from dlwa.training import (
    beside_bar,
    check_output,
    check_same_config,
    progress_bar,
    removed_on_failure,
    save_state,
    write_json,
)

STATE_FILE = "train_state.pt"


@dataclass
class TrainConfig:
    """Training settings.

    Attributes:
        n_steps: optimiser steps in total.
        batch_size: examples per step.
        example_s: example length in seconds.
        learning_rate: Adam's initial rate; decays to 10 % with a cosine.
        tracker: pitch tracker for the features (use the same at transfer).
        max_minutes: stop (and save) after this wall-clock time, if set.
        save_every: steps between saves.
        seed: random seed for batches and initialisation.
        n_threads: torch threads (1 is kind to a shared machine).
        smoke_test: one step, tiny batches: checks the whole pipeline quickly.
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


Progress = Callable[[str], None]


def train(
    data_folder: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
    model_config: DDSPConfig | None = None, train_config: TrainConfig | None = None,
    resume: bool = False, log: Progress = print,
) -> Path:
    """Train and write a checkpoint to ``out_dir``; returns its path.

    ``out_dir`` must be new or empty; with ``resume`` it must hold an unfinished DDSP run
    (its ``train_state.pt``), which continues with its own model configuration
    (``model_config``, if given, must match it). Nothing is written before the data
    folder has been checked.

    Raises:
        OutputFolderError: ``out_dir`` holds a model or other files (and not ``resume``),
            or there is no matching run to resume.
        DataError: the data folder is unusable (the message says why and what to do).
    """
    cfg = train_config or TrainConfig()
    out = check_output(out_dir, kind=KIND, state_file=STATE_FILE, resume=resume)
    torch.set_num_threads(cfg.n_threads)
    state_path = out / STATE_FILE
    state = None
    if resume:
        state = torch.load(state_path, weights_only=False)
        if model_config is not None:
            check_same_config(state["model_config"], model_config.to_dict(), where=out)
        model_config = DDSPConfig.from_dict(state["model_config"])
        log(f"resuming from step {state['step']} in {out}")
    model_config = model_config or DDSPConfig.small()

    def data_progress(stage: str, done: int, total: int) -> None:
        log(f"{stage}: {done}/{total} files")

    with removed_on_failure(out, resume=resume):  # the feature cache of unusable data
        splits, statistics = build_dataset(
            data_folder, sample_rate=model_config.sample_rate,
            frame_rate=model_config.frame_rate, tracker=cfg.tracker,
            cache_dir=out / "features", example_s=cfg.example_s, progress=data_progress,
        )
    train_set = splits["train"]
    write_json({"model": model_config.to_dict(), "train": asdict(cfg), "data": str(data_folder)},
               out / "train_config.json")
    log(f"{len(train_set)} training and {len(splits['validation'])} validation examples "
        f"of {cfg.example_s:g} s")
    torch.manual_seed(cfg.seed)
    model = DDSPModel(model_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    step = 0
    rng = np.random.default_rng(cfg.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        rng.bit_generator.state = state["rng"]
    n_steps = 1 if cfg.smoke_test else cfg.n_steps
    batch_size = min(2, cfg.batch_size) if cfg.smoke_test else cfg.batch_size
    log(f"model: {n_parameters(model):,} parameters; {n_steps} steps of batch {batch_size}")

    def save() -> None:
        training = {"data": os.fspath(data_folder), "tracker": cfg.tracker, "steps": step,
                    "n_train_examples": len(train_set), "example_s": cfg.example_s,
                    "date": time.strftime("%Y-%m-%d")}
        save_model(out, model, statistics=statistics, training=training)
        save_state({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "step": step, "rng": rng.bit_generator.state,
                    "model_config": model_config.to_dict()}, state_path)

    start_time = time.monotonic()
    start_step = step
    losses: list[float] = []
    log = beside_bar(log)
    rng_before_step = None  # the batch RNG before a step that has not finished
    try:
        with progress_bar(n_steps, step) as bar:
            while step < n_steps:
                rng_before_step = rng.bit_generator.state
                lr = cfg.learning_rate * (0.1 + 0.9 * 0.5
                                          * (1 + math.cos(math.pi * step / n_steps)))
                for group in optimizer.param_groups:
                    group["lr"] = lr
                index = rng.integers(0, len(train_set), size=batch_size)
                loss = training_step(model, optimizer, train_set, index)
                losses.append(loss)
                step += 1
                rng_before_step = None
                bar.set_postfix_str(f"loss {np.mean(losses[-10:]):.3f}", refresh=False)
                bar.update()
                elapsed = time.monotonic() - start_time
                if step % cfg.save_every == 0 or step == n_steps:
                    rate = (step - start_step) / elapsed
                    eta = (n_steps - step) / rate if rate > 0 else float("inf")
                    log(f"step {step}/{n_steps} loss {np.mean(losses[-10:]):.3f} "
                        f"ETA {eta / 60:.1f} min")
                if step % cfg.save_every == 0:
                    save()
                    log(f"saved step {step} to {out}")
                if cfg.max_minutes is not None and elapsed > cfg.max_minutes * 60:
                    log(f"time limit of {cfg.max_minutes:g} min reached at step {step}")
                    break
    except KeyboardInterrupt:
        if rng_before_step is not None:  # the unfinished step's batch is drawn again
            rng.bit_generator.state = rng_before_step
        save()
        log(f"interrupted at step {step}: saved; run the same command with --resume "
            "to continue")
        raise
    save()
    if len(splits["validation"]):
        log(f"validating on {len(splits['validation'])} examples")
        loss = validation_loss(model, splits["validation"])
        log(f"validation spectral loss {loss:.3f}")
    log(f"wrote {out}")
    return out


def training_step(model: DDSPModel, optimizer: torch.optim.Optimizer, data: DDSPExamples,
                  index: np.ndarray) -> float:
    """One Adam step on the examples at ``index``; returns the loss."""
    model.train()
    audio = torch.from_numpy(data.audio[index])
    f0 = torch.from_numpy(data.f0_hz[index])
    loudness = torch.from_numpy(data.loudness_db[index])
    prediction = model(f0, loudness)
    loss = multiscale_spectral_loss(audio, prediction)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
    optimizer.step()
    return float(loss.detach())


def validation_loss(model: DDSPModel, data: DDSPExamples, *, batch_size: int = 8) -> float:
    """Mean multi-scale spectral loss of resynthesis over ``data``."""
    model.eval()
    losses = []
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for i in range(0, len(data), batch_size):
            sl = slice(i, i + batch_size)
            prediction = model(torch.from_numpy(data.f0_hz[sl]),
                               torch.from_numpy(data.loudness_db[sl]), generator=generator)
            losses.append(float(multiscale_spectral_loss(torch.from_numpy(data.audio[sl]),
                                                         prediction)) * len(prediction))
    return float(np.sum(losses) / len(data))
