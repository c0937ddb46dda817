"""MelodyRNN networks: shapes, the three configurations, stepwise == whole-sequence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwa.melody_rnn.inference import Stepper
from dlwa.melody_rnn.model import CONFIGS, MelodyRnn, MelodyRnnConfig, get_config

SMALL = (16, 12)


@pytest.mark.parametrize("name", ["basic_rnn", "lookback_rnn", "attention_rnn", "mono_rnn"])
def test_shapes_and_state(name):
    model = MelodyRnn(get_config(name, layer_sizes=SMALL)).eval()
    x = torch.randn(3, 7, model.input_size)
    logits, state = model(x)
    assert logits.shape == (3, 7, model.num_classes)
    # Feeding in two halves with the state carried equals one pass.
    first, state = model(x[:, :4])
    second, _ = model(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), logits)


@pytest.mark.parametrize("name", ["basic_rnn", "lookback_rnn", "attention_rnn"])
def test_numpy_stepper_equals_torch(name):
    torch.manual_seed(0)
    model = MelodyRnn(get_config(name, layer_sizes=SMALL)).eval()
    x = torch.randn(2, 50, model.input_size)  # longer than the 40-step attention window
    with torch.no_grad():
        reference, _ = model(x)
    stepper = Stepper(model)
    state = stepper.zero_state(2)
    steps = np.stack([stepper.step(x[:, t].numpy(), state) for t in range(50)], axis=1)
    np.testing.assert_allclose(steps, reference.numpy(), atol=1e-5)


def test_batch_equals_items():
    model = MelodyRnn(get_config("attention_rnn", layer_sizes=SMALL)).eval()
    x = torch.randn(3, 9, model.input_size)
    with torch.no_grad():
        batch, _ = model(x)
        items = torch.cat([model(x[i:i + 1])[0] for i in range(3)])
    torch.testing.assert_close(batch, items)


def test_configs_are_magentas():
    assert CONFIGS["attention_rnn"].attn_length == 40
    assert CONFIGS["attention_rnn"].clip_norm == 3.0
    assert all(c.layer_sizes == (128, 128) for c in CONFIGS.values())
    config = get_config("lookback_rnn", layer_sizes=(8,))
    assert MelodyRnnConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown melody_rnn configuration"):
        get_config("drums_rnn")
    with pytest.raises(ValueError, match="unknown key .config.colour.; the known keys are name"):
        MelodyRnnConfig.from_dict({"name": "basic_rnn", "colour": 3})
