"""PRiSM SampleRNN's three-tier network in PyTorch (``rncm-prism/prism-samplernn``).

Tiers, from slow to fast (frame sizes ``[frame, big_frame]``, e.g. ``[16, 64]``):

- the **big frame tier** reads the past audio in frames of ``big_frame`` samples, runs a
  stack of GRU or LSTM layers over them and upsamples each output into
  ``big_frame / frame`` conditioning vectors (a learned transposed convolution);
- the **frame tier** reads frames of ``frame`` samples, adds that conditioning, runs its
  own stack and upsamples each output into ``frame`` vectors, one per sample;
- the **sample MLP** embeds the last ``frame`` samples (each code → a vector of
  ``q_levels``), mixes them with a convolution of width ``frame`` (no bias), adds the
  frame tier's vector, and two ReLU layers and an output layer give the logits of the next
  sample's code.

With ``skip_conn`` each stack's output is the sum of a dense layer over every RNN layer's
output, and the first layer reads its input twice (PRiSM concatenates the input with
itself). The sample MLP's convolution is computed through per-position tables
(``embedding @ kernel``), which is the same function with far less arithmetic.

Audio is quantised to ``q_levels`` codes, mu-law or linear, with PRiSM's formulas
(:func:`quantize`, :func:`dequantize`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dlwa.audio.mulaw import mu_law_decode, mu_law_encode
from dlwa.checkpoints import (
    Checkpoint,
    config_from_dict,
    load_module,
    save_checkpoint,
    setting,
)

KIND = "samplernn"
RNN_TYPES = ("gru", "lstm")
Q_TYPES = ("mu-law", "linear")

State = list[Any]  # per tier: per layer, a GRU h or an LSTM (h, c), each [1, batch, dim]


@dataclass(frozen=True)
class SampleRNNConfig:
    """Hyper-parameters, with the names of PRiSM's ``*.config.json`` files.

    Attributes:
        seq_len: Samples per training subsequence (truncated back-propagation length).
        frame_sizes: ``(frame, big_frame)`` in samples; ``big_frame`` a multiple of ``frame``.
        dim: Width of the RNNs and the MLP.
        rnn_type: ``gru`` or ``lstm``.
        num_rnn_layers: RNN layers in each frame tier.
        q_type: ``mu-law`` or ``linear`` quantisation.
        q_levels: Number of codes.
        emb_size: Kept from PRiSM's configs; PRiSM's (and so this) embedding is
            ``q_levels`` wide whatever it says.
        skip_conn: Skip connections in the frame tiers.
        rnn_dropout: Dropout on the RNN inputs while training.
        sample_rate: Hz of the audio the model was trained on.
    """

    seq_len: int = setting(1024, ge=1, le=1 << 20)
    frame_sizes: tuple[int, ...] = setting((16, 64), ge=1, le=4096, max_items=2)
    dim: int = setting(1024, ge=1, le=8192)
    rnn_type: str = setting("gru", choices=RNN_TYPES)
    num_rnn_layers: int = setting(4, ge=1, le=16)
    q_type: str = setting("mu-law", choices=Q_TYPES)
    q_levels: int = setting(256, ge=2, le=65536)
    emb_size: int = setting(256, ge=1, le=65536)
    skip_conn: bool = setting(False)
    rnn_dropout: float = setting(0.0, ge=0, lt=1)
    sample_rate: int = setting(16000, ge=1000, le=384000)

    @property
    def frame_size(self) -> int:
        return int(self.frame_sizes[0])

    @property
    def big_frame_size(self) -> int:
        return int(self.frame_sizes[1])

    def cross_checks(self) -> Iterator[tuple[str, str, Any]]:
        """Rules tying fields together: ``(field, expectation, value)`` for each broken one."""
        if len(self.frame_sizes) != 2:
            yield "frame_sizes", "two sizes [frame, big frame]", list(self.frame_sizes)
        elif self.big_frame_size % self.frame_size:
            expectation = f"a big frame that is a multiple of the frame {self.frame_size}"
            yield "frame_sizes", expectation, list(self.frame_sizes)
        elif self.seq_len % self.big_frame_size:
            yield "seq_len", f"a multiple of the big frame {self.big_frame_size}", self.seq_len

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["frame_sizes"] = list(self.frame_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleRNNConfig:
        """Build from a saved dict, every field checked.

        Raises:
            CheckpointError: an unknown or missing key, or a value of the wrong type or range.
        """
        return config_from_dict(cls, data)

    @classmethod
    def from_prism(cls, data: Mapping[str, Any], *, sample_rate: int = 16000,
                   where: str | Path = "") -> SampleRNNConfig:
        """A PRiSM ``*.config.json`` as it is (missing keys take PRiSM's defaults).

        Raises:
            CheckpointError: a value of the wrong type or range, or an unknown key.
        """
        defaults = {"seq_len": 1024, "frame_sizes": [16, 64], "dim": 1024, "rnn_type": "gru",
                    "num_rnn_layers": 4, "q_type": "mu-law", "q_levels": 256,
                    "emb_size": 256, "skip_conn": False, "rnn_dropout": 0.0}
        merged = {**defaults, **dict(data), "sample_rate": sample_rate}
        if merged["rnn_dropout"] is None:
            merged["rnn_dropout"] = 0.0
        if isinstance(merged.get("rnn_type"), str):
            merged["rnn_type"] = merged["rnn_type"].lower()
        return config_from_dict(cls, merged, where=where)


def quantize(audio: np.ndarray, config: SampleRNNConfig) -> np.ndarray:
    """Float audio in [−1, 1] → int64 codes 0 … q_levels − 1, as PRiSM quantises."""
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    if audio.size == 0:
        return np.zeros(audio.shape, dtype=np.int64)
    if config.q_type == "mu-law":
        return mu_law_encode(audio, n_levels=config.q_levels)
    # PRiSM's linear_quantize, in float32 as it computes: (x + 1) / 2 · (q − ε) + ε / 2,
    # truncated (ε = 1e-5)
    scaled = audio.copy()
    scaled += 1
    scaled /= 2.0
    scaled *= config.q_levels - 1e-5
    scaled += 1e-5 / 2
    return np.clip(scaled.astype(np.int64), 0, config.q_levels - 1)


def dequantize(codes: np.ndarray, config: SampleRNNConfig) -> np.ndarray:
    """Codes → float32 audio, as PRiSM decodes them."""
    codes = np.asarray(codes)
    if config.q_type == "mu-law":
        return mu_law_decode(codes.astype(np.int64), n_levels=config.q_levels)
    return (codes.astype(np.float32) / (config.q_levels / 2.0) - 1.0).astype(np.float32)


def silence_code(config: SampleRNNConfig) -> int:
    """The code of a zero sample (what PRiSM pads the start of a sequence with)."""
    return int(quantize(np.zeros(1, np.float32), config)[0])


class FrameStack(nn.Module):
    """A tier's RNN layers, with PRiSM's optional skip connections."""

    def __init__(self, rnn_type: str, dim: int, num_layers: int, skip_conn: bool,
                 dropout: float = 0.0) -> None:
        super().__init__()
        rnn_class = nn.GRU if rnn_type == "gru" else nn.LSTM
        self.skip_conn = skip_conn
        widths = [2 * dim if skip_conn else dim] + [dim] * (num_layers - 1)
        self.layers = nn.ModuleList(rnn_class(w, dim, batch_first=True) for w in widths)
        self.skip_out = (nn.ModuleList(nn.Linear(dim, dim, bias=i == 0)
                                       for i in range(num_layers)) if skip_conn else None)
        self.dropout = nn.Dropout(dropout)

    def forward(self, inputs: torch.Tensor, state: list[Any] | None = None
                ) -> tuple[torch.Tensor, list[Any]]:
        """[batch, steps, dim] → ([batch, steps, dim], new state per layer)."""
        state = state if state is not None else [None] * len(self.layers)
        x = torch.cat([inputs, inputs], dim=-1) if self.skip_conn else inputs
        out = None
        new_state = []
        for i, (layer, layer_state) in enumerate(zip(self.layers, state, strict=True)):
            x, layer_state = layer(self.dropout(x), layer_state)
            new_state.append(layer_state)
            if self.skip_out is not None:
                skip = self.skip_out[i](x)
                out = skip if out is None else out + skip
        return (out if self.skip_out is not None else x), new_state


    def step(self, inputs: torch.Tensor, state: list[Any] | None = None
             ) -> tuple[torch.Tensor, list[Any]]:
        """One time step, [batch, dim] → ([batch, dim], new state), through the fused
        GRU/LSTM cells: the same function as :meth:`forward` on a sequence of one, without
        the sequence machinery's per-call cost (generation takes a step per frame)."""
        state = state if state is not None else [None] * len(self.layers)
        x = torch.cat([inputs, inputs], dim=-1) if self.skip_conn else inputs
        out = None
        new_state = []
        for i, (layer, layer_state) in enumerate(zip(self.layers, state, strict=True)):
            weights = (layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0,
                       layer.bias_hh_l0)
            if isinstance(layer, nn.GRU):
                h = (layer_state[0] if layer_state is not None
                     else x.new_zeros(x.shape[0], layer.hidden_size))
                x = torch.gru_cell(x, h, *weights)
                new_state.append(x[None])
            else:
                h, c = ((layer_state[0][0], layer_state[1][0]) if layer_state is not None
                        else (x.new_zeros(x.shape[0], layer.hidden_size),) * 2)
                x, c = torch.lstm_cell(x, (h, c), *weights)
                new_state.append((x[None], c[None]))
            if self.skip_out is not None:
                skip = self.skip_out[i](x)
                out = skip if out is None else out + skip
        return (out if self.skip_out is not None else x), new_state


class FrameTier(nn.Module):
    """Frames of ``frame_size`` codes → RNN → ``n_upsample`` vectors per frame."""

    def __init__(self, config: SampleRNNConfig, frame_size: int, n_upsample: int) -> None:
        super().__init__()
        self.frame_size = frame_size
        self.n_upsample = n_upsample
        self.q_levels = config.q_levels
        self.inputs = nn.Linear(frame_size, config.dim)
        self.rnn = FrameStack(config.rnn_type, config.dim, config.num_rnn_layers,
                              config.skip_conn, config.rnn_dropout)
        # TF's conv1d_transpose filter [width, out, in]: vector u of frame n is W[u] @ y[n].
        self.upsample = nn.Parameter(torch.empty(n_upsample, config.dim, config.dim))
        nn.init.xavier_normal_(self.upsample)

    def forward(self, codes: torch.Tensor, conditioning: torch.Tensor | None = None,
                state: list[Any] | None = None) -> tuple[torch.Tensor, list[Any]]:
        """codes [batch, n_frames · frame_size] (float) → ([batch, n_frames · n_upsample,
        dim], state)."""
        batch = codes.shape[0]
        frames = codes.reshape(batch, -1, self.frame_size)
        x = self.inputs((frames / (self.q_levels / 2.0) - 1.0) * 2.0)
        if conditioning is not None:
            x = x + conditioning
        y, state = self.rnn(x, state)
        # [u, o, i] viewed as [u·o, i]: one matrix product, no copy of the filters (an
        # einsum copied them on every step of generation)
        up = nn.functional.linear(y, self.upsample.reshape(-1, self.upsample.shape[-1]))
        return up.reshape(batch, -1, self.upsample.shape[1]), state


    def step(self, codes: torch.Tensor, conditioning: torch.Tensor | None = None,
             state: list[Any] | None = None) -> tuple[torch.Tensor, list[Any]]:
        """One frame: codes [batch, frame_size] (float), conditioning [batch, dim] →
        ([batch, n_upsample, dim], state)."""
        x = self.inputs((codes / (self.q_levels / 2.0) - 1.0) * 2.0)
        if conditioning is not None:
            x = x + conditioning
        y, state = self.rnn.step(x, state)
        up = nn.functional.linear(y, self.upsample.reshape(-1, self.upsample.shape[-1]))
        return up.reshape(codes.shape[0], self.n_upsample, -1), state


class SampleMLP(nn.Module):
    """The sample-level tier: the last ``frame_size`` codes and a conditioning vector →
    logits of the next code."""

    def __init__(self, config: SampleRNNConfig) -> None:
        super().__init__()
        q, dim = config.q_levels, config.dim
        self.frame_size = config.frame_size
        self.embedding = nn.Embedding(q, q)
        self.inputs = nn.Conv1d(q, dim, config.frame_size, bias=False)
        self.hidden1 = nn.Linear(dim, dim)
        self.hidden2 = nn.Linear(dim, dim)
        self.outputs = nn.Linear(dim, q)

    def tables(self) -> torch.Tensor:
        """[frame_size, q_levels, dim]: position k's contribution of each code to the
        convolution (``embedding @ kernel[:, :, k]ᵀ``)."""
        return torch.einsum("ce,dek->kcd", self.embedding.weight, self.inputs.weight)

    def forward(self, codes: torch.Tensor, conditioning: torch.Tensor) -> torch.Tensor:
        """codes [batch, n + frame_size − 1] int64, conditioning [batch, n, dim] →
        logits [batch, n, q_levels]."""
        n = conditioning.shape[1]
        tables = self.tables()
        x = conditioning
        for k in range(self.frame_size):
            x = x + tables[k][codes[:, k:k + n]]
        return self.head(x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """The layers after the convolution: [..., dim] → logits [..., q_levels]."""
        x = torch.relu(self.hidden1(x))
        x = torch.relu(self.hidden2(x))
        return self.outputs(x)


class SampleRNN(nn.Module):
    """The whole model; ``forward`` is teacher-forced (training and scoring)."""

    def __init__(self, config: SampleRNNConfig) -> None:
        super().__init__()
        self.config = config
        fs, big = config.frame_size, config.big_frame_size
        self.big_frame_rnn = FrameTier(config, big, big // fs)
        self.frame_rnn = FrameTier(config, fs, fs)
        self.sample_mlp = SampleMLP(config)

    def forward(self, codes: torch.Tensor, state: State | None = None
                ) -> tuple[torch.Tensor, State]:
        """Logits of every sample after the first big frame.

        Args:
            codes: [batch, big_frame + n] int64; ``n`` a multiple of the big frame. The first
                big frame is context (the previous subsequence's end, or padding).
            state: ``[big tier state, frame tier state]`` from the previous subsequence.

        Returns:
            ``(logits [batch, n, q_levels] for codes[:, big_frame:], new state)``.
        """
        fs, big = self.config.frame_size, self.config.big_frame_size
        big_state, frame_state = state if state is not None else (None, None)
        x = codes.float()
        big_out, big_state = self.big_frame_rnn(x[:, :-big], None, big_state)
        frame_out, frame_state = self.frame_rnn(x[:, big - fs:-fs], big_out, frame_state)
        logits = self.sample_mlp(codes[:, big - fs:-1], frame_out)
        return logits, [big_state, frame_state]


def detach_state(state: Any) -> Any:
    """The state with no history of gradients (between truncated subsequences)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, list | tuple):
        return type(state)(detach_state(s) for s in state)
    return state


def bits_per_sample(nats: float) -> float:
    return nats / math.log(2.0)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_model(name_or_path: str | Path, *, base_dir: str | Path | None = None
               ) -> tuple[SampleRNN, Checkpoint]:
    """A ``samplernn`` checkpoint by name (``guitar``) or path (relative to ``base_dir``),
    in eval mode.

    Raises:
        CheckpointError: one line naming the file, the field and what is expected.
    """
    from dlwa.checkpoints import find_checkpoint

    path = find_checkpoint(name_or_path, base_dir=base_dir, kind=KIND, prefix="samplernn_")
    model, checkpoint = load_module(path, kind=KIND, config_class=SampleRNNConfig,
                                    build=SampleRNN)
    return model.eval(), checkpoint


def save_model(out: str | Path, model: SampleRNN, *,
               training: Mapping[str, Any] | None = None) -> Path:
    """Write ``model`` as a dlwa checkpoint (kind ``samplernn``)."""
    return save_checkpoint(out, KIND, model.config.to_dict(),
                           {k: v.detach().cpu().contiguous()
                            for k, v in model.state_dict().items()},
                           sample_rate=model.config.sample_rate, training=training)
