"""MelodyRNN in PyTorch: Magenta's ``basic_rnn``, ``lookback_rnn`` and ``attention_rnn``.

The network is Magenta's ``events_rnn_graph``: a stack of LSTM layers (TensorFlow's
``BasicLSTMCell``: gates i, j, f, o with a forget bias of 1, here folded into the bias as
PyTorch's i, f, g, o layout), dropout on each layer's output while training, and a linear
layer to the classes. ``attention_rnn`` wraps the first layer in TensorFlow's
``AttentionCellWrapper``: the input is projected together with the previous attention
read-out, the LSTM runs, its state (c, h) queries the outputs of the last ``attn_length``
steps, and the output is a projection of the LSTM output with the new read-out.

Shapes: inputs [batch, n_steps, input_size] → logits [batch, n_steps, num_classes].
Recurrent state goes in and out explicitly (``initial_state``/``forward(..., state)``), so
generation feeds one step at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlwa.checkpoints import (
    Checkpoint,
    config_from_dict,
    load_checkpoint,
    load_module,
    save_checkpoint,
    setting,
)
from dlwa.melody_rnn.encoding import ENCODINGS, MAX_NOTE, MIN_NOTE, Encoding, make_encoding

KIND = "melody_rnn"


@dataclass(frozen=True)
class MelodyRnnConfig:
    """Hyper-parameters of one MelodyRNN configuration (Magenta's defaults).

    Attributes:
        name: Magenta's configuration name, e.g. ``"attention_rnn"``.
        encoding: ``"one_hot"``, ``"lookback"`` or ``"key"`` (see ``encoding.py``).
        min_note, max_note: Pitch range [min_note, max_note) the model plays.
        layer_sizes: LSTM units per layer.
        attn_length: Steps the attention looks back over; 0 for none.
        dropout_keep_prob: Probability of keeping a layer output while training.
        clip_norm: Global gradient-norm clip.
        learning_rate: Adam's learning rate.
        batch_size: Melodies per training batch.
        transpose_to_key: Major key melodies are transposed to before encoding (0 = C),
            or None to keep them as played.
        steps_per_quarter: Time steps per quarter note (4: 16th notes).

    Each field declares what a checkpoint's config may hold (see
    :func:`dlwa.checkpoints.setting`); ``min_note`` must lie below ``max_note``.
    """

    name: str = "basic_rnn"
    encoding: str = setting("one_hot", choices=tuple(ENCODINGS))
    min_note: int = setting(MIN_NOTE, ge=0, le=127)
    max_note: int = setting(MAX_NOTE, ge=1, le=128)
    layer_sizes: tuple[int, ...] = setting((128, 128), ge=1, le=4096, max_items=8)
    attn_length: int = setting(0, ge=0, le=1024)
    dropout_keep_prob: float = setting(0.5, gt=0, le=1)
    clip_norm: float = setting(5.0, gt=0)
    learning_rate: float = setting(0.001, gt=0, le=1)
    batch_size: int = setting(128, ge=1, le=65536)
    transpose_to_key: int | None = setting(0, ge=0, le=11)
    steps_per_quarter: int = setting(4, choices=(4,), hint="16th notes, the grid dlwa plays on")

    def cross_checks(self) -> Iterator[tuple[str, str, Any]]:
        """Rules tying fields together: ``(field, expectation, value)`` for each broken one."""
        if self.min_note >= self.max_note:
            yield "max_note", f"above min_note {self.min_note}", self.max_note

    def make_encoding(self) -> Encoding:
        return make_encoding(self.encoding, min_note=self.min_note, max_note=self.max_note)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layer_sizes"] = list(self.layer_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelodyRnnConfig:
        """Build from a saved dict, every field checked.

        Raises:
            CheckpointError: an unknown or missing key, or a value of the wrong type or range.
        """
        return config_from_dict(cls, data)


CONFIGS: dict[str, MelodyRnnConfig] = {
    "basic_rnn": MelodyRnnConfig(name="basic_rnn", encoding="one_hot"),
    "mono_rnn": MelodyRnnConfig(name="mono_rnn", encoding="one_hot", min_note=0, max_note=128),
    "lookback_rnn": MelodyRnnConfig(name="lookback_rnn", encoding="lookback"),
    "attention_rnn": MelodyRnnConfig(name="attention_rnn", encoding="key", attn_length=40,
                                     clip_norm=3.0),
}
"""Magenta's four melody configurations (``melody_rnn_model.default_configs``)."""


def get_config(name: str, **overrides: Any) -> MelodyRnnConfig:
    """A default configuration by name, with fields overridden."""
    if name not in CONFIGS:
        raise ValueError(f"unknown melody_rnn configuration {name!r}: use one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


State = list[Any]
"""Per layer: ``(h, c)`` for plain layers ([1, batch, units] each, as nn.LSTM keeps them),
``(h, c, attns, attn_states, attn_features)`` for the attention layer (see
``AttentionLstm.zero_state``)."""


class AttentionLstm(nn.Module):
    """TensorFlow's ``AttentionCellWrapper`` around a ``BasicLSTMCell``, one step at a time.

    Parameter names follow their TensorFlow roles: ``input_projection`` (kernel over
    [input, attns]), ``lstm`` (the cell), ``attn_w``/``attn_v``/``query`` (additive
    attention), ``output_projection`` (over [cell output, new attns]).
    """

    def __init__(self, input_size: int, units: int, attn_length: int) -> None:
        super().__init__()
        self.units, self.attn_length = units, attn_length
        self.input_projection = nn.Linear(input_size + units, input_size)
        self.lstm = nn.LSTMCell(input_size, units)
        self.attn_w = nn.Parameter(torch.empty(units, units))
        self.attn_v = nn.Parameter(torch.empty(units))
        self.query = nn.Linear(2 * units, units)
        self.output_projection = nn.Linear(2 * units, units)
        nn.init.xavier_uniform_(self.attn_w)
        nn.init.uniform_(self.attn_v, -0.1, 0.1)

    def zero_state(self, batch: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        """h, c, attns [batch, units]; attn_states and their attention features
        [batch, attn_length, units]."""
        z = torch.zeros(batch, self.units, device=device)
        window = torch.zeros(batch, self.attn_length, self.units, device=device)
        return z, z, z, window, window

    def _cell(self, projected: torch.Tensor, state: tuple[torch.Tensor, ...]
              ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The step after the input projection (``projected`` [batch, input_size])."""
        h, c, attns, attn_states, features = state
        h, c = self.lstm(projected, (h, c))
        query = self.query(torch.cat([c, h], dim=1))  # TF flattens LSTMStateTuple(c, h)
        scores = (self.attn_v * torch.tanh(features + query[:, None, :])).sum(-1)
        weights = torch.softmax(scores, dim=1)
        attns = (weights[:, :, None] * attn_states).sum(1)
        output = self.output_projection(torch.cat([h, attns], dim=1))
        # The window drops its oldest step; the 1x1 convolution of the new one is kept.
        attn_states = torch.cat([attn_states[:, 1:], output[:, None]], dim=1)
        features = torch.cat([features[:, 1:], (output @ self.attn_w)[:, None]], dim=1)
        return output, (h, c, attns, attn_states, features)

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, ...]
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One step: x [batch, input_size] → output [batch, units], new state."""
        projected = self.input_projection(torch.cat([x, state[2]], dim=1))
        return self._cell(projected, state)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, ...]
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x [batch, n_steps, input_size] → outputs [batch, n_steps, units], final state.

        The input half of the projection is applied to all steps at once.
        """
        n_in = x.shape[-1]
        weight, bias = self.input_projection.weight, self.input_projection.bias
        from_inputs = x @ weight[:, :n_in].T + bias
        from_attns = weight[:, n_in:].T
        outputs = []
        for t in range(x.shape[1]):
            out, state = self._cell(from_inputs[:, t] + state[2] @ from_attns, state)
            outputs.append(out)
        return torch.stack(outputs, dim=1), state


class MelodyRnn(nn.Module):
    """The MelodyRNN network for one configuration."""

    def __init__(self, config: MelodyRnnConfig) -> None:
        super().__init__()
        self.config = config
        self.encoding = config.make_encoding()
        layers: list[nn.Module] = []
        width = self.encoding.input_size
        for i, units in enumerate(config.layer_sizes):
            if i == 0 and config.attn_length:
                layers.append(AttentionLstm(width, units, config.attn_length))
            else:
                layers.append(nn.LSTM(width, units, batch_first=True))
            width = units
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(1.0 - config.dropout_keep_prob)
        self.output = nn.Linear(width, self.encoding.num_classes)

    @property
    def input_size(self) -> int:
        return self.encoding.input_size

    @property
    def num_classes(self) -> int:
        return self.encoding.num_classes

    def initial_state(self, batch: int) -> State:
        """The zero state for ``batch`` sequences."""
        device = self.output.weight.device
        state: State = []
        for layer in self.layers:
            if isinstance(layer, AttentionLstm):
                state.append(layer.zero_state(batch, device))
            else:
                z = torch.zeros(1, batch, layer.hidden_size, device=device)
                state.append((z, z))
        return state

    def dropout_masks(self, batch: int, n_steps: int, generator: torch.Generator | None
                      ) -> list[torch.Tensor] | None:
        """Dropout masks for each layer's output [batch, n_steps, units], already scaled
        by 1/keep (None when the model keeps everything).

        Training draws them for the whole batch from the step's generator and each process
        takes its rows, so dropout is the same in one process or many.
        """
        keep = self.config.dropout_keep_prob
        if keep >= 1.0:
            return None
        return [torch.rand(batch, n_steps, units, generator=generator).lt(keep).float() / keep
                for units in self.config.layer_sizes]

    def forward(self, inputs: torch.Tensor, state: State | None = None, *,
                dropout_masks: Sequence[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, State]:
        """Run the network.

        Args:
            inputs: [batch, n_steps, input_size] encoded melody inputs.
            state: From ``initial_state`` or a previous call; zero state if None.
            dropout_masks: From :meth:`dropout_masks`, applied in place of fresh dropout.

        Returns:
            ``(logits, state)``: logits [batch, n_steps, num_classes], the final state.
        """
        if state is None:
            state = self.initial_state(inputs.shape[0])
        x, new_state = inputs, []
        for i, (layer, layer_state) in enumerate(zip(self.layers, state, strict=True)):
            x, layer_state = layer(x, layer_state)
            new_state.append(layer_state)
            x = x * dropout_masks[i] if dropout_masks is not None else self.dropout(x)
        return self.output(x), new_state

    @staticmethod
    def select_state(state: State, index: torch.Tensor) -> State:
        """The states of the sequences at ``index`` (for beam search)."""
        picked: State = []
        for layer_state in state:
            if len(layer_state) == 2:  # nn.LSTM state: [1, batch, units]
                picked.append(tuple(s[:, index] for s in layer_state))
            else:
                picked.append(tuple(s[index] for s in layer_state))
        return picked


def load_model(directory: str | Path) -> tuple[MelodyRnn, Checkpoint]:
    """Load a ``melody_rnn`` checkpoint directory, config and weights checked first.

    Returns:
        ``(model, checkpoint)``, the model in eval mode.

    Raises:
        CheckpointError: one line naming the file, the field and what is expected.
    """
    model, checkpoint = load_module(directory, kind=KIND, config_class=MelodyRnnConfig,
                                    build=MelodyRnn)
    return model.eval(), checkpoint


def load_weights(model: MelodyRnn, directory: str | Path) -> None:
    """Load a checkpoint's weights into ``model`` (its config must match; used to resume).

    Raises:
        CheckpointError: not a ``melody_rnn`` checkpoint, or its weights' keys differ.
    """
    checkpoint = load_checkpoint(directory, expected_kind=KIND,
                                 expected_keys=model.state_dict().keys())
    model.load_state_dict(checkpoint.state_dict)


def save_model(model: MelodyRnn, out: str | Path, *,
               training: dict[str, Any] | None = None) -> Path:
    """Write ``model`` as a dlwa checkpoint (kind ``melody_rnn``); :func:`load_model` reads it."""
    return save_checkpoint(out, KIND, model.config.to_dict(),
                           {k: v.detach().contiguous() for k, v in model.state_dict().items()},
                           training=training)
