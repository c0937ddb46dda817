"""Import a Magenta GANSynth model without TensorFlow (``dlwa import gansynth``).

A Magenta GANSynth model folder (the course's ``all_instruments``, ``acoustic_only`` and
students' own models) holds:

- ``experiment.json``: the flags ``gansynth_train`` ran with (``latent_vector_size``,
  ``start_height``, ``num_resolutions``, ``fmap_base``, ``data_type``, ``data_normalizer``,
  ``audio_length``, …). Flags it lacks take the defaults of Magenta's ``set_flags``, as
  ``Model.load_from_path`` does.
- ``stage_000NN/``: one folder per stage of progressive training, each with a
  ``checkpoint`` file naming its latest ``model.ckpt-N`` (a relative or absolute path) and
  that checkpoint's ``.index`` and ``.data-*`` files (TF's tensor-bundle format, read here
  with :mod:`dlwa.tf_checkpoint`). The last stage is used, as Magenta does.
- ``meta.json`` (custom models trained with the course's fork of Magenta): one entry per
  training note; the model's pitch classes are its distinct ``pitch`` values, sorted. Without
  it the pitches are NSynth's 24–84.
- ``assets/specgrams_simple_normalizer.npz`` or ``assets/specgrams_freq_normalizer.npz``:
  the data normaliser's scales when ``data_normalizer`` is not the pre-specified one (whose
  constants are flags).

Magenta generates with the exponential moving averages of the generator's weights (the
``…/ExponentialMovingAverage`` copies its ``load_scope`` reads), so those become the
generator's weights; the discriminator and optimiser state are left out. A model whose
training stopped early (an earlier stage, or a block still fading in) keeps the growth
``progress`` Magenta computes from the checkpoint's ``global_step`` (or training time), and
blocks that stage has not reached get zero weights, which that progress never uses.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlwa import tf_checkpoint
from dlwa.checkpoints import CheckpointError, config_from_dict
from dlwa.gansynth.model import (
    KIND,
    MAGENTA_PITCHES,
    NORMALIZERS,
    GANSynthConfig,
    generator_model,
    magenta_variable_name,
)

EMA_SUFFIX = "/ExponentialMovingAverage"
STAGE_DIR = re.compile(r"stage_(\d+)")
CKPT_NAME = re.compile(r"model\.ckpt-(\d+)\.index")

# Magenta's set_flags defaults (gansynth/lib/model.py) for every flag read here.
MAGENTA_DEFAULTS: dict[str, Any] = {
    "dataset_name": "nsynth_tfds", "data_type": "mel", "audio_length": 64000,
    "sample_rate": 16000, "data_normalizer": NORMALIZERS[0],
    "mag_normalizer_a": 0.0661371661726, "mag_normalizer_b": 0.113718730221,
    "p_normalizer_a": 0.8, "p_normalizer_b": 0.0, "stable_stage_num_images": 32,
    "transition_stage_num_images": 32, "total_num_images": 320, "train_progressive": True,
    "train_time_limit": None, "train_time_stage_multiplier": 1.0, "g_fn": "specgram",
    "latent_vector_size": 256, "kernel_size": 3, "start_height": 4, "start_width": 8,
    "scale_mode": "ALL", "scale_base": 2, "num_resolutions": 7, "simple_arch": False,
    "to_rgb_activation": "tanh", "fmap_base": 512, "fmap_decay": 1.0, "fmap_max": 128,
    "train_meta_path": "",
}
# Flags whose other values build a different network; dlwa has only this one.
REQUIRED_FLAGS: dict[str, Any] = {"g_fn": "specgram", "scale_mode": "ALL", "scale_base": 2,
                                  "simple_arch": False}
CONDITIONED_DATASETS = ("nsynth_qualities_tfrecord",)  # extra generator inputs (fork)


class GANSynthImportError(ValueError):
    """The folder is not a Magenta GANSynth model this importer supports; says why."""


@dataclass
class MagentaModel:
    """What a Magenta GANSynth folder holds, read and checked (no weights mapped yet)."""

    root: Path
    flags: dict[str, Any]
    stage_id: int
    checkpoint: Path  # the model.ckpt-N prefix
    pitches: tuple[int, ...]
    pitches_from: str
    tensors: dict[str, np.ndarray]


# ----- the folder


def read_flags(model_dir: Path) -> dict[str, Any]:
    """``experiment.json`` with Magenta's defaults for the flags it lacks.

    Raises:
        GANSynthImportError: the file is missing or not a JSON object.
    """
    path = model_dir / "experiment.json"
    if not path.is_file():
        have = ", ".join(sorted(p.name for p in model_dir.iterdir())[:8]) or "nothing"
        raise GANSynthImportError(f"{path} is missing: a Magenta GANSynth model folder holds "
                                  f"experiment.json and stage_* folders (this one holds: {have})")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GANSynthImportError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise GANSynthImportError(f"{path} must hold a JSON object of flags, not "
                                  f"{type(data).__name__}")
    return {**MAGENTA_DEFAULTS, **data}


def last_stage(model_dir: Path) -> tuple[int, Path]:
    """``(stage_id, folder)`` of the highest ``stage_N`` folder.

    Raises:
        GANSynthImportError: there is none.
    """
    stages = [(int(m.group(1)), p) for p in model_dir.iterdir()
              if p.is_dir() and (m := STAGE_DIR.fullmatch(p.name))]
    if not stages:
        raise GANSynthImportError(f"no stage_* folder in {model_dir}: the weights of a Magenta "
                                  "GANSynth model are in stage_000NN/model.ckpt-N.*")
    return max(stages)


def latest_checkpoint(stage_dir: Path) -> Path:
    """The ``model.ckpt-N`` prefix the stage's ``checkpoint`` file names.

    The path in it may be relative (to the stage folder) or absolute; an absolute path
    from another machine is looked for in the stage folder by its file name. Without a
    ``checkpoint`` file, the highest-numbered checkpoint with an ``.index`` is used.

    Raises:
        GANSynthImportError: no checkpoint, or the one named is missing.
    """
    state = stage_dir / "checkpoint"
    if state.is_file():
        match = re.search(r'^model_checkpoint_path:\s*"(.*)"\s*$', state.read_text(),
                          re.MULTILINE)
        if not match:
            raise GANSynthImportError(f"{state} names no model_checkpoint_path")
        named = Path(match.group(1))
        prefix = named if named.is_absolute() else stage_dir / named
        if not Path(f"{prefix}.index").is_file() and named.is_absolute():
            prefix = stage_dir / named.name
        if not Path(f"{prefix}.index").is_file():
            raise GANSynthImportError(f"{state} names {match.group(1)}, but {prefix}.index "
                                      "is missing")
        return prefix
    found = [(int(m.group(1)), p) for p in stage_dir.iterdir()
             if (m := CKPT_NAME.fullmatch(p.name))]
    if not found:
        raise GANSynthImportError(f"no checkpoint in {stage_dir} (no 'checkpoint' file and no "
                                  "model.ckpt-N.index)")
    return stage_dir / max(found)[1].name.removesuffix(".index")


def read_pitches(model_dir: Path, flags: dict[str, Any]) -> tuple[tuple[int, ...], str]:
    """The model's pitch classes and where they came from.

    ``meta.json`` in the folder, else the one ``train_meta_path`` names (the course's fork
    of Magenta reads the same files), else NSynth's 24–84.

    Raises:
        GANSynthImportError: a meta.json that cannot be read or holds no valid pitch, or a
            ``train_meta_path`` that is missing.
    """
    path = model_dir / "meta.json"
    if not path.is_file() and flags.get("train_meta_path"):
        named = Path(os.path.expanduser(str(flags["train_meta_path"])))
        path = named if named.is_absolute() else model_dir / named
        if not path.is_file():
            raise GANSynthImportError(
                f"experiment.json's train_meta_path {flags['train_meta_path']} is missing: "
                f"copy the dataset's meta.json into {model_dir} (its pitches are the model's)")
    if not path.is_file():
        return MAGENTA_PITCHES, "NSynth (24-84)"
    try:
        meta = json.loads(path.read_text())
        values = [note["pitch"] for note in meta.values()]
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, TypeError,
            KeyError) as exc:
        raise GANSynthImportError(f"{path} is not a GANSynth meta.json (an object of notes "
                                  f"with a 'pitch' each): {exc!r}") from None
    bad = [v for v in values if not isinstance(v, int) or isinstance(v, bool)
           or not 0 <= v <= 127]
    if bad or not values:
        raise GANSynthImportError(f"{path}: pitches must be MIDI numbers 0-127, got "
                                  f"{bad[0] if bad else 'no notes'}")
    return tuple(sorted(set(values))), str(path)


def open_model(model_dir: str | os.PathLike[str]) -> MagentaModel:
    """Read a Magenta GANSynth folder: flags, last stage, checkpoint, pitches.

    Raises:
        GANSynthImportError: the folder, a file in it or the checkpoint is missing or
            malformed.
    """
    root = Path(model_dir).expanduser()
    if not root.is_dir():
        raise GANSynthImportError(f"{root} is not a folder: give the Magenta GANSynth model "
                                  "folder (the one holding experiment.json and stage_*)")
    flags = read_flags(root)
    stage_id, stage_dir = last_stage(root)
    prefix = latest_checkpoint(stage_dir)
    pitches, source = read_pitches(root, flags)
    try:
        tensors = tf_checkpoint.read_tensor_bundle(prefix)
    except tf_checkpoint.TFCheckpointError as exc:
        raise GANSynthImportError(str(exc)) from exc
    return MagentaModel(root, flags, stage_id, prefix, pitches, source, tensors)


# ----- flags → config


def config_from_flags(flags: dict[str, Any], pitches: tuple[int, ...], *,
                      where: str = "experiment.json") -> GANSynthConfig:
    """The :class:`GANSynthConfig` Magenta's flags describe.

    Raises:
        GANSynthImportError: a network or data type dlwa does not have, or a value out of
            range (one line naming the flag).
    """
    for flag, needed in REQUIRED_FLAGS.items():
        if flags.get(flag) != needed:
            raise GANSynthImportError(f"{where}: {flag} = {flags.get(flag)!r} is not supported "
                                      f"(dlwa's GANSynth is Magenta's {flag} = {needed!r})")
    if flags.get("dataset_name") in CONDITIONED_DATASETS:
        raise GANSynthImportError(f"{where}: dataset_name {flags['dataset_name']!r} conditions "
                                  "the generator on more than pitch; dlwa supports pitch only")
    if flags.get("data_type") not in ("mel", "linear"):
        raise GANSynthImportError(f"{where}: data_type {flags.get('data_type')!r} is not "
                                  "supported (dlwa imports 'mel' and 'linear' models)")
    fields = {name: flags[name] for name in (
        "latent_vector_size", "start_height", "start_width", "num_resolutions", "fmap_base",
        "fmap_decay", "fmap_max", "kernel_size", "to_rgb_activation", "data_type",
        "data_normalizer", "sample_rate", "audio_length")}
    if isinstance(fields["fmap_decay"], int) and not isinstance(fields["fmap_decay"], bool):
        fields["fmap_decay"] = float(fields["fmap_decay"])
    fields["pitches"] = list(pitches)
    try:
        return config_from_dict(GANSynthConfig, fields, where=where, prefix="")
    except CheckpointError as exc:
        raise GANSynthImportError(str(exc)) from None


# ----- progress


def stage_blocks(stage_id: int, num_resolutions: int) -> int:
    """Blocks Magenta's stage ``stage_id`` builds (``train_util.get_stage_info``)."""
    return min((stage_id + 1) // 2 + 1, num_resolutions)


def magenta_progress(flags: dict[str, Any], num_blocks: int, global_step: int,
                     train_time: float | None) -> float:
    """Magenta's growth progress at a checkpoint, in float32 as TF computes it.

    ``networks.compute_progress`` (images seen) or, with ``train_time_limit``,
    ``compute_progress_from_time``; ``num_blocks - 1`` without progressive training.
    """
    f32 = np.float32
    if not flags["train_progressive"]:
        return float(num_blocks - 1)
    if flags["train_time_limit"] is not None:
        if train_time is None:
            raise GANSynthImportError("experiment.json sets train_time_limit, but the "
                                      "checkpoint has no training time ('Variable')")
        num_stages = 2 * int(flags["num_resolutions"]) - 1
        times = np.zeros(num_stages, f32)
        times[0] = 1.0
        for i in range(1, num_stages):
            times[i] = times[i - 1] * flags["train_time_stage_multiplier"]
        times *= flags["train_time_limit"] / np.sum(times)
        times = np.cumsum(times)
        progress = f32(0.0)
        for i in range(1, num_stages, 2):
            share = (f32(train_time) - times[i - 1]) / (times[i] - times[i - 1])
            progress = f32(progress + np.clip(share, f32(0.0), f32(1.0)))
        return float(min(progress, f32(num_blocks - 1)))
    stable = int(flags["stable_stage_num_images"])
    transition = int(flags["transition_stage_num_images"])
    capped = min(global_step, num_blocks * stable + (num_blocks - 1) * transition - 1)
    whole = capped // (stable + transition)
    fraction = max(f32(0.0), f32(capped % (stable + transition) - stable) / f32(transition))
    return float(f32(whole) + fraction)


# ----- weights


def _scalar(tensors: dict[str, np.ndarray], name: str) -> Any:
    value = tensors.get(name)
    return None if value is None or value.size != 1 else value.reshape(()).item()


def generator_weights(tensors: dict[str, np.ndarray], config: GANSynthConfig, num_blocks: int,
                      *, where: str) -> dict[str, np.ndarray]:
    """The generator's state dict from Magenta's EMA variables (TF layout → torch).

    Blocks above ``num_blocks`` (not grown yet) get zeros.

    Raises:
        GANSynthImportError: variables missing or of the wrong shape, one line each.
    """
    expected = generator_model(config).generator.state_dict()
    state: dict[str, np.ndarray] = {}
    problems: list[str] = []
    for key, target in expected.items():
        shape = tuple(target.shape)
        if int(key.split(".")[1]) + 1 > num_blocks:
            state[f"generator.{key}"] = np.zeros(shape, np.float32)
            continue
        name = magenta_variable_name(f"generator.{key}") + EMA_SUFFIX
        value = tensors.get(name)
        if value is None:
            problems.append(f"{name} is missing")
            continue
        if value.ndim == 4:  # [kh, kw, in, out] → [out, in, kh, kw]
            value = value.transpose(3, 2, 0, 1)
        if tuple(value.shape) != shape:
            problems.append(f"{name} has shape {list(tensors[name].shape)}, experiment.json "
                            f"implies {_tf_shape(shape)}{_input_hint(key, value, config)}")
            continue
        state[f"generator.{key}"] = np.ascontiguousarray(value, dtype=np.float32)
    used = {magenta_variable_name(f"generator.{key}") + EMA_SUFFIX for key in expected}
    problems += [f"{name} is not part of the generator experiment.json describes"
                 for name in sorted(tensors) if name.startswith("Generator/")
                 and name.endswith(EMA_SUFFIX) and name not in used]
    if problems:
        raise GANSynthImportError(f"{where}: the checkpoint does not match experiment.json "
                                  "and the pitch set:\n  " + "\n  ".join(problems))
    return state


def _input_hint(key: str, value: np.ndarray, config: GANSynthConfig) -> str:
    """For the first conv: how many pitch classes its input width implies."""
    if key != "blocks.0.conv0.weight" or value.ndim != 4:
        return ""
    pitches = value.shape[1] - config.latent_vector_size
    if pitches == config.n_pitches:
        return ""
    return (f" (its input is latent_vector_size {config.latent_vector_size} + {pitches} "
            f"pitch classes, not {config.n_pitches}: is the model's meta.json missing or "
            "another one?)")


def _tf_shape(torch_shape: tuple[int, ...]) -> list[int]:
    if len(torch_shape) == 4:
        out, inp, kh, kw = torch_shape
        return [kh, kw, inp, out]
    return list(torch_shape)


def normalizer_scales(model: MagentaModel, config: GANSynthConfig
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` of the data normaliser, each ``[2, 1]`` or ``[2, n_freq]`` (float32).

    Raises:
        GANSynthImportError: the normaliser file is missing or of the wrong shape.
    """
    flags = model.flags
    kind = config.data_normalizer
    if kind == NORMALIZERS[0]:
        for name in ("mag_normalizer_a", "mag_normalizer_b", "p_normalizer_a", "p_normalizer_b"):
            value = flags[name]
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not np.isfinite(value) or (name.endswith("_a") and value == 0)):
                raise GANSynthImportError(f"{model.root / 'experiment.json'}: {name} must be a "
                                          f"{'non-zero ' if name.endswith('_a') else ''}"
                                          f"number, got {value!r}")
        a = [[flags["mag_normalizer_a"]], [flags["p_normalizer_a"]]]
        b = [[flags["mag_normalizer_b"]], [flags["p_normalizer_b"]]]
        return np.asarray(a, np.float32), np.asarray(b, np.float32)
    path = model.root / "assets" / f"{kind}.npz"
    if not path.is_file():
        raise GANSynthImportError(f"{path} is missing: a model trained with {kind} keeps its "
                                  "scales there")
    try:
        with np.load(path, allow_pickle=False) as data:
            stats = np.asarray(data["normalizer"], np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise GANSynthImportError(f"{path} is not a Magenta normaliser file: {exc!r}") from None
    n_freq = config.final_resolution[1]
    shape = (4,) if kind == NORMALIZERS[1] else (n_freq, 4)
    if stats.shape != shape:
        raise GANSynthImportError(f"{path} holds an array of shape {list(stats.shape)}, "
                                  f"{kind} needs {list(shape)}")
    stats = stats.reshape(-1, 4)  # rows of (m_a, m_b, p_a, p_b)
    if not np.all(np.isfinite(stats)) or np.any(stats[:, [0, 2]] == 0):
        raise GANSynthImportError(f"{path}: scales must be finite and non-zero")
    a = np.stack([stats[:, 0], stats[:, 2]])
    b = np.stack([stats[:, 1], stats[:, 3]])
    return a.astype(np.float32), b.astype(np.float32)


# ----- the whole import


@dataclass
class Converted:
    """A converted model: config, state dict and facts for the checkpoint's ``training``."""

    config: GANSynthConfig
    state: dict[str, np.ndarray]
    training: dict[str, Any]


def convert(model_dir: str | os.PathLike[str]) -> Converted:
    """Read and map a Magenta GANSynth folder; writes nothing.

    Raises:
        GANSynthImportError: what is missing, malformed or unsupported (one line, or one
            line per mismatched variable).
    """
    model = open_model(model_dir)
    where = str(model.checkpoint)
    config = config_from_flags(model.flags, model.pitches,
                               where=str(model.root / "experiment.json"))
    n_stages = 2 * config.num_resolutions - 1
    if model.stage_id >= n_stages:
        raise GANSynthImportError(f"{model.root}: stage_{model.stage_id:05d} is beyond the "
                                  f"{n_stages} stages of num_resolutions "
                                  f"{config.num_resolutions} (stages 0-{n_stages - 1})")
    num_blocks = stage_blocks(model.stage_id, config.num_resolutions)
    global_step = _scalar(model.tensors, "global_step")
    if global_step is None:
        raise GANSynthImportError(f"{where}: no global_step (images seen), so the stage of "
                                  "training is unknown; is this a GANSynth checkpoint?")
    progress = magenta_progress(model.flags, num_blocks, int(global_step),
                                _scalar(model.tensors, "Variable"))
    complete = num_blocks == config.num_resolutions and progress >= num_blocks - 1
    state = generator_weights(model.tensors, config, num_blocks, where=where)
    a, b = normalizer_scales(model, config)
    state["normalizer.a"], state["normalizer.b"] = a, b
    training = {
        "imported_from": str(model.root), "format": "Magenta GANSynth",
        "checkpoint": str(model.checkpoint.relative_to(model.root)),
        "stage": model.stage_id, "images": int(global_step), "progress": progress,
        "complete": complete, "pitches_from": model.pitches_from,
        "data_normalizer": config.data_normalizer,
    }
    return Converted(config, state, training)


def convert_magenta(model_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """``dlwa import gansynth``: convert a Magenta GANSynth model into a dlwa checkpoint.

    Everything is read and checked before anything is written; ``out_dir`` must be new or
    empty (an existing model is never overwritten).

    Args:
        model_dir: The Magenta model folder (``experiment.json`` + ``stage_*``).
        out_dir: The dlwa checkpoint folder to write.

    Returns:
        The checkpoint folder.

    Raises:
        GANSynthImportError: the model cannot be imported (says why).
        OutputFolderError: ``out_dir`` is a file or not empty.
    """
    from dlwa.checkpoints import save_checkpoint
    from dlwa.training import OutputFolderError, check_output

    try:
        out = check_output(out_dir, kind=KIND, state_file="train_state.pt", resume=False)
    except OutputFolderError as exc:
        if "--resume" not in str(exc):
            raise
        raise OutputFolderError(f"--out {Path(out_dir).expanduser()} already holds a model "
                                "and is never overwritten: choose a new folder for --out"
                                ) from None
    converted = convert(model_dir)
    return save_checkpoint(out, KIND, converted.config.to_dict(), converted.state,
                           sample_rate=converted.config.sample_rate,
                           training=converted.training)
