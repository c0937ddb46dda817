"""Step-by-step MelodyRNN inference in NumPy, for generation.

Generating one 16th-note step at a time with a few sequences is dominated by per-call
overhead; torch spends ~20 µs per operation where NumPy spends 1–3 µs on these small
arrays. ``Stepper`` copies a ``MelodyRnn``'s weights once and runs the same equations
(``model.py``) for one step of a batch. The attention window is a ring buffer: the
attention read-out is a weighted sum over the window, so the order of its slots does not
matter, and nothing is shifted per step.

Shapes: x [batch, input_size] → logits [batch, num_classes]. ``StepState`` holds, per
layer, h and c [batch, units], and for the attention layer also attns [batch, units],
the window [batch, attn_length, units] and its projected features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlwa.melody_rnn.model import AttentionLstm, MelodyRnn


def _lstm(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's gate layout i, f, g, o → new (h, c); sigmoid as 0.5 tanh(x/2) + 0.5."""
    units = c.shape[1]
    s = np.tanh(0.5 * gates)
    s *= 0.5
    s += 0.5
    c = s[:, units:2 * units] * c + s[:, :units] * np.tanh(gates[:, 2 * units:3 * units])
    return s[:, 3 * units:] * np.tanh(c), c


@dataclass
class StepState:
    """Recurrent state of a batch (see the module docstring)."""

    h: list[np.ndarray]
    c: list[np.ndarray]
    attns: np.ndarray | None = None
    window: np.ndarray | None = None
    features: np.ndarray | None = None
    slot: int = 0

    def take(self, index: np.ndarray) -> StepState:
        """The states of the sequences at ``index``."""
        pick = (lambda a: None if a is None else a[index].copy())
        return StepState([h[index].copy() for h in self.h], [c[index].copy() for c in self.c],
                         pick(self.attns), pick(self.window), pick(self.features), self.slot)


class Stepper:
    """One-step NumPy inference with the weights of a ``MelodyRnn``."""

    def __init__(self, model: MelodyRnn) -> None:
        self.layers = []
        for layer in model.layers:
            if isinstance(layer, AttentionLstm):
                self.attention = _attention_weights(layer)
                lstm = layer.lstm
                self.layers.append((_t(lstm.weight_ih).T.copy(), _t(lstm.weight_hh).T.copy(),
                                    _t(lstm.bias_ih) + _t(lstm.bias_hh)))
            else:
                self.layers.append((_t(layer.weight_ih_l0).T.copy(),
                                    _t(layer.weight_hh_l0).T.copy(),
                                    _t(layer.bias_ih_l0) + _t(layer.bias_hh_l0)))
        self.has_attention = bool(model.config.attn_length)
        self.attn_length = model.config.attn_length
        self.units = [w_hh.shape[0] for _, w_hh, _ in self.layers]
        self.w_out, self.b_out = _t(model.output.weight).T.copy(), _t(model.output.bias)

    def zero_state(self, batch: int) -> StepState:
        state = StepState([np.zeros((batch, u), np.float32) for u in self.units],
                          [np.zeros((batch, u), np.float32) for u in self.units])
        if self.has_attention:
            u = self.units[0]
            state.attns = np.zeros((batch, u), np.float32)
            state.window = np.zeros((batch, self.attn_length, u), np.float32)
            state.features = np.zeros((batch, self.attn_length, u), np.float32)
        return state

    def step(self, x: np.ndarray, state: StepState) -> np.ndarray:
        """Advance ``state`` in place by one step of inputs x [batch, input_size].

        Returns:
            Logits [batch, num_classes].
        """
        out = x.astype(np.float32, copy=False)
        for i, (w_ih, w_hh, bias) in enumerate(self.layers):
            if i == 0 and self.has_attention:
                out = self._attention_step(out, state)
                continue
            h, c = _lstm(out @ w_ih + state.h[i] @ w_hh + bias, state.c[i])
            state.h[i], state.c[i] = h, c
            out = h
        return out @ self.w_out + self.b_out

    def _attention_step(self, x: np.ndarray, state: StepState) -> np.ndarray:
        a = self.attention
        # The input projection is folded into the LSTM's input weights (see _fold).
        both = np.concatenate([x, state.attns, state.h[0]], axis=1)
        h, c = _lstm(both @ a["gates_w"] + a["gates_b"], state.c[0])
        state.h[0], state.c[0] = h, c
        query = np.concatenate([c, h], axis=1) @ a["query_w"] + a["query_b"]
        scores = np.tanh(state.features + query[:, None, :]) @ a["v"]
        scores -= scores.max(axis=1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=1, keepdims=True)
        attns = np.einsum("bl,blu->bu", weights, state.window)
        output = np.concatenate([h, attns], axis=1) @ a["out_w"] + a["out_b"]
        state.attns = attns
        state.window[:, state.slot] = output
        state.features[:, state.slot] = output @ a["w"]
        state.slot = (state.slot + 1) % self.attn_length
        return output


def _t(tensor: object) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32)  # type: ignore[attr-defined]


def _attention_weights(layer: AttentionLstm) -> dict[str, np.ndarray]:
    """The attention layer's weights for ``Stepper``, with the input projection folded in.

    gates = (x P_x + attns P_a + b_p) W_ih + h W_hh + b
          = [x, attns, h] @ [[P_x W_ih], [P_a W_ih], [W_hh]] + (b_p W_ih + b).
    """
    lstm = layer.lstm
    w_ih, w_hh = _t(lstm.weight_ih).T.astype(np.float64), _t(lstm.weight_hh).T
    proj = _t(layer.input_projection.weight).T.astype(np.float64)  # [in + units, in]
    gates_w = np.concatenate([proj @ w_ih, w_hh], axis=0)
    gates_b = _t(layer.input_projection.bias) @ w_ih + _t(lstm.bias_ih) + _t(lstm.bias_hh)
    return {
        "gates_w": gates_w.astype(np.float32), "gates_b": gates_b.astype(np.float32),
        "query_w": _t(layer.query.weight).T.copy(), "query_b": _t(layer.query.bias),
        "out_w": _t(layer.output_projection.weight).T.copy(),
        "out_b": _t(layer.output_projection.bias),
        "w": _t(layer.attn_w), "v": _t(layer.attn_v),
    }
