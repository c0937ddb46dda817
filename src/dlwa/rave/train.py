"""``dlwa train rave``: acids-rave's model and losses, driven by PyTorch Lightning as
``rave train`` drives them, on a folder of audio read by :mod:`dlwa.rave.data`.

What a run writes into ``--out``:

- ``config.gin``: the operative gin configuration (what ``rave export`` reads);
- ``last.ckpt`` (Lightning: weights, optimisers, step) and ``best.ckpt`` (lowest
  validation loss); ``--resume`` continues from ``last.ckpt``;
- ``logs/``: TensorBoard, as RAVE logs it (losses, validation audio);
- at the end, ``<name>.ts``: the streaming TorchScript export (nn~, ``[rave~]``,
  ``dlwa stream rave``), and ``config.json`` saying what it is and how it was trained.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dlwa.rave.compat import import_rave
from dlwa.rave.data import FixedCrops, RandomCrops, load_audio_set
from dlwa.training.output import OutputFolderError, check_output, fresh_output, write_json

STATE_FILE = "last.ckpt"
PRESETS: dict[str, tuple[str, list[str]]] = {
    # ~1.2 M parameters in encoder and decoder, 512-sample hop: trains on a laptop CPU in an
    # hour and streams at a few per cent of one core (docs/rave.md).
    "cpu": ("v2_small", ["CAPACITY = 16"]),
}
"""dlwa's own configurations: an acids-rave config plus gin bindings."""


@dataclass
class RaveTrainConfig:
    """One ``dlwa train rave`` run's settings (saved in ``config.json``)."""

    config: str = "cpu"
    overrides: list[str] = field(default_factory=list)
    sample_rate: int = 16000
    n_signal: int = 65536
    steps: int = 10000
    phase_1_steps: int | None = None  # None: acids-rave's config decides (1,000,000 in v2)
    batch_size: int = 8
    val_every: int = 500
    max_minutes: float | None = None
    seed: int = 0
    threads: int = 1
    device: str = "auto"
    name: str | None = None
    export: bool = True
    logdir: str | None = None  # TensorBoard folder; None: <out>/logs


def gin_files_and_bindings(cfg: RaveTrainConfig) -> tuple[list[str], list[str]]:
    """The acids-rave gin files and bindings that ``cfg`` asks for."""
    rave = import_rave()
    configs = Path(rave.__file__).parent / "configs"
    files, bindings = [], []
    for part in cfg.config.split("+"):  # e.g. cpu+causal: dlwa's preset, then causal.gin
        name, extra = PRESETS.get(part, (part, []))
        bindings += extra
        path = Path(name) if name.endswith(".gin") else configs / f"{name}.gin"
        if not path.is_file():
            known = sorted(p.stem for p in configs.glob("*.gin")) + sorted(PRESETS)
            raise ValueError(f"unknown RAVE config '{name}': choose one of {', '.join(known)} "
                             "or give a .gin file")
        files.append(str(path))
    bindings = [*bindings, f"SAMPLING_RATE = {cfg.sample_rate}"]
    if cfg.phase_1_steps is not None:
        bindings.append(f"PHASE_1_DURATION = {cfg.phase_1_steps}")
    return files, [*bindings, *cfg.overrides]


def train(data: str | os.PathLike[str], out: str | os.PathLike[str], cfg: RaveTrainConfig, *,
          resume: bool = False, force: bool = False) -> Path:
    """Train (or with ``resume`` continue) a RAVE model on ``data`` into ``out``.

    Returns the exported ``.ts`` path (or the run folder when ``cfg.export`` is False).
    """
    out = check_output(out, kind="rave", state_file=STATE_FILE, resume=resume, force=force)
    rave = import_rave()
    import gin
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader

    torch.set_num_threads(cfg.threads)
    pl.seed_everything(cfg.seed, workers=True)
    gin.clear_config()
    gin.add_config_file_search_path(str(Path(rave.__file__).parent))
    if resume:
        saved = json.loads((out / "train_config.json").read_text())
        if saved.get("config") != cfg.config or saved.get("sample_rate") != cfg.sample_rate:
            raise OutputFolderError(
                f"--resume: {out} was trained with --config {saved.get('config')} at "
                f"{saved.get('sample_rate')} Hz; give the same settings to continue it")
        gin.parse_config_file(str(out / "config.gin"))
    else:
        files, bindings = gin_files_and_bindings(cfg)
        gin.parse_config_files_and_bindings(files, bindings)
    with fresh_output(out, resume=resume, force=force):
        audio = load_audio_set(data, sample_rate=cfg.sample_rate, n_signal=cfg.n_signal)
        out.mkdir(parents=True, exist_ok=True)
        if not resume:
            write_json({**asdict(cfg), "data": str(Path(data).resolve())},
                       out / "train_config.json")
    print(f"data: {audio.summary}; training on {audio.train_seconds / 60:.1f} min",
          file=sys.stderr)
    model = rave.RAVE(n_channels=1)
    if not resume:
        (out / "config.gin").write_text(gin.operative_config_str())
    from rave.dataset import random_phase_mangle
    from rave.transforms import Dequantize

    dequantize = Dequantize(16)

    def augment(x: Any) -> Any:
        import numpy as np

        if np.random.rand() < 0.8:  # as rave train: a random all-pass 80 % of the time
            x = random_phase_mangle(x, 20, 2000, 0.99, cfg.sample_rate)
        return dequantize(x.astype(np.float32))

    epoch = cfg.val_every * cfg.batch_size
    train_set = RandomCrops(audio.train, cfg.n_signal, epoch, augment=augment, seed=cfg.seed)
    val_set = FixedCrops(audio.validation, cfg.n_signal)
    accelerator = "gpu" if cfg.device == "cuda" or (
        cfg.device == "auto" and torch.cuda.is_available()) else "cpu"
    callbacks = [
        pl.callbacks.ModelCheckpoint(dirpath=str(out), monitor="validation",
                                     filename="best", save_top_k=1),
        pl.callbacks.ModelCheckpoint(dirpath=str(out), save_top_k=0, save_last=True,
                                     every_n_train_steps=cfg.val_every),
        rave.model.WarmupCallback(),
        rave.model.QuantizeCallback(),
        rave.model.BetaWarmupCallback(),
    ]
    trainer = pl.Trainer(
        logger=(pl.loggers.TensorBoardLogger(cfg.logdir, name="", version="") if cfg.logdir
                else pl.loggers.TensorBoardLogger(str(out), name="logs", version="")),
        accelerator=accelerator, devices=1, callbacks=callbacks,
        max_epochs=-1, max_steps=cfg.steps,
        max_time={"minutes": cfg.max_minutes} if cfg.max_minutes else None,
        check_val_every_n_epoch=1, log_every_n_steps=min(20, cfg.val_every),
        enable_progress_bar=True, num_sanity_val_steps=0)
    started = time.time()
    trainer.fit(model, DataLoader(train_set, cfg.batch_size, drop_last=True),
                DataLoader(val_set, cfg.batch_size),
                ckpt_path=str(out / STATE_FILE) if resume else None)
    trainer.save_checkpoint(str(out / STATE_FILE))
    step = int(trainer.global_step)
    minutes = (time.time() - started) / 60
    print(f"trained {step} steps in {minutes:.1f} min", file=sys.stderr)
    if not cfg.export:
        return out
    from dlwa.rave.convert import export_streaming

    name = cfg.name or out.name
    ts = export_streaming(out, name=name, checkpoint=out / STATE_FILE)
    write_json({"kind": "rave", "format_version": 1, "sample_rate": cfg.sample_rate,
                "model_file": ts.name,
                "config": {"config": cfg.config, "overrides": cfg.overrides},
                "training": {"data": str(Path(data).resolve()), "steps": step,
                             "batch_size": cfg.batch_size, "n_signal": cfg.n_signal,
                             "data_summary": audio.summary,
                             "validation": _last_validation(trainer)}},
               out / "config.json")
    return ts


def _last_validation(trainer: Any) -> float | None:
    value = trainer.callback_metrics.get("validation")
    return None if value is None or not math.isfinite(float(value)) else float(value)
