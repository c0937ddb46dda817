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
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from dlwa.melody_rnn.encoding import Encoding, OneHotEncoding
from dlwa.melody_rnn.model import KIND, MelodyRnn, MelodyRnnConfig, load_weights, save_model
from dlwa.training import (
    beside_bar,
    check_output,
    check_same_config,
    progress_bar,
    save_state,
    write_json,
)

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
        batch_size: Melodies per batch (Magenta uses 128).
        eval_every: Updates between validation runs and checkpoint saves.
        seed: Random seed for shuffling, dropout and initialisation.
        max_train_steps: Melodies are cut to this many steps for training.
    """

    n_updates: int = 2000
    max_minutes: float | None = None
    batch_size: int = 64
    eval_every: int = 200
    seed: int = 0
    max_train_steps: int = MAX_TRAIN_STEPS


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
def evaluate(model: MelodyRnn, melodies: Sequence[np.ndarray], *, batch_size: int = 64
             ) -> Metrics:
    """Event-level and label-level NLL per step and accuracy of ``model`` (see Metrics)."""
    model.eval()
    encoding = model.encoding
    sums = np.zeros(4)  # event nll, event correct, label nll, label correct
    total = 0
    for group in batches(melodies, batch_size, None):
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
    out = check_output(out, kind=KIND, state_file=STATE_FILE, resume=resume)
    torch.manual_seed(options.seed)
    model = MelodyRnn(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    update = _resume(out, model, optimizer, config, log) if resume else 0
    out.mkdir(parents=True, exist_ok=True)
    write_json({"config": config.to_dict(), "options": vars(options), "data": data_description},
               out / "train_config.json")
    rng = np.random.default_rng(options.seed + update)
    cut = [m[:options.max_train_steps] for m in train_melodies]
    metrics, start, start_update = None, time.monotonic(), update
    stopped = False
    log = beside_bar(log)
    cap = "" if options.max_minutes is None else f", stops at the {options.max_minutes:g} min cap"
    try:
        with progress_bar(options.n_updates, update, unit="update") as bar:
            while update < options.n_updates and not stopped:
                for group in batches(cut, options.batch_size, rng):
                    loss = _update(model, optimizer, group, config.clip_norm)
                    update += 1
                    elapsed = time.monotonic() - start
                    bar.set_postfix_str(f"loss {loss:.4f}{cap}", refresh=False)
                    bar.update()
                    out_of_time = (options.max_minutes is not None
                                   and elapsed > 60 * options.max_minutes)
                    if (update % options.eval_every == 0 or update >= options.n_updates
                            or out_of_time):
                        rate = (update - start_update) / max(elapsed, 1e-9)
                        eta = (options.n_updates - update) / max(rate, 1e-9)
                        cap_left = ("" if options.max_minutes is None else
                                    f"; the {options.max_minutes:g} min cap stops it in "
                                    f"{_duration(max(0.0, 60 * options.max_minutes - elapsed))}")
                        log(f"update {update}/{options.n_updates}  loss {loss:.4f}  "
                            f"{rate:.2f} updates/s  ETA {_duration(eta)}{cap_left}")
                        metrics = _checkpoint(model, optimizer, update, validation_melodies,
                                              out, config, options, data_description, log)
                        log(f"saved step {update} to {out}")
                    if update >= options.n_updates or out_of_time:
                        stopped = out_of_time
                        break
    except KeyboardInterrupt:  # save without validation, which could take long
        _checkpoint(model, optimizer, update, (), out, config, options, data_description, log)
        log(f"interrupted at step {update}: saved; run the same command with --resume "
            "to continue")
        raise
    if stopped:
        log(f"stopped after {options.max_minutes} minutes at update {update}; "
            "run the same command with --resume to continue")
    return metrics


def _update(model: MelodyRnn, optimizer: torch.optim.Optimizer, group: list[np.ndarray],
            clip_norm: float) -> float:
    model.train()
    inputs, targets, mask = make_batch(group, model.encoding)
    logits, _ = model(inputs)
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    loss = (nll * mask).sum() / mask.sum()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return float(loss.detach())


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
    save_state({"update": update, "optimizer": optimizer.state_dict(),
                "config": config.to_dict()}, out / STATE_FILE)
    return metrics


def _resume(out: Path, model: MelodyRnn, optimizer: torch.optim.Optimizer,
            config: MelodyRnnConfig, log: Callable[[str], None]) -> int:
    state = torch.load(out / STATE_FILE, weights_only=True)
    check_same_config(state["config"], config.to_dict(), where=out)
    load_weights(model, out)
    optimizer.load_state_dict(state["optimizer"])
    log(f"resuming {out} at update {state['update']}")
    return int(state["update"])


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"
