"""Train SampleRNN on a folder of audio (``dlwa train samplernn``).

Truncated back-propagation through time, as PRiSM trains: a batch of examples (8 s each
by default) is walked through in subsequences of ``seq_len`` samples, the tiers' RNN state
carried from one subsequence to the next (detached), one optimiser step per subsequence,
the state reset at the next batch. Which examples form a batch is drawn from the seed and
the epoch, and the RNN state is saved with the run, so a resumed run and a run under
torchrun follow one path.

Every ``eval_every`` steps: the held-out bits per sample, a checkpoint of the best model so
far (early stopping after ``patience`` evaluations without improvement), and a short sound
written to ``<out>/samples/`` and TensorBoard.
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
from torch.nn import functional as F

from dlwa.audio.io import save_audio
from dlwa.samplernn.data import Sequences, load_sequences
from dlwa.samplernn.model import (
    KIND,
    SampleRNN,
    SampleRNNConfig,
    bits_per_sample,
    detach_state,
    n_parameters,
    save_model,
    silence_code,
)
from dlwa.training import check_output, check_same_config, fresh_output, save_state, write_json
from dlwa.training.distributed import Placement, unwrap
from dlwa.training.options import RunOptions
from dlwa.training.run import TrainingRun

STATE_FILE = "train_state.pt"
SAMPLES_DIR = "samples"


@dataclass
class TrainConfig:
    """Training settings.

    Attributes:
        n_steps: Optimiser steps (subsequences) in total.
        batch_size: Examples per batch, over all processes.
        example_s: Example length in seconds (rounded to whole subsequences).
        learning_rate: Adam's rate (PRiSM: 0.001).
        eval_every: Steps between validations, saves and generated samples.
        patience: Stop after this many validations without a better held-out loss.
        max_validation: At most this many held-out examples are scored.
        sample_s: Seconds of audio generated at each evaluation.
        max_minutes: Stop (and save) after this much time.
        seed: Seeds weights and batches.
        n_threads: torch threads.
        device: ``auto``, ``cpu`` or ``cuda``.
        force: Replace the model or run in the output folder.
        logdir: TensorBoard folder (default ``<out>/logs``).
        smoke_test: A few steps of a small batch, to check data and pipeline.
    """

    n_steps: int = 20000
    batch_size: int = 32
    example_s: float = 8.0
    learning_rate: float = 1e-3
    eval_every: int = 500
    patience: int = 3
    max_validation: int = 16
    sample_s: float = 2.0
    max_minutes: float | None = None
    seed: int = 0
    n_threads: int = 1
    device: str = "auto"
    force: bool = False
    logdir: str | None = None
    smoke_test: bool = False

    def run_options(self, resume: bool) -> RunOptions:
        return RunOptions(steps=4 if self.smoke_test else self.n_steps,
                          batch_size=min(2, self.batch_size) if self.smoke_test
                          else self.batch_size,
                          max_minutes=self.max_minutes, seed=self.seed, device=self.device,
                          threads=self.n_threads, resume=resume, force=self.force,
                          logdir=Path(self.logdir) if self.logdir else None)


class BatchSchedule:
    """Step → (examples of its batch, subsequence index): epochs of examples in an order
    drawn from ``(seed, epoch)``, whole batches only."""

    def __init__(self, n_examples: int, batch_size: int, n_subsequences: int, seed: int
                 ) -> None:
        if n_examples < batch_size:
            raise ValueError(f"{n_examples} training examples for batches of {batch_size}: "
                             "give more audio or a smaller --batch-size")
        self.n_examples, self.batch_size = n_examples, batch_size
        self.n_subsequences, self.seed = n_subsequences, seed
        self.batches_per_epoch = n_examples // batch_size

    def at(self, step: int) -> tuple[np.ndarray, int]:
        batch_index, sub = divmod(step, self.n_subsequences)
        epoch, position = divmod(batch_index, self.batches_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n_examples)
        return order[position * self.batch_size:(position + 1) * self.batch_size], sub


def subsequence(codes: np.ndarray, sub: int, config: SampleRNNConfig) -> np.ndarray:
    """Subsequence ``sub`` of each row with the big frame before it (silence before the
    start, as PRiSM pads)."""
    big, seq = config.big_frame_size, config.seq_len
    start = sub * seq
    if start == 0:
        pad = np.full((codes.shape[0], big), silence_code(config), dtype=np.int64)
        return np.concatenate([pad, codes[:, :seq]], axis=1)
    return codes[:, start - big:start + seq]


def train(data_folder: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
          model_config: SampleRNNConfig | None = None, train_config: TrainConfig | None = None,
          resume: bool = False, log: Callable[[str], None] = print) -> Path:
    """Train SampleRNN on the audio in ``data_folder``; the best model goes to ``out_dir``.

    Raises:
        OutputFolderError: ``out_dir`` cannot be used (nothing is written then).
        DataError: the folder's audio is unusable (one line saying why).
    """
    cfg = train_config or TrainConfig()
    options = cfg.run_options(resume)
    torch.set_num_threads(max(1, cfg.n_threads))
    placement = Placement.start(cfg.device)
    main = placement.is_main
    out = (check_output(out_dir, kind=KIND, state_file=STATE_FILE, resume=resume,
                        force=cfg.force) if main else Path(out_dir).expanduser())
    state: dict[str, Any] | None = None
    if resume:
        state = torch.load(out / STATE_FILE, weights_only=False, map_location="cpu")
        if model_config is not None:
            check_same_config(state["model_config"], model_config.to_dict(), where=out)
        model_config = SampleRNNConfig.from_dict(state["model_config"])
        if main:
            log(f"resuming {out} at step {state['step']}")
    config = model_config or small_config()

    def data_progress(done: int, total: int) -> None:
        if main and done == total:
            log(f"read {total} files")

    if main:
        with fresh_output(out, resume=resume, force=cfg.force):
            splits = load_sequences(data_folder, config, example_s=cfg.example_s,
                                    progress=data_progress)
            out.mkdir(parents=True, exist_ok=True)
        write_json({"model": config.to_dict(), "train": asdict(cfg), "data": str(data_folder)},
                   out / "train_config.json")
    placement.barrier()
    if not main:
        splits = load_sequences(data_folder, config, example_s=cfg.example_s)
    train_set, validation = splits["train"], splits["validation"]
    length = train_set.codes.shape[1]
    n_sub = length // config.seq_len
    seconds = length / config.sample_rate
    if main:
        log(f"{len(train_set)} training and {len(validation)} held-out examples of "
            f"{seconds:g} s ({n_sub} subsequences of {config.seq_len} samples each)")
    torch.manual_seed(cfg.seed)
    model = SampleRNN(config)
    step, best, waited = 0, math.inf, 0
    if state is not None:
        model.load_state_dict(state["model"])
        step, best, waited = int(state["step"]), float(state["best"]), int(state["waited"])
    schedule = BatchSchedule(len(train_set), options.batch_size, n_sub, cfg.seed)
    with TrainingRun(out, options, total=options.steps, done=step, log=log,
                     placement=placement) as run:
        net = placement.wrap(model)
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
        run.log(f"model: {n_parameters(model):,} parameters, {config.rnn_type} "
                f"{config.num_rnn_layers}x{config.dim}; {options.steps} steps of batch "
                f"{options.batch_size} x {config.seq_len} samples on {placement.device.type}")
        saved_rnn = state.get("rnn_state") if state is not None else None
        rnn_state = (saved_rnn if saved_rnn is not None and not placement.distributed
                     else _rebuilt_state(net, train_set, schedule, step, placement))

        def save(best_model: bool) -> None:
            if not main:
                return
            if best_model:
                save_model(out, model, training={
                    "data": os.fspath(data_folder), "steps": step, "examples": len(train_set),
                    "example_s": seconds, "validation_bits_per_sample": best,
                    "date": time.strftime("%Y-%m-%d")})
            # The RNN state mid-batch, so that one process resumes exactly (under torchrun
            # each process holds its own rows' state: it is replayed instead).
            save_state({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "step": step, "best": best, "waited": waited,
                        "rnn_state": None if placement.distributed else rnn_state,
                        "model_config": config.to_dict()}, out / STATE_FILE)

        def evaluate() -> bool:
            """Validate, save, write a sample; True when training should stop early."""
            nonlocal best, waited
            held_out = validation if len(validation) else train_set
            bits = validation_bits(model, held_out, limit=cfg.max_validation)
            improved = bits < best
            best, waited = (bits, 0) if improved else (best, waited + 1)
            run.tb.scalars(step, {"validation/bits_per_sample": bits})
            run.log(f"{run.progress_line(step)}; held-out {bits:.3f} bits/sample"
                    + (" (best)" if improved else f", best {best:.3f} ({waited} without "
                                                  "improvement)"))
            save(best_model=improved)
            write_sample(model, out, step, cfg.sample_s, run)
            return waited >= cfg.patience

        try:
            while run.going(step):
                rows, sub = schedule.at(step)
                if sub == 0:
                    rnn_state = None
                loss, rnn_state = training_step(net, optimizer, train_set, rows, sub,
                                                rnn_state, placement)
                step += 1
                run.stepped(step, {"loss/train": loss,
                                   "train/bits_per_sample": bits_per_sample(loss)})
                if main and (step % cfg.eval_every == 0 or step == options.steps):
                    stop = evaluate()
                else:
                    stop = False
                if placement.any(stop):
                    run.log(f"early stop at step {step}: no better held-out loss in "
                            f"{cfg.patience} evaluations")
                    break
        except KeyboardInterrupt:
            save(best_model=not (out / "config.json").exists())
            run.log(f"interrupted at step {step}: saved; run the same command with --resume "
                    "to continue")
            raise
        if step % cfg.eval_every and main and run.stopped_by_time:
            evaluate()
    placement.close()
    if main:
        log(f"wrote {out} (held-out {best:.3f} bits/sample)")
    return out


def small_config() -> SampleRNNConfig:
    """The CPU-sized default: GRU 2 × 256, frames [16, 64], mu-law 256, 512-sample
    subsequences (PRiSM's default is 4 × 1024 over 1024 samples)."""
    return SampleRNNConfig(seq_len=512, frame_sizes=(16, 64), dim=256, rnn_type="gru",
                           num_rnn_layers=2, q_type="mu-law", q_levels=256, emb_size=256)


def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: Sequences,
                  rows: np.ndarray, sub: int, state: Any, placement: Placement
                  ) -> tuple[float, Any]:
    """One step on subsequence ``sub`` of the examples ``rows`` (this process's share)."""
    model.train()
    config = unwrap(model).config
    mine = rows[placement.rows(len(rows))]
    codes = torch.from_numpy(subsequence(data.codes[mine], sub, config)).to(placement.device)
    logits, state = model(codes, state)
    target = codes[:, config.big_frame_size:]
    loss = F.cross_entropy(logits.reshape(-1, config.q_levels), target.reshape(-1))
    optimizer.zero_grad()
    (loss * placement.share(len(mine), len(rows))).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)  # PRiSM clips at 5
    optimizer.step()
    total = placement.mean_of_shares(float(loss.detach()) * placement.share(len(mine),
                                                                            len(rows)))
    return total, detach_state(state)


def _rebuilt_state(model: torch.nn.Module, data: Sequences, schedule: BatchSchedule,
                   step: int, placement: Placement) -> Any:
    """The RNN state at ``step`` of a run resumed under torchrun: the batch's earlier
    subsequences replayed without gradients with the current weights (close to, not
    exactly, the state the run had; None at the start of a batch)."""
    rows, sub = schedule.at(step)
    state = None
    config = unwrap(model).config
    mine = rows[placement.rows(len(rows))]
    with torch.no_grad():
        for earlier in range(sub):
            codes = torch.from_numpy(subsequence(data.codes[mine], earlier, config))
            _, state = model(codes.to(placement.device), state)
    return detach_state(state)


@torch.no_grad()
def validation_bits(model: SampleRNN, data: Sequences, *, limit: int | None = None,
                    batch_size: int = 8) -> float:
    """Mean bits per sample over ``data`` (at most ``limit`` examples), teacher-forced."""
    model.eval()
    config = model.config
    device = next(model.parameters()).device
    codes = data.codes[:limit] if limit else data.codes
    n_sub = codes.shape[1] // config.seq_len
    total, count = 0.0, 0
    for i in range(0, len(codes), batch_size):
        batch = codes[i:i + batch_size]
        state = None
        for sub in range(n_sub):
            x = torch.from_numpy(subsequence(batch, sub, config)).to(device)
            logits, state = model(x, state)
            target = x[:, config.big_frame_size:]
            total += float(F.cross_entropy(logits.reshape(-1, config.q_levels),
                                           target.reshape(-1), reduction="sum"))
            count += target.numel()
    model.train()
    return bits_per_sample(total / max(count, 1))


def write_sample(model: SampleRNN, out: Path, step: int, seconds: float,
                 run: TrainingRun) -> None:
    """A short sound from the model at temperature 1 (fixed seed), to hear progress."""
    from dlwa.samplernn.generate import Generator, duration_samples

    if seconds <= 0:
        return
    generator = Generator(model)
    audio = generator.generate(duration_samples(seconds, model.config.sample_rate),
                               rng=np.random.default_rng(0))[0]
    model.train()
    folder = out / SAMPLES_DIR
    folder.mkdir(exist_ok=True)
    save_audio(folder / f"step_{step:07d}.wav", audio, sample_rate=model.config.sample_rate)
    run.tb.audio("generated/sample", step, audio, model.config.sample_rate)
