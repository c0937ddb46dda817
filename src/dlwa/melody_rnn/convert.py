"""Import Magenta MelodyRNN generator bundles (``.mag``) without TensorFlow.

A bundle is a ``magenta.GeneratorBundle`` protobuf: the generator id (``basic_rnn``,
``lookback_rnn``, ``attention_rnn``, ``mono_rnn``), descriptions, the checkpoint file(s)
and the metagraph. Magenta writes the checkpoint with TensorFlow's V1 saver: one file that
is a LevelDB-style sorted table whose values are ``SavedTensorSlices`` protobufs (the
entry with the empty key lists every tensor's name, shape and type; the others carry the
values of one slice). This module parses the bundle with ``note_seq``'s message class
(``note_seq.protobuf.generator_pb2``) and reads the checkpoint with
:mod:`dlwa.tf_checkpoint` (no TensorFlow), then maps the TensorFlow variables onto
``model.MelodyRnn``:

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from dlwa.melody_rnn.model import CONFIGS, KIND, MelodyRnnConfig
from dlwa.tf_checkpoint import read_v1_checkpoint

FORGET_BIAS = 1.0
CELL = "rnn/multi_rnn_cell/cell_{}/"


class BundleError(ValueError):
    """A file is not a MelodyRNN bundle this importer can read; says what is wrong."""


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
    """Parse a ``.mag`` file with ``note_seq``'s ``GeneratorBundle`` message class.

    Raises:
        BundleError: not a generator bundle (unparsable, no generator id or no checkpoint).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such bundle: {path}")
    from dlwa.melody_rnn._note_seq import load_note_seq

    load_note_seq()  # note_seq's package first, with pydub's import-time warnings silenced
    from note_seq.protobuf import generator_pb2

    try:
        message = generator_pb2.GeneratorBundle.FromString(path.read_bytes())
    except DecodeError as exc:
        raise BundleError(f"{path} is not a Magenta generator bundle (.mag): {exc}") from exc
    details = message.generator_details
    if not details.id or not message.checkpoint_file:
        raise BundleError(f"{path} is not a Magenta generator bundle (.mag): "
                          "it has no generator id or no checkpoint")
    return Bundle(details.id, details.description, message.bundle_details.description,
                  list(message.checkpoint_file), message.metagraph_file)


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
    """Read a ``.mag`` bundle into a config and ``MelodyRnn`` weights.

    Raises:
        BundleError: not a MelodyRNN bundle, or weights of the wrong names or shapes.
        TFCheckpointError: the checkpoint inside is malformed (the message names the bundle).
    """
    bundle = read_bundle(path)
    if len(bundle.checkpoint_files) != 1:
        raise BundleError(f"{path}: expected one V1 checkpoint file in the bundle, found "
                          f"{len(bundle.checkpoint_files)}")
    tensors = canonical_names(read_v1_checkpoint(bundle.checkpoint_files[0],
                                                 source=f"{path} (checkpoint)"))
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
