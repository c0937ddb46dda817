"""SampleRNN's network: PRiSM's configs and quantisation, tiers aligned with time, state
carried across subsequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwa.checkpoints import CheckpointError
from dlwa.samplernn.model import SampleRNN, SampleRNNConfig, dequantize, quantize, silence_code

SMALL = SampleRNNConfig(seq_len=128, frame_sizes=(4, 16), dim=24, num_rnn_layers=2)


def code_entropy(codes: np.ndarray) -> float:
    """Entropy in bits of the codes' histogram: how widely a sequence draws. (A count of
    distinct codes reaches all 256 at low temperatures too, in a few thousand samples.)"""
    share = np.bincount(np.asarray(codes, dtype=np.int64)) / len(codes)
    share = share[share > 0]
    return float(-(share * np.log2(share)).sum())


def lively(config: SampleRNNConfig, seed: int = 0) -> SampleRNN:
    torch.manual_seed(seed)
    model = SampleRNN(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # biases too: every weight matters
    return model.eval()


def test_prism_configs_are_read_as_they_are() -> None:
    default = SampleRNNConfig.from_prism({"seq_len": 1024, "frame_sizes": [16, 64], "dim": 1024,
                                          "rnn_type": "gru", "num_rnn_layers": 4,
                                          "q_type": "mu-law", "q_levels": 256,
                                          "emb_size": 256})
    assert default.big_frame_size == 64 and default.frame_size == 16 and not default.skip_conn
    course = SampleRNNConfig.from_prism({"seq_len": 1024, "frame_sizes": [16, 64], "dim": 1024,
                                         "rnn_type": "LSTM", "num_rnn_layers": 4,
                                         "q_type": "linear", "q_levels": 256, "emb_size": 256,
                                         "skip_conn": True})
    assert course.rnn_type == "lstm" and course.skip_conn and course.q_type == "linear"
    with pytest.raises(CheckpointError, match="frame_sizes"):
        SampleRNNConfig.from_prism({"frame_sizes": [16, 60]})
    with pytest.raises(CheckpointError, match="rnn_type"):
        SampleRNNConfig.from_prism({"rnn_type": "transformer"})


def test_quantisation_follows_prism() -> None:
    audio = np.array([-1.0, -0.5, 0.0, 0.25, 0.999], np.float32)
    linear = SampleRNNConfig(q_type="linear", q_levels=256)
    # PRiSM's linear_quantize: ((x + 1) / 2 · (q − 1e-5) + 0.5e-5) in float32, truncated
    assert quantize(audio, linear).tolist() == [0, 64, 128, 159, 255]
    assert dequantize(np.array([0, 128, 255]), linear).tolist() == pytest.approx(
        [-1.0, 0.0, 0.9921875])
    mu = SampleRNNConfig(q_type="mu-law", q_levels=256)
    codes = quantize(audio, mu)
    assert codes[2] == silence_code(mu) == 128 and codes[0] == 0 and codes[-1] == 255
    assert np.abs(dequantize(codes, mu) - audio).max() < 0.02


@pytest.mark.parametrize("rnn_type,skip", [("gru", False), ("lstm", True)])
def test_two_subsequences_with_state_equal_one_long_one(rnn_type: str, skip: bool) -> None:
    config = SampleRNNConfig(seq_len=64, frame_sizes=(4, 16), dim=16, num_rnn_layers=2,
                             rnn_type=rnn_type, skip_conn=skip)
    model = lively(config)
    codes = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 16 + 128)))
    whole, _ = model(codes)
    first, state = model(codes[:, :16 + 64])
    second, _ = model(codes[:, 64:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-5, atol=1e-5)


def test_each_output_sees_only_the_past() -> None:
    """Changing sample t changes no logit before t + 1 (causality of all three tiers)."""
    model = lively(SMALL)
    codes = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (1, 16 + 128)))
    base, _ = model(codes)
    for t in (16 + 5, 16 + 47, 16 + 100):
        changed = codes.clone()
        changed[0, t] = (changed[0, t] + 100) % 256
        out, _ = model(changed)
        differs = (out - base).abs().amax(-1)[0] > 1e-6
        first = int(torch.nonzero(differs)[0]) + 16
        assert first == t + 1  # the logit of sample t + 1 is the first to change
