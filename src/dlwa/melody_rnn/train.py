"""Train and evaluate MelodyRNN on melodies from MIDI files.

``train`` writes its full configuration first (``train_config.json``), shows progress with
an ETA, evaluates on the held-out split, saves a checkpoint (``config.json`` +
``weights.safetensors``) at each evaluation, appends the figures to ``train_log.jsonl`` and
keeps the optimiser state in ``training_state.pt`` beside it, so a run stopped at any point
resumes where its last checkpoint left off. ``evaluate`` gives the
mean negative log-likelihood per step (nats) and next-event accuracy; ``bigram_baseline``
gives the same figures for a smoothed bigram model of the one-hot events, as a floor.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from dlwa.melody_rnn.encoding import Encoding, OneHotEncoding
from dlwa.melody_rnn.model import KIND, MelodyRnn, MelodyRnnConfig, load_weights, save_model
from dlwa.training import (
    check_output,
    check_same_config,
    fresh_output,
    save_state,
    write_json,
)
from dlwa.training.distributed import Placement, step_generator, unwrap
from dlwa.training.logs import TrainLog, melody_pitches, piano_roll_image
from dlwa.training.options import RunOptions
from dlwa.training.run import TrainingRun

STATE_FILE = "training_state.pt"
LOG_FILE = "train_log.jsonl"
MAX_TRAIN_STEPS = 256
"""Training melodies are cut to their first 256 steps (16 bars) to bound batch time."""


@dataclass
class TrainOptions:
    """How long and how to train.

    Attributes:
        n_updates: Optimiser updates in total (a resumed run counts those already done).
        max_minutes: Stop (and save) after this much wall-clock time; None for no limit.
        batch_size: Melodies per batch over all processes (Magenta uses 128).
        eval_every: Updates between validation runs and checkpoint saves.
        seed: Random seed for batches, dropout and initialisation.
        max_train_steps: Melodies are cut to this many steps for training.
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: torch CPU threads.
        force: Replace the model or run in the output folder.
        logdir: TensorBoard folder (default ``<out>/logs``).
    """

    n_updates: int = 2000
    max_minutes: float | None = None
    batch_size: int = 64
    eval_every: int = 200
    seed: int = 0
    max_train_steps: int = MAX_TRAIN_STEPS
    device: str = "auto"
    threads: int = 1
    force: bool = False
    logdir: str | None = None

    def run_options(self, resume: bool) -> RunOptions:
        return RunOptions(steps=self.n_updates, batch_size=self.batch_size,
                          max_minutes=self.max_minutes, seed=self.seed, device=self.device,
                          threads=self.threads, resume=resume, force=self.force,
                          logdir=Path(self.logdir) if self.logdir else None)


@dataclass
class Metrics:
    """Next-event prediction quality over melodies.

    ``nll`` (nats per step) and ``accuracy`` are over melody events (the probabilities of
    classes that stand for the same event, e.g. "repeat the event a bar ago" and that
    event itself, are added), so they compare across encodings and with the bigram
    baseline. ``label_nll`` and ``label_accuracy`` are over the encoding's own classes
    (the training loss, as Magenta reports it); for ``basic_rnn`` both are the same.
    """

    nll: float
    accuracy: float
    n_steps: int
    label_nll: float | None = None
    label_accuracy: float | None = None

    def to_dict(self) -> dict[str, float]:
        out = {"nll": round(self.nll, 5), "accuracy": round(self.accuracy, 5),
               "n_steps": self.n_steps}
        if self.label_nll is not None and self.label_accuracy is not None:
            out.update(label_nll=round(self.label_nll, 5),
                       label_accuracy=round(self.label_accuracy, 5))
        return out


def make_batch(melodies: Sequence[np.ndarray], encoding: Encoding
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs [batch, n, input_size], targets [batch, n] and mask [batch, n] (padded).

    The input at step t is paired with the label of step t + 1, as in Magenta.
    """
    n = max(len(m) for m in melodies) - 1
    inputs = np.zeros((len(melodies), n, encoding.input_size), dtype=np.float32)
    targets = np.zeros((len(melodies), n), dtype=np.int64)
    mask = np.zeros((len(melodies), n), dtype=np.float32)
    for i, melody in enumerate(melodies):
        k = len(melody) - 1
        inputs[i, :k] = encoding.inputs(melody)[:-1]
        targets[i, :k] = encoding.labels(melody)[1:]
        mask[i, :k] = 1.0
    return torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(mask)


def batches(melodies: Sequence[np.ndarray], batch_size: int, rng: np.random.Generator | None
            ) -> Iterator[list[np.ndarray]]:
    """Batches of similar length (little padding), in random order when ``rng`` is given."""
    usable = [m for m in melodies if len(m) >= 2]
    order = np.argsort([len(m) for m in usable], kind="stable")
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(groups)
    for group in groups:
        yield [usable[i] for i in group]


@torch.no_grad()
def evaluate(model: MelodyRnn, melodies: Sequence[np.ndarray], *, batch_size: int = 64,
             progress: Callable[[int, int], None] | None = None) -> Metrics:
    """Event-level and label-level NLL per step and accuracy of ``model`` (see Metrics).

    ``progress(done, total)`` is called with the melodies scored so far.
    """
    model.eval()
    encoding = model.encoding
    sums = np.zeros(4)  # event nll, event correct, label nll, label correct
    total = 0
    n_done, n_total = 0, sum(len(m) >= 2 for m in melodies)
    for group in batches(melodies, batch_size, None):
        n_done += len(group)
        if progress is not None:
            progress(n_done, n_total)
        inputs, targets, mask = make_batch(group, encoding)
        logits, _ = model(inputs)
        log_p = torch.log_softmax(logits, dim=-1)
        sums[2] -= float((log_p.gather(-1, targets[..., None])[..., 0] * mask).sum())
        sums[3] += float(((logits.argmax(-1) == targets).float() * mask).sum())
        n_codes = OneHotEncoding(encoding.min_note, encoding.max_note).num_classes
        for i, melody in enumerate(group):
            k = len(melody) - 1
            codes = torch.from_numpy(encoding.event_codes(melody)[:k])
            event_p = torch.zeros(k, n_codes).scatter_add_(1, codes, log_p[i, :k].exp())
            truth = torch.from_numpy(OneHotEncoding(encoding.min_note, encoding.max_note)
                                     .encode(melody)[1:])
            sums[0] -= float(torch.log(event_p.gather(1, truth[:, None]).clamp_min(1e-30)).sum())
            sums[1] += float((event_p.argmax(1) == truth).sum())
        total += int(mask.sum())
    if total == 0:
        raise ValueError("no melody of at least 2 steps to evaluate")
    nll, correct, label_nll, label_correct = (float(x) / total for x in sums)
    return Metrics(nll, correct, total, label_nll, label_correct)


def bigram_baseline(train: Sequence[np.ndarray], test: Sequence[np.ndarray], *,
                    min_note: int, max_note: int, smoothing: float = 0.1) -> Metrics:
    """A bigram model of one-hot melody events (add-``smoothing``), scored on ``test``.

    Its classes are the basic one-hot events, so its NLL compares directly with
    ``basic_rnn``'s (the lookback and key encodings predict the same events with two
    extra repeat classes; their NLL is over their own classes).
    """
    encoding = OneHotEncoding(min_note, max_note)
    k = encoding.num_classes
    counts = np.full((k, k), smoothing)
    for melody in train:
        codes = encoding.encode(melody)
        np.add.at(counts, (codes[:-1], codes[1:]), 1.0)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    nll, correct, total = 0.0, 0, 0
    for melody in test:
        codes = encoding.encode(melody)
        nll -= float(log_p[codes[:-1], codes[1:]].sum())
        correct += int((log_p[codes[:-1]].argmax(axis=1) == codes[1:]).sum())
        total += len(codes) - 1
    return Metrics(nll / total, correct / total, total)


def train(
    train_melodies: Sequence[np.ndarray],
    validation_melodies: Sequence[np.ndarray],
    *,
    config: MelodyRnnConfig,
    out: Path,
    options: TrainOptions,
    data_description: str = "",
    log: Callable[[str], None] = print,
    resume: bool = False,
) -> Metrics | None:
    """Train a MelodyRNN into ``out``, a new or empty folder (or continue a run there).

    Under ``torchrun`` each process takes its share of every batch (DDP) and rank 0
    writes. Batches, dropout and the order of an epoch depend only on the seed and the
    update, so a resumed or multi-process run follows the same path as one uninterrupted
    process. Each evaluation reports the held-out NLL beside a bigram model's.

    Args:
        train_melodies, validation_melodies: Event arrays (see ``data.load_melodies``).
        config: The model configuration; a resumed run must use the same one.
        out: The checkpoint directory to write: new or empty, unless ``resume``.
        options: Length and batching of the run.
        data_description: What the data was, saved in the checkpoint.
        log: Where progress lines go.
        resume: Continue the unfinished run in ``out`` (its ``training_state.pt``).

    Returns:
        The last validation metrics (None without validation melodies).

    Raises:
        OutputFolderError: ``out`` holds a model or other files (and not ``resume``), or
            there is no run with this configuration to resume.
    """
    run_options = options.run_options(resume)
    placement = Placement.start(options.device)
    main = placement.is_main
    out = (check_output(out, kind=KIND, state_file=STATE_FILE, resume=resume,
                        force=options.force) if main else Path(out))
    torch.manual_seed(options.seed)
    model = MelodyRnn(config)
    optimizer_state = None
    update = 0
    if resume:
        update, optimizer_state = _resume(out, model, config, log if main else _quiet)
    if main:
        with fresh_output(out, resume=resume, force=options.force):
            out.mkdir(parents=True, exist_ok=True)
        write_json({"config": config.to_dict(), "options": asdict(options),
                    "data": data_description}, out / "train_config.json")
    placement.barrier()
    cut = [m[:options.max_train_steps] for m in train_melodies if len(m) >= 2]
    schedule = EpochSchedule(cut, options.batch_size, options.seed)
    baseline = (bigram_baseline(cut, validation_melodies, min_note=config.min_note,
                                max_note=config.max_note)
                if main and validation_melodies else None)
    metrics = None
    with TrainingRun(out, run_options, total=options.n_updates, done=update, log=log,
                     unit="update", placement=placement) as run:
        net = placement.wrap(model)
        optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)

        def checkpoint(validate: bool) -> Metrics | None:
            if not main:
                return None
            found = _checkpoint(model, optimizer, update, validation_melodies if validate
                                else (), out, config, options, data_description, run.log)
            if found is not None:
                scalars = {"validation/nll": found.nll, "validation/accuracy": found.accuracy}
                if baseline is not None:
                    scalars["validation/bigram_nll"] = baseline.nll
                    run.log(f"held-out nll {found.nll:.4f} vs bigram baseline "
                            f"{baseline.nll:.4f}" + ("" if found.nll < baseline.nll else
                                                     ": not yet better than the baseline"))
                run.tb.scalars(update, scalars)
                log_melody(run.tb, model, validation_melodies, update)
            return found

        try:
            while run.going(update):
                group = schedule.group(update)
                loss = _update(net, optimizer, group, config.clip_norm,
                               generator=step_generator(options.seed, update),
                               placement=placement)
                update += 1
                run.stepped(update, {"loss/train": loss,
                                     "learning_rate": optimizer.param_groups[0]["lr"]})
                if update % options.eval_every == 0 or update >= options.n_updates:
                    run.log(run.progress_line(update))
                    metrics = checkpoint(validate=True) or metrics
                    run.log(f"saved step {update} to {out}")
        except KeyboardInterrupt:  # save without validation, which could take long
            checkpoint(validate=False)
            run.log(f"interrupted at step {update}: saved; run the same command with --resume "
                    "to continue")
            raise
        if run.stopped_by_time and update % options.eval_every:
            metrics = checkpoint(validate=True) or metrics
    placement.close()
    return metrics


class EpochSchedule:
    """Which melodies form the batch of each update: epochs of length-sorted groups in an
    order drawn from ``(seed, epoch)``, so any update's batch is known without replaying
    the run (a resumed run continues mid-epoch exactly)."""

    def __init__(self, melodies: Sequence[np.ndarray], batch_size: int, seed: int) -> None:
        self.melodies = list(melodies)
        if not self.melodies:
            raise ValueError("no training melody of at least 2 steps")
        order = np.argsort([len(m) for m in self.melodies], kind="stable")
        self.groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        self.seed = seed

    def group(self, update: int) -> list[np.ndarray]:
        epoch, position = divmod(update, len(self.groups))
        permutation = np.random.default_rng([self.seed, epoch]).permutation(len(self.groups))
        return [self.melodies[i] for i in self.groups[permutation[position]]]


def log_melody(tb: TrainLog, model: MelodyRnn, primers: Sequence[np.ndarray], update: int,
               *, n_steps: int = 64) -> None:
    """A melody the model continues from the first held-out melody's first bar, as a
    piano roll (primer and continuation)."""
    if not tb.enabled:
        return
    from dlwa.melody_rnn.generate import GenerateOptions, Generator

    primer = np.asarray(primers[0][:16] if len(primers) else [60], dtype=np.int64)
    new, _ = Generator(model).continue_events(primer, n_steps, GenerateOptions(seed=update))
    model.train()
    events = np.concatenate([primer, new])
    tb.image("generated/piano_roll", update, piano_roll_image(melody_pitches(events)))


def _quiet(line: str) -> None:
    """The log of processes other than rank 0."""


def _update(model: torch.nn.Module, optimizer: torch.optim.Optimizer, group: list[np.ndarray],
            clip_norm: float, *, generator: torch.Generator | None = None,
            placement: Placement | None = None) -> float:
    """One update on ``group`` (the global batch; this process takes its rows)."""
    placement = placement or Placement()
    model.train()
    module = unwrap(model)
    n_steps = max(len(m) for m in group) - 1
    masks = module.dropout_masks(len(group), n_steps, generator)
    rows = placement.rows(len(group))
    mine = group[rows]
    local = mine or group[:1]  # a process without rows computes a zero-weight one
    inputs, targets, mask = make_batch(local, module.encoding)
    inputs, targets, mask = (t.to(placement.device) for t in (inputs, targets, mask))
    local_masks = None if masks is None else [
        m[rows][:len(local), :inputs.shape[1]].to(placement.device) for m in masks]
    if local_masks is not None and not mine:
        local_masks = [m.new_ones(len(local), inputs.shape[1], m.shape[2]) for m in masks]
    logits, _ = model(inputs, dropout_masks=local_masks)
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    total = sum(len(m) - 1 for m in group)
    weight = placement.world_size if mine else 0.0
    loss = (nll * mask).sum() * weight / total  # DDP's mean over processes: the global mean
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return placement.mean_of_shares(float(loss.detach()))


def _checkpoint(model: MelodyRnn, optimizer: torch.optim.Optimizer, update: int,
                validation: Sequence[np.ndarray], out: Path, config: MelodyRnnConfig,
                options: TrainOptions, data_description: str,
                log: Callable[[str], None]) -> Metrics | None:
    metrics = evaluate(model, validation) if validation else None
    if metrics is not None:
        log(f"validation at update {update}: nll {metrics.nll:.4f}  "
            f"accuracy {metrics.accuracy:.4f}  ({metrics.n_steps} steps)")
    training: dict[str, Any] = {"updates": update, "data": data_description,
                                "batch_size": options.batch_size,
                                "max_train_steps": options.max_train_steps}
    if metrics is not None:
        training["validation"] = metrics.to_dict()
    save_model(model, out, training=training)
    with open(out / LOG_FILE, "a") as log_file:  # one JSON line per save
        log_file.write(json.dumps({"time": time.time(), **training}) + "\n")
    # The state holds the weights too: a kill between the two saves cannot pair them wrongly.
    save_state({"update": update, "optimizer": optimizer.state_dict(),
                "model": model.state_dict(), "config": config.to_dict()}, out / STATE_FILE)
    return metrics


def _resume(out: Path, model: MelodyRnn, config: MelodyRnnConfig,
            log: Callable[[str], None]) -> tuple[int, dict[str, Any]]:
    """Load the run's weights into ``model``; returns its update and optimiser state."""
    state = torch.load(out / STATE_FILE, weights_only=True)
    check_same_config(state["config"], config.to_dict(), where=out)
    if "model" in state:
        model.load_state_dict(state["model"])
    else:  # a run saved before the state held the weights
        load_weights(model, out)
    log(f"resuming {out} at update {state['update']}")
    return int(state["update"]), state["optimizer"]
