"""Import a DDSP (TF2) solo-instrument checkpoint without TensorFlow (``dlwa import ddsp``).

A DDSP training folder holds ``ckpt-<step>.index`` and ``ckpt-<step>.data-*-of-*`` (TF's
tensor-bundle format), ``operative_config-0.gin`` and, when auto adjust was prepared,
``dataset_statistics.pkl``. This module reads:

- the bundle: the ``.index`` file is a LevelDB-style table (blocks of prefix-compressed
  keys with restart points, an index block, a 48-byte footer) mapping each variable name
  to a ``BundleEntryProto`` (dtype, shape, shard, offset, size), decoded here by hand;
  the tensors are raw little-endian bytes in the data shards;
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
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlwa.ddsp.model import DDSPConfig, DDSPModel, save_model

TABLE_MAGIC = 0xDB4775248B80FB57
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
          9: np.int64, 10: np.bool_, 19: np.float16}
VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


class ImportError_(ValueError):
    """The folder is not a DDSP checkpoint this importer supports; the message says why."""


# ----- tensor bundle


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _proto_fields(data: bytes) -> list[tuple[int, Any]]:
    """(field number, value) pairs of a protobuf message: ints, or bytes for length fields."""
    fields, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", data, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = struct.unpack_from("<I", data, pos)[0], pos + 4
        else:
            raise ImportError_(f"unsupported protobuf wire type {wire} in the checkpoint index")
        fields.append((number, value))
    return fields


def _snappy_decompress(data: bytes) -> bytes:
    length, pos = _varint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            n += 1
            out += data[pos:pos + n]
            pos += n
            continue
        if kind == 1:
            n, offset = ((tag >> 2) & 7) + 4, ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            n, offset = (tag >> 2) + 1, int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        else:
            n, offset = (tag >> 2) + 1, int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        for _ in range(n):
            out.append(out[-offset])
    if len(out) != length:
        raise ImportError_("corrupt snappy block in the checkpoint index")
    return bytes(out)


def _read_block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """Entries (key, value) of one table block."""
    block = data[offset:offset + size]
    compression = data[offset + size]
    if compression == 1:
        block = _snappy_decompress(block)
    elif compression != 0:
        raise ImportError_(f"unsupported block compression {compression} in the index")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + value_length]))
        pos += value_length
    return entries


def read_tensor_bundle(prefix: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All numeric tensors of a TF checkpoint (``<prefix>.index`` + data shards), by name.

    Raises:
        ImportError_: missing files or a malformed index.
    """
    prefix = str(prefix)
    index_path = Path(prefix + ".index")
    if not index_path.is_file():
        raise ImportError_(f"no checkpoint index {index_path}")
    data = index_path.read_bytes()
    if len(data) < 48 or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise ImportError_(f"{index_path} is not a TensorFlow checkpoint index")
    footer = data[-48:]
    _, pos = _varint(footer, 0)
    _, pos = _varint(footer, pos)
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    entries: list[tuple[bytes, bytes]] = []
    for _, handle in _read_block(data, index_offset, index_size):
        offset, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        entries += _read_block(data, offset, size)
    n_shards = 1
    tensors: dict[str, np.ndarray] = {}
    shards: dict[int, bytes] = {}
    for key, value in entries:
        fields = _proto_fields(value)
        if key == b"":
            n_shards = next((v for n, v in fields if n == 1), 1)
            continue
        entry = dict(fields)
        dtype = DTYPES.get(entry.get(1, 0))
        if dtype is None or 7 in entry:  # strings (the object graph) and sliced tensors
            continue
        shape = [dict(_proto_fields(dim)).get(1, 0)
                 for n, dim in _proto_fields(entry.get(2, b"")) if n == 2]
        shard = entry.get(3, 0)
        if shard not in shards:
            path = Path(f"{prefix}.data-{shard:05d}-of-{n_shards:05d}")
            if not path.is_file():
                raise ImportError_(f"checkpoint data shard {path} is missing")
            shards[shard] = path.read_bytes()
        raw = shards[shard][entry.get(4, 0):entry.get(4, 0) + entry.get(5, 0)]
        tensors[key.decode()] = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")
                                              ).reshape(shape).copy()
    return tensors


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
        ImportError_: an unsupported model (encoder, other decoder, RNN type or outputs).
    """
    def need(key: str, expected: Any) -> None:
        value = bindings.get(key, expected)
        if value != expected:
            raise ImportError_(f"unsupported DDSP model: {key} = {value!r} (dlwa imports "
                               f"{expected!r}, the solo-instrument model)")

    need("Autoencoder.encoder", None)
    need("Autoencoder.decoder", "@decoders.RnnFcDecoder()")
    need("RnnFcDecoder.rnn_type", "gru")
    need("RnnFcDecoder.input_keys", ("ld_scaled", "f0_scaled"))
    splits = dict(bindings.get("RnnFcDecoder.output_splits", ()))
    if set(splits) != {"amps", "harmonic_distribution", "noise_magnitudes"} or splits.get(
            "amps") != 1:
        raise ImportError_(f"unsupported decoder outputs {splits}: dlwa imports amps (1), "
                           "harmonic_distribution and noise_magnitudes")
    if list(dict(bindings["RnnFcDecoder.output_splits"])) != [
            "amps", "harmonic_distribution", "noise_magnitudes"]:
        raise ImportError_("decoder outputs must be in the order amps, "
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


# ----- weights


def _gru_gates(matrix: np.ndarray, units: int) -> np.ndarray:
    """Keras gate order (z, r, h) along the last axis → torch's (r, z, n) along the first."""
    z, r, h = matrix[..., :units], matrix[..., units:2 * units], matrix[..., 2 * units:]
    return np.concatenate([r, z, h], axis=-1).T


def convert_weights(tensors: dict[str, np.ndarray], config: DDSPConfig) -> dict[str, np.ndarray]:
    """Map DDSP variable names onto :class:`DDSPModel` parameter names.

    Raises:
        ImportError_: a variable is missing, or has the wrong shape (the message names it).
    """
    values = {name.removesuffix(VALUE_SUFFIX): value for name, value in tensors.items()
              if name.endswith(VALUE_SUFFIX)}

    def get(name: str) -> np.ndarray:
        for prefix in ("model/", ""):
            if prefix + name in values:
                return values[prefix + name]
        raise ImportError_(f"the checkpoint has no variable '{name}'; is it a DDSP "
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
        raise ImportError_(f"dataset_statistics.pkl refers to {module}.{name}, which the "
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
        ImportError_: no checkpoint found (the message lists what the folder holds).
    """
    path = Path(path)
    if Path(f"{path}.index").is_file():
        return path
    if not path.is_dir():
        raise ImportError_(f"{path} is neither a DDSP training folder nor a ckpt-N prefix")
    steps = []
    for index in path.glob("ckpt-*.index"):
        match = re.fullmatch(r"ckpt-(\d+)\.index", index.name)
        if match:
            steps.append((int(match.group(1)), index.with_suffix("")))
    if not steps:
        have = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
        raise ImportError_(f"no ckpt-<step>.index in {path} (it holds: {have})")
    return max(steps)[1]


def import_checkpoint(source: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Convert a DDSP solo-instrument training folder into a dlwa checkpoint folder.

    Raises:
        ImportError_: what is missing or unsupported.
    """
    prefix = find_checkpoint_prefix(source)
    folder = prefix.parent
    gin_path = folder / "operative_config-0.gin"
    if not gin_path.is_file():
        raise ImportError_(f"{gin_path} is missing: the model's sizes come from it")
    config = config_from_gin(read_gin(gin_path))
    state = convert_weights(read_tensor_bundle(prefix), config)
    model = DDSPModel(config)
    expected = model.state_dict()
    for name, value in state.items():
        if tuple(expected[name].shape) != value.shape:
            raise ImportError_(f"variable for {name} has shape {value.shape}, the gin config "
                               f"implies {tuple(expected[name].shape)}")
    import torch

    model.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    stats_path = folder / "dataset_statistics.pkl"
    statistics = convert_statistics(stats_path) if stats_path.is_file() else None
    return save_model(out_dir, model, statistics=statistics,
                      training={"imported_from": str(prefix), "tracker": "yin",
                                "format": "ddsp 3 TF2 checkpoint"})
