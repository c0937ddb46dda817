"""Import Magenta MelodyRNN generator bundles (``.mag``) without TensorFlow.

A bundle is a ``magenta.GeneratorBundle`` protobuf: the generator id (``basic_rnn``,
``lookback_rnn``, ``attention_rnn``, ``mono_rnn``), descriptions, the checkpoint file(s)
and the metagraph. Magenta writes the checkpoint with TensorFlow's V1 saver: one file that
is a LevelDB-style sorted table whose values are ``SavedTensorSlices`` protobufs (the
entry with the empty key lists every tensor's name, shape and type; the others carry the
values of one slice). This module reads the protobuf wire format, the table and the
slices directly, then maps the TensorFlow variables onto ``model.MelodyRnn``:

- ``BasicLSTMCell`` kernel [input + units, 4 units] with gates (i, j, f, o) → PyTorch's
  ``weight_ih`` [4 units, input] and ``weight_hh`` [4 units, units] in (i, f, g, o) order;
  the forget bias of 1.0 that TensorFlow adds at run time is folded into ``bias_ih``.
- The ``AttentionCellWrapper`` kernels (input projection, attention query, output
  projection) become ``nn.Linear`` weights (transposed); ``attn_w`` [1, 1, units, units]
  loses its two leading 1x1 dimensions.
- ``fully_connected/weights`` [units, classes] → ``output.weight`` [classes, units].

Layer sizes and the pitch range come from the tensor shapes; the attention length is not
stored in the weights and is Magenta's default (40) unless given.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlwa.melody_rnn.model import CONFIGS, KIND, MelodyRnnConfig

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
BLOCK_TRAILER_BYTES = 5
FORGET_BIAS = 1.0
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}
"""TensorFlow DataType enum values this reader understands."""
CELL = "rnn/multi_rnn_cell/cell_{}/"


class BundleError(ValueError):
    """A file is not a MelodyRNN bundle this importer can read; says what is wrong."""


# ---------------------------------------------------------------------------
# Protobuf wire format


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data):
            raise BundleError("truncated protobuf varint")
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """Decode one protobuf message: yields ``(field_number, wire_type, value)``.

    Varints come as int, length-delimited fields as bytes, fixed32/64 as raw bytes.
    """
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise BundleError(f"unsupported protobuf wire type {wire} (field {number})")
        yield number, wire, value


def _packed_varints(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        out.append(value)
    return out


# ---------------------------------------------------------------------------
# Bundle


@dataclass
class Bundle:
    """The parts of a ``.mag`` generator bundle."""

    generator_id: str
    description: str
    bundle_description: str
    checkpoint_files: list[bytes]
    metagraph: bytes


def read_bundle(path: Path) -> Bundle:
    """Parse a ``.mag`` file.

    Raises:
        BundleError: not a generator bundle (no generator id or no checkpoint).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such bundle: {path}")
    generator_id = description = bundle_description = ""
    checkpoints: list[bytes] = []
    metagraph = b""
    try:
        for number, wire, value in fields(path.read_bytes()):
            if number == 1 and wire == 2:
                for n, _, v in fields(value):
                    if n == 1:
                        generator_id = v.decode()
                    elif n == 2:
                        description = v.decode()
            elif number == 2 and wire == 2:
                checkpoints.append(value)
            elif number == 3 and wire == 2:
                metagraph = value
            elif number == 4 and wire == 2:
                bundle_description = "".join(v.decode() for n, _, v in fields(value) if n == 1)
    except (BundleError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is not a Magenta generator bundle (.mag): {exc}") from exc
    if not generator_id or not checkpoints:
        raise BundleError(f"{path} is not a Magenta generator bundle (.mag): "
                          "it has no generator id or no checkpoint")
    return Bundle(generator_id, description, bundle_description, checkpoints, metagraph)


# ---------------------------------------------------------------------------
# LevelDB-style table (TensorFlow's lib/io/table format)


def _block(data: bytes, offset: int, size: int) -> bytes:
    if offset + size + BLOCK_TRAILER_BYTES > len(data):
        raise BundleError("table block lies outside the file (truncated checkpoint?)")
    if data[offset + size] != 0:
        raise BundleError(f"compressed table block (type {data[offset + size]}) not supported")
    return data[offset:offset + size]


def _block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * n_restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + value_len]
        pos += value_len


def table_entries(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """All ``(key, value)`` pairs of a table file, in key order."""
    if len(data) < FOOTER_BYTES:
        raise BundleError("checkpoint is too short to be a TensorFlow table")
    footer = data[-FOOTER_BYTES:]
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_BYTES - 8)
    if magic != TABLE_MAGIC:
        raise BundleError("checkpoint is not a TensorFlow V1 table (bad magic number)")
    _, pos = _varint(footer, 0)  # metaindex offset
    _, pos = _varint(footer, pos)  # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    for _, handle in _block_entries(_block(data, index_offset, index_size)):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        yield from _block_entries(_block(data, offset, size))


# ---------------------------------------------------------------------------
# V1 checkpoint: SavedTensorSlices


def _shape(data: bytes) -> list[int]:
    dims = []
    for n, _, dim in fields(data):
        if n == 2:
            size = 0
            for m, _, v in fields(dim):
                if m == 1:
                    size = v
            dims.append(size)
    return dims


def _extents(data: bytes, shape: list[int]) -> tuple[slice, ...]:
    extents = [tuple(fields(e)) for n, _, e in fields(data) if n == 1]
    if not extents:
        return tuple(slice(None) for _ in shape)
    out = []
    for dim, extent in zip(shape, extents, strict=True):
        values = {n: v for n, _, v in extent}
        start = values.get(1, 0)
        out.append(slice(start, start + values[2]) if 2 in values else slice(0, dim))
    return tuple(out)


def _tensor_values(data: bytes, dtype: type) -> np.ndarray:
    content, floats, ints = b"", [], []
    for n, wire, value in fields(data):
        if n == 4:
            content = value
        elif n == 5:  # float_val: packed or one fixed32 per entry
            floats.append(np.frombuffer(value, "<f4"))
        elif n == 6:
            floats.append(np.frombuffer(value, "<f8"))
        elif n in (7, 10):  # int_val, int64_val
            ints += _packed_varints(value) if wire == 2 else [value]
    if content:
        return np.frombuffer(content, np.dtype(dtype).newbyteorder("<")).astype(dtype)
    if floats:
        return np.concatenate(floats).astype(dtype)
    signed = [v - (1 << 64) if v >= 1 << 63 else v for v in ints]
    return np.asarray(signed, dtype=dtype)


def read_v1_checkpoint(data: bytes) -> dict[str, np.ndarray]:
    """The tensors of a TensorFlow V1 (``SaverDef.V1``) checkpoint file, by name."""
    metas: dict[str, tuple[list[int], type]] = {}
    slices: list[tuple[str, bytes, bytes]] = []
    for key, value in table_entries(data):
        for n, _, part in fields(value):
            if n == 1 and key == b"":  # SavedTensorSliceMeta
                for m, _, tensor in fields(part):
                    if m == 1:
                        info = {k: v for k, _, v in fields(tensor)}
                        dtype = DTYPES.get(info.get(3, 1))
                        if dtype is None:
                            raise BundleError(f"unsupported tensor type {info.get(3)}")
                        metas[info[1].decode()] = (_shape(info.get(2, b"")), dtype)
            elif n == 2:  # SavedSlice
                info = {k: v for k, _, v in fields(part)}
                slices.append((info[1].decode(), info.get(2, b""), info.get(3, b"")))
    if not metas:
        raise BundleError("checkpoint holds no tensor list (not a V1 checkpoint?)")
    tensors = {name: np.zeros(shape, dtype) for name, (shape, dtype) in metas.items()}
    for name, extent, values in slices:
        target = tensors[name]
        where = _extents(extent, list(target.shape))
        piece = target[where]
        target[where] = _tensor_values(values, target.dtype.type).reshape(piece.shape)
    return tensors


# ---------------------------------------------------------------------------
# Mapping onto MelodyRnn


def _lstm(kernel: np.ndarray, bias: np.ndarray, n_in: int, prefix: str, suffix: str
          ) -> dict[str, np.ndarray]:
    """TF BasicLSTMCell (i, j, f, o; forget bias added at run time) → torch (i, f, g, o)."""
    units = bias.shape[0] // 4
    i, j, f, o = (slice(k * units, (k + 1) * units) for k in range(4))
    order = np.r_[i, f, j, o]
    bias = bias.astype(np.float32).copy()
    bias[f] += FORGET_BIAS
    return {
        f"{prefix}weight_ih{suffix}": kernel[:n_in, order].T,
        f"{prefix}weight_hh{suffix}": kernel[n_in:, order].T,
        f"{prefix}bias_ih{suffix}": bias[order],
        f"{prefix}bias_hh{suffix}": np.zeros(4 * units, np.float32),
    }


def canonical_names(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Tensor names as TensorFlow >= 1.2 writes them.

    Checkpoints from TensorFlow 1.0/1.1 (older Magenta bundles) call the RNN cells'
    variables ``weights``/``biases`` where later versions say ``kernel``/``bias``; the
    output layer (``fully_connected/weights``) keeps its names.
    """
    out = {}
    for name, value in tensors.items():
        name = name.removesuffix(":0")
        if name.startswith("rnn/"):
            head, _, leaf = name.rpartition("/")
            name = f"{head}/" + {"weights": "kernel", "biases": "bias"}.get(leaf, leaf)
        out[name] = value
    return out


def to_state_dict(tensors: dict[str, np.ndarray], config: MelodyRnnConfig
                  ) -> dict[str, np.ndarray]:
    """Map TensorFlow variable names to ``MelodyRnn`` weights (numpy, float32)."""
    t = {k: np.asarray(v, np.float32) for k, v in canonical_names(tensors).items()}
    state: dict[str, np.ndarray] = {}
    width = config.make_encoding().input_size
    for k, units in enumerate(config.layer_sizes):
        cell = CELL.format(k)
        if k == 0 and config.attn_length:
            wrap = cell + "attention_cell_wrapper/"
            state["layers.0.input_projection.weight"] = t[wrap + "kernel"].T
            state["layers.0.input_projection.bias"] = t[wrap + "bias"]
            state.update(_lstm(t[wrap + "basic_lstm_cell/kernel"],
                               t[wrap + "basic_lstm_cell/bias"], width, "layers.0.lstm.", ""))
            state["layers.0.attn_w"] = t[wrap + "attention/attn_w"][0, 0]
            state["layers.0.attn_v"] = t[wrap + "attention/attn_v"]
            state["layers.0.query.weight"] = t[wrap + "attention/kernel"].T
            state["layers.0.query.bias"] = t[wrap + "attention/bias"]
            state["layers.0.output_projection.weight"] = t[
                wrap + "attn_output_projection/kernel"].T
            state["layers.0.output_projection.bias"] = t[wrap + "attn_output_projection/bias"]
        else:
            state.update(_lstm(t[cell + "basic_lstm_cell/kernel"], t[cell + "basic_lstm_cell/bias"],
                               width, f"layers.{k}.", "_l0"))
        width = units
    state["output.weight"] = t["fully_connected/weights"].T
    state["output.bias"] = t["fully_connected/biases"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def config_from_tensors(generator_id: str, tensors: dict[str, np.ndarray], *,
                        attn_length: int | None = None) -> MelodyRnnConfig:
    """The configuration a bundle's tensors imply (layer sizes read from the shapes)."""
    if generator_id not in CONFIGS:
        raise BundleError(f"bundle generator '{generator_id}' is not a MelodyRNN; this imports "
                          f"{', '.join(sorted(CONFIGS))}")
    base = CONFIGS[generator_id]
    names = {k.removesuffix(":0") for k in tensors}
    sizes = []
    while True:
        cell = CELL.format(len(sizes))
        bias = next((n for n in (cell + "basic_lstm_cell/bias",
                                 cell + "attention_cell_wrapper/basic_lstm_cell/bias")
                     if n in names), None)
        if bias is None:
            break
        sizes.append(int(tensors.get(bias, tensors.get(bias + ":0")).shape[0]) // 4)
    if not sizes:
        raise BundleError(f"no LSTM weights under '{CELL.format(0)}' in the checkpoint "
                          f"(tensors: {', '.join(sorted(names)[:8])}…)")
    overrides: dict[str, Any] = {"layer_sizes": tuple(sizes)}
    if base.attn_length and attn_length:
        overrides["attn_length"] = attn_length
    from dataclasses import replace

    return replace(base, **overrides)


def convert_bundle(path: Path, *, attn_length: int | None = None
                   ) -> tuple[MelodyRnnConfig, dict[str, np.ndarray], Bundle]:
    """Read a ``.mag`` bundle into a config and ``MelodyRnn`` weights."""
    bundle = read_bundle(path)
    if len(bundle.checkpoint_files) != 1:
        raise BundleError(f"{path}: expected one V1 checkpoint file in the bundle, found "
                          f"{len(bundle.checkpoint_files)}")
    tensors = canonical_names(read_v1_checkpoint(bundle.checkpoint_files[0]))
    config = config_from_tensors(bundle.generator_id, tensors, attn_length=attn_length)
    state = to_state_dict(tensors, config)
    from dlwa.checkpoints import check_keys
    from dlwa.melody_rnn.model import MelodyRnn

    expected = MelodyRnn(config).state_dict()
    check_keys(state, expected.keys(), where=str(path))
    for name, value in state.items():
        if tuple(value.shape) != tuple(expected[name].shape):
            raise BundleError(f"{path}: {name} has shape {value.shape}, the {config.name} "
                              f"configuration needs {tuple(expected[name].shape)}")
    return config, state, bundle


def import_bundle(path: Path, out: Path, *, attn_length: int | None = None) -> Path:
    """``dlwa import melody_rnn``: write a bundle as a dlwa checkpoint directory."""
    from dlwa import checkpoints

    config, state, bundle = convert_bundle(path, attn_length=attn_length)
    return checkpoints.save_checkpoint(out, KIND, config.to_dict(), state, training={
        "imported_from": Path(path).name, "generator_id": bundle.generator_id,
        "description": bundle.description, "bundle_description": bundle.bundle_description})


def generator_from_bundle(path: Path) -> Any:
    """A ready ``generate.Generator`` straight from a ``.mag`` file."""
    import torch

    from dlwa.melody_rnn.generate import Generator
    from dlwa.melody_rnn.model import MelodyRnn

    config, state, _ = convert_bundle(path)
    model = MelodyRnn(config)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return Generator(model, Path(path).stem)
