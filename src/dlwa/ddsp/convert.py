"""Import a DDSP (TF2) solo-instrument checkpoint without TensorFlow (``dlwa import ddsp``).

A DDSP training folder holds ``ckpt-<step>.index`` and ``ckpt-<step>.data-*-of-*`` (TF's
tensor-bundle format), ``operative_config-0.gin`` and, when auto adjust was prepared,
``dataset_statistics.pkl``. This module reads:

- the bundle, with :func:`dlwa.tf_checkpoint.read_tensor_bundle` (the ``.index`` table
  of ``BundleEntryProto`` entries and the data shards, decoded without TensorFlow);
- the gin file: the ``RnnFcDecoder``, ``Harmonic``, ``F0LoudnessPreprocessor`` and
  ``Reverb`` bindings, which fix the model's sizes and rates;
- the statistics pickle, with a restricted unpickler that knows numpy arrays and stands in
  for scikit-learn's ``QuantileTransformer`` (only its quantiles are used), so neither
  scikit-learn nor arbitrary code is needed.

Supported: ``Autoencoder`` with ``encoder = None``, ``RnnFcDecoder`` (GRU) on
``('ld_scaled', 'f0_scaled')`` with outputs ``amps``, ``harmonic_distribution``,
``noise_magnitudes``; processors Harmonic + FilteredNoise (+ trainable Reverb). Anything
else is refused with a message naming it.
"""

from __future__ import annotations

import ast
import io
import os
import pickle
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlwa import tf_checkpoint
from dlwa.ddsp.model import LOUDNESS_RANGE_DB, DDSPConfig, DDSPModel, save_model

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# ddsp v3 scales loudness by its DB_RANGE (80 dB: ld / 80 + 1); dlwa models by
# LOUDNESS_RANGE_DB (120 dB, old ddsp's LD_RANGE). The importer folds the difference into
# the loudness stack's first Dense layer.
DDSP_LOUDNESS_RANGE_DB = 80.0


class DDSPImportError(ValueError):
    """The folder is not a DDSP checkpoint this importer supports; the message says why."""


# ----- tensor bundle


def read_tensor_bundle(prefix: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All numeric tensors of a TF checkpoint (``<prefix>.index`` + data shards), by name.

    Raises:
        DDSPImportError: missing files or a malformed index (from :mod:`dlwa.tf_checkpoint`).
    """
    try:
        return tf_checkpoint.read_tensor_bundle(prefix)
    except tf_checkpoint.TFCheckpointError as exc:
        raise DDSPImportError(str(exc)) from exc


# ----- gin


def read_gin(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``Configurable.parameter`` → value of an operative gin config (literals only;
    references such as ``@core.exp_sigmoid`` stay strings)."""
    text = re.sub(r"#.*", "", Path(path).read_text())
    text = text.replace("\\\n", " ")
    bindings: dict[str, Any] = {}
    statement = ""
    for line in text.splitlines():
        statement = f"{statement} {line}".strip() if statement else line.strip()
        if not statement or statement.count("(") + statement.count("[") > statement.count(
                ")") + statement.count("]"):
            continue
        if "=" in statement and not statement.startswith(("import", "include")):
            name, value = (s.strip() for s in statement.split("=", 1))
            try:
                bindings[name] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                bindings[name] = value
        statement = ""
    return bindings


def config_from_gin(bindings: dict[str, Any]) -> DDSPConfig:
    """The DDSPConfig a solo-instrument gin config describes.

    Raises:
        DDSPImportError: an unsupported model (encoder, other decoder, RNN type or outputs).
    """
    def need(key: str, expected: Any) -> None:
        value = bindings.get(key, expected)
        if value != expected:
            raise DDSPImportError(f"unsupported DDSP model: {key} = {value!r} (dlwa imports "
                               f"{expected!r}, the solo-instrument model)")

    need("Autoencoder.encoder", None)
    need("Autoencoder.decoder", "@decoders.RnnFcDecoder()")
    need("RnnFcDecoder.rnn_type", "gru")
    need("RnnFcDecoder.input_keys", ("ld_scaled", "f0_scaled"))
    splits = dict(bindings.get("RnnFcDecoder.output_splits", ()))
    if set(splits) != {"amps", "harmonic_distribution", "noise_magnitudes"} or splits.get(
            "amps") != 1:
        raise DDSPImportError(f"unsupported decoder outputs {splits}: dlwa imports amps (1), "
                           "harmonic_distribution and noise_magnitudes")
    if list(dict(bindings["RnnFcDecoder.output_splits"])) != [
            "amps", "harmonic_distribution", "noise_magnitudes"]:
        raise DDSPImportError("decoder outputs must be in the order amps, "
                           "harmonic_distribution, noise_magnitudes")
    sample_rate = int(bindings.get("Harmonic.sample_rate", 16000))
    n_samples = int(bindings.get("Harmonic.n_samples", 64000))
    time_steps = int(bindings.get("F0LoudnessPreprocessor.time_steps", 1000))
    frame_rate = round(sample_rate * time_steps / n_samples)
    reverb = "@effects.Reverb()" in str(bindings.get("ProcessorGroup.dag", ""))
    if reverb:
        need("Reverb.trainable", True)
        need("Reverb.add_dry", True)
    return DDSPConfig(
        sample_rate=sample_rate, frame_rate=frame_rate,
        rnn_channels=int(bindings.get("RnnFcDecoder.rnn_channels", 512)),
        ch=int(bindings.get("RnnFcDecoder.ch", 512)),
        layers_per_stack=int(bindings.get("RnnFcDecoder.layers_per_stack", 3)),
        n_harmonics=int(splits["harmonic_distribution"]),
        n_noise_bands=int(splits["noise_magnitudes"]), reverb=reverb,
        reverb_length=int(bindings.get("Reverb.reverb_length", 48000)),
    )


def ddsp_phase_accumulation(bindings: dict[str, Any]) -> str:
    """The ``Harmonic.phase_accumulation`` that reproduces the ddsp model a gin config describes.

    ``"ddsp_angular_cumsum"`` when it sets ``Harmonic.use_angular_cumsum = True``, else
    ``"ddsp_cumsum"``. Imported models keep dlwa's float64 phase; set this on
    ``model.harmonic`` to compare with ddsp's own output sample for sample.
    """
    return ("ddsp_angular_cumsum" if bindings.get("Harmonic.use_angular_cumsum", False) is True
            else "ddsp_cumsum")


# ----- weights


def _gru_gates(matrix: np.ndarray, units: int) -> np.ndarray:
    """Keras gate order (z, r, h) along the last axis → torch's (r, z, n) along the first."""
    z, r, h = matrix[..., :units], matrix[..., units:2 * units], matrix[..., 2 * units:]
    return np.concatenate([r, z, h], axis=-1).T


def convert_weights(tensors: dict[str, np.ndarray], config: DDSPConfig) -> dict[str, np.ndarray]:
    """Map DDSP variable names onto :class:`DDSPModel` parameter names.

    Raises:
        DDSPImportError: a variable is missing, or has the wrong shape (the message names it).
    """
    values = {name.removesuffix(VALUE_SUFFIX): value for name, value in tensors.items()
              if name.endswith(VALUE_SUFFIX)}

    def get(name: str) -> np.ndarray:
        for prefix in ("model/", ""):
            if prefix + name in values:
                return values[prefix + name]
        raise DDSPImportError(f"the checkpoint has no variable '{name}'; is it a DDSP "
                           "solo-instrument model?")

    state: dict[str, np.ndarray] = {}

    def stack(torch_name: str, tf_name: str) -> None:
        for i in range(config.layers_per_stack):
            layer = f"{tf_name}/layer_with_weights-{i}"
            state[f"{torch_name}.{3 * i}.weight"] = get(f"{layer}/layer_with_weights-0/kernel").T
            state[f"{torch_name}.{3 * i}.bias"] = get(f"{layer}/layer_with_weights-0/bias")
            state[f"{torch_name}.{3 * i + 1}.weight"] = get(f"{layer}/layer_with_weights-1/gamma")
            state[f"{torch_name}.{3 * i + 1}.bias"] = get(f"{layer}/layer_with_weights-1/beta")

    stack("decoder.ld_stack", "decoder/input_stacks/0")
    # ddsp's ld_scaled = s · (dlwa's − 1) + 1 with s = 120/80: W·x + b becomes
    # (s·W)·x + (b − (s − 1)·W) on dlwa's scaled loudness (the kernel has one input column).
    s = LOUDNESS_RANGE_DB / DDSP_LOUDNESS_RANGE_DB
    kernel = state["decoder.ld_stack.0.weight"]
    state["decoder.ld_stack.0.bias"] = state["decoder.ld_stack.0.bias"] - (s - 1) * kernel[:, 0]
    state["decoder.ld_stack.0.weight"] = s * kernel
    stack("decoder.f0_stack", "decoder/input_stacks/1")
    stack("decoder.out_stack", "decoder/out_stack")
    units = config.rnn_channels
    bias = get("decoder/rnn/rnn/cell/bias")
    state["decoder.rnn.weight_ih_l0"] = _gru_gates(get("decoder/rnn/rnn/cell/kernel"), units)
    state["decoder.rnn.weight_hh_l0"] = _gru_gates(
        get("decoder/rnn/rnn/cell/recurrent_kernel"), units)
    state["decoder.rnn.bias_ih_l0"] = _gru_gates(bias[0], units)
    state["decoder.rnn.bias_hh_l0"] = _gru_gates(bias[1], units)
    state["decoder.dense_out.weight"] = get("decoder/dense_out/kernel").T
    state["decoder.dense_out.bias"] = get("decoder/dense_out/bias")
    if config.reverb:
        state["reverb.ir"] = get("processor_group/reverb/ir").reshape(-1)
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


# ----- dataset statistics


class _QuantileTransformer:
    """Stands in for sklearn's QuantileTransformer when unpickling: keeps its state."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class _StatisticsUnpickler(pickle.Unpickler):
    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random.mtrand", "RandomState"), ("numpy.random._mt19937", "MT19937"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if name == "QuantileTransformer" and module.startswith("sklearn"):
            return _QuantileTransformer
        if (module, name) in self.ALLOWED:
            import importlib

            return getattr(importlib.import_module(module.replace("numpy._core", "numpy.core")
                                                   if not hasattr(np, "_core") else module),
                           name)
        raise DDSPImportError(f"dataset_statistics.pkl refers to {module}.{name}, which the "
                           "importer does not load (only numpy arrays and "
                           "QuantileTransformer)")


def convert_statistics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """dlwa's dataset statistics from DDSP's ``dataset_statistics.pkl``."""
    raw = _StatisticsUnpickler(io.BytesIO(Path(path).read_bytes())).load()
    mean_pitch = float(raw["mean_pitch"])
    quantile = raw.get("quantile_transform")
    levels = np.linspace(0, 1, 101)
    if quantile is not None:
        loudness = np.interp(levels, np.asarray(quantile.references_),
                             np.asarray(quantile.quantiles_)[:, 0])
    else:
        mean, std = float(raw.get("mean_loudness", -30.0)), float(raw.get("std_loudness", 10.0))
        loudness = mean + std * np.sqrt(2) * _erfinv(2 * np.clip(levels, 1e-3, 1 - 1e-3) - 1)
    return {"mean_pitch_midi": mean_pitch,
            "pitch_quantiles_midi": [mean_pitch - 12, mean_pitch, mean_pitch + 12],
            "loudness_quantiles_db": [float(x) for x in loudness],
            "mean_loudness_db": float(np.mean(loudness)), "imported": True}


def _erfinv(y: np.ndarray) -> np.ndarray:
    from scipy.special import erfinv

    return erfinv(y)


# ----- the whole folder


def find_checkpoint_prefix(path: str | os.PathLike[str]) -> Path:
    """The newest ``ckpt-<step>`` prefix in a folder, or the prefix given.

    Raises:
        DDSPImportError: no checkpoint found (the message lists what the folder holds).
    """
    path = Path(path)
    if Path(f"{path}.index").is_file():
        return path
    if not path.is_dir():
        raise DDSPImportError(f"{path} is neither a DDSP training folder nor a ckpt-N prefix")
    steps = []
    for index in path.glob("ckpt-*.index"):
        match = re.fullmatch(r"ckpt-(\d+)\.index", index.name)
        if match:
            steps.append((int(match.group(1)), index.with_suffix("")))
    if not steps:
        have = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
        raise DDSPImportError(f"no ckpt-<step>.index in {path} (it holds: {have})")
    return max(steps)[1]


def import_checkpoint(source: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Convert a DDSP solo-instrument training folder into a dlwa checkpoint folder.

    Raises:
        DDSPImportError: what is missing or unsupported.
    """
    prefix = find_checkpoint_prefix(source)
    folder = prefix.parent
    gin_path = folder / "operative_config-0.gin"
    if not gin_path.is_file():
        raise DDSPImportError(f"{gin_path} is missing: the model's sizes come from it")
    config = config_from_gin(read_gin(gin_path))
    state = convert_weights(read_tensor_bundle(prefix), config)
    model = DDSPModel(config)
    expected = model.state_dict()
    for name, value in state.items():
        if tuple(expected[name].shape) != value.shape:
            raise DDSPImportError(f"variable for {name} has shape {value.shape}, the gin config "
                               f"implies {tuple(expected[name].shape)}")
    import torch

    model.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    stats_path = folder / "dataset_statistics.pkl"
    statistics = convert_statistics(stats_path) if stats_path.is_file() else None
    return save_model(out_dir, model, statistics=statistics,
                      training={"imported_from": str(prefix), "tracker": "yin",
                                "format": "ddsp 3 TF2 checkpoint"})
