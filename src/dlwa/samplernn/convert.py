"""Import a PRiSM SampleRNN run without TensorFlow (``dlwa import samplernn``).

A PRiSM run folder holds ``model.ckpt-<epoch>.index`` and ``.data-*`` (TF's tensor-bundle
format, read by :mod:`dlwa.tf_checkpoint`), a ``checkpoint`` file and, in the course's
runs, the ``*.config.json`` it was trained with (PRiSM itself keeps the config apart: give
it with ``config``). The newest epoch is imported.

Keras stores dense and recurrent kernels as ``[in, out]`` (torch: ``[out, in]``), the GRU's
gates as (update, reset, candidate) with its two biases in one ``[2, 3·dim]`` variable
(torch: reset, update, new), the LSTM's single bias once (torch adds two), and the sample
MLP's Conv1D kernel as ``[width, in, out]``. The upsampling filters keep their layout.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlwa import tf_checkpoint
from dlwa.samplernn.model import SampleRNN, SampleRNNConfig, save_model

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


class SampleRNNImportError(ValueError):
    """The folder is not a PRiSM run this importer can read; the message says why."""


def find_prefix(path: str | os.PathLike[str]) -> Path:
    """The newest ``model.ckpt-<epoch>`` prefix in a run folder, or the prefix given."""
    path = Path(path)
    if path.is_dir():
        found = []
        for index in path.glob("model.ckpt-*.index"):
            match = re.fullmatch(r"model\.ckpt-(\d+)\.index", index.name)
            if match:
                found.append((int(match.group(1)), index.with_suffix("")))
        if not found:
            have = ", ".join(sorted(p.name for p in path.iterdir())[:6]) or "nothing"
            raise SampleRNNImportError(f"no model.ckpt-<epoch>.index in {path} (it holds: "
                                       f"{have}): give a PRiSM run folder")
        return max(found)[1]
    if Path(f"{path}.index").is_file():
        return path
    raise SampleRNNImportError(f"{path} is neither a PRiSM run folder nor a model.ckpt-N prefix")


def find_config(run: Path, config: str | os.PathLike[str] | None) -> Path:
    """The ``*.config.json`` given, or the only one in the run folder."""
    if config is not None:
        if not Path(config).is_file():
            raise SampleRNNImportError(f"--config {config}: no such file")
        return Path(config)
    found = sorted(run.glob("*.config.json"))
    if len(found) != 1:
        what = "none" if not found else ", ".join(p.name for p in found)
        raise SampleRNNImportError(f"{run} holds {what} *.config.json: give the one the run "
                                   "was trained with, --config <file>")
    return found[0]


def convert_weights(tensors: dict[str, np.ndarray], config: SampleRNNConfig
                    ) -> dict[str, torch.Tensor]:
    """PRiSM's checkpoint tensors → this package's ``SampleRNN`` state dict."""
    used: set[str] = set()

    def get(name: str) -> np.ndarray:
        key = name + VALUE_SUFFIX
        if key not in tensors:
            raise SampleRNNImportError(f"the checkpoint has no variable '{name}': is it a "
                                       "PRiSM SampleRNN with this config?")
        used.add(key)
        return tensors[key]

    out: dict[str, np.ndarray] = {}
    dim = config.dim
    for tier in ("big_frame_rnn", "frame_rnn"):
        out[f"{tier}.inputs.weight"] = get(f"{tier}/inputs/kernel").T
        out[f"{tier}.inputs.bias"] = get(f"{tier}/inputs/bias")
        out[f"{tier}.upsample"] = get(f"{tier}/upsample")
        for i in range(config.num_rnn_layers):
            keras = f"{tier}/rnn/layer_{i}/cell"
            torch_name = f"{tier}.rnn.layers.{i}"
            kernel, recurrent = get(f"{keras}/kernel").T, get(f"{keras}/recurrent_kernel").T
            bias = get(f"{keras}/bias")
            if config.rnn_type == "gru":  # Keras z, r, h → torch r, z, n
                order = _gru_order(dim)
                bias = bias.reshape(2, 3 * dim)
                out[f"{torch_name}.weight_ih_l0"] = kernel[order]
                out[f"{torch_name}.weight_hh_l0"] = recurrent[order]
                out[f"{torch_name}.bias_ih_l0"] = bias[0][order]
                out[f"{torch_name}.bias_hh_l0"] = bias[1][order]
            else:  # LSTM gates i, f, c, o in both; Keras has one bias
                out[f"{torch_name}.weight_ih_l0"] = kernel
                out[f"{torch_name}.weight_hh_l0"] = recurrent
                out[f"{torch_name}.bias_ih_l0"] = bias
                out[f"{torch_name}.bias_hh_l0"] = np.zeros_like(bias)
            if config.skip_conn:
                out[f"{tier}.rnn.skip_out.{i}.weight"] = get(f"{tier}/rnn/layer_{i}_skip_out/"
                                                             "kernel").T
                if i == 0:
                    out[f"{tier}.rnn.skip_out.{i}.bias"] = get(f"{tier}/rnn/layer_0_skip_out/"
                                                               "bias")
    out["sample_mlp.embedding.weight"] = get("sample_mlp/embedding/embeddings")
    out["sample_mlp.inputs.weight"] = get("sample_mlp/inputs/kernel").transpose(2, 1, 0)
    for layer in ("hidden1", "hidden2", "outputs"):
        out[f"sample_mlp.{layer}.weight"] = get(f"sample_mlp/{layer}/kernel").T
        out[f"sample_mlp.{layer}.bias"] = get(f"sample_mlp/{layer}/bias")
    left = sorted(k for k in tensors if k not in used and not k.startswith(
        ("optimizer/", "_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter")))
    if left:
        raise SampleRNNImportError(f"the checkpoint holds variables this config does not use "
                                   f"({', '.join(k.removesuffix(VALUE_SUFFIX) for k in left[:3])}"
                                   "): is --config the run's own?")
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
            for k, v in out.items()}


def _gru_order(dim: int) -> np.ndarray:
    z, r, h = (np.arange(dim) + k * dim for k in range(3))
    return np.concatenate([r, z, h])


def import_run(source: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
               config: str | os.PathLike[str] | None = None, sample_rate: int = 16000) -> Path:
    """Convert a PRiSM run (folder or prefix) into a dlwa checkpoint at ``out_dir``.

    Raises:
        SampleRNNImportError: missing files, a config that does not fit the weights.
        CheckpointError: a config value PRiSM would not accept either.
    """
    prefix = find_prefix(source)
    config_path = find_config(prefix.parent, config)
    try:
        prism = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise SampleRNNImportError(f"{config_path}: not a JSON config ({exc})") from None
    model_config = SampleRNNConfig.from_prism(prism, sample_rate=sample_rate, where=config_path)
    try:
        tensors = tf_checkpoint.read_tensor_bundle(prefix)
    except tf_checkpoint.TFCheckpointError as exc:
        raise SampleRNNImportError(str(exc)) from exc
    model = SampleRNN(model_config)
    state = convert_weights(tensors, model_config)
    expected = model.state_dict()
    for name, value in state.items():
        if tuple(value.shape) != tuple(expected[name].shape):
            raise SampleRNNImportError(
                f"{name}: the checkpoint's shape {list(value.shape)} does not fit the config "
                f"({list(expected[name].shape)}): is {config_path.name} the run's own config?")
    model.load_state_dict(state)
    info: dict[str, Any] = {"imported_from": os.fspath(Path(source).resolve()),
                            "checkpoint": prefix.name, "config": config_path.name,
                            "date": time.strftime("%Y-%m-%d")}
    return save_model(out_dir, model, training=info)
