"""`torchrun --nproc_per_node 2` of a training run gives the weights of one process with
the same global batch and seed (gloo on this CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from training_helpers import (
    dlwa,
    event_files,
    midi_folder,
    scalar_curve,
    tone_folder,
    torchrun,
    weights,
)

pytestmark = pytest.mark.slow

def test_ddsp_command_two_processes_train_as_one(tmp_path: Path) -> None:
    """`dlwa train ddsp` in float64 (`--precision`), so that one process and two agree beyond
    float32 rounding: in float32 the split batch rounds the reverb's gradient differently
    and Adam turns that into weight differences of a few 1e-3 within a few steps."""
    data = tone_folder(tmp_path / "audio")
    common = ["train", "ddsp", str(data), "--steps", "3", "--batch-size", "4",
              "--save-every", "2", "--device", "cpu", "--precision", "float64", "--seed", "3"]
    dlwa(*common, "--out", "one", cwd=tmp_path)
    run = torchrun("-m", "dlwa", *common, "--out", "two", cwd=tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    a, b = weights(one), weights(two)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-8, err_msg=name)
    curve_one, curve_two = (scalar_curve(o / "logs", "loss/train") for o in (one, two))
    assert sorted(curve_one) == sorted(curve_two) == [1, 2, 3]
    for step, loss in curve_one.items():  # the global batch's loss, not one process's
        assert curve_two[step] == pytest.approx(loss, rel=1e-9)
    start = initial_weights(seed=3)
    moved = max(float(np.abs(a[n] - start[n]).max()) for n in a)
    assert moved > 1e-3  # the runs trained: the comparison is not of initial weights
    assert run.stdout.count("wrote two") == 1  # rank 0 alone reports and writes
    assert "2 processes on cpu, 4 examples per step in all" in run.stdout


def initial_weights(seed: int) -> dict[str, np.ndarray]:
    """The small DDSP model's weights before training, as `dlwa train ddsp` makes them."""
    import torch

    from dlwa.ddsp.model import DDSPConfig, DDSPModel

    torch.manual_seed(seed)
    model = DDSPModel(DDSPConfig.small()).double()
    return {k: v.numpy() for k, v in model.state_dict().items()}


def test_melody_rnn_command_two_processes_train_as_one(tmp_path: Path) -> None:
    """The `dlwa train melody_rnn` command itself under torchrun (float32, with dropout:
    each process takes its rows of the step's masks)."""
    data = midi_folder(tmp_path / "midi")
    common = ["train", "melody_rnn", str(data), "--layer-sizes", "16,16", "--steps", "4",
              "--batch-size", "4", "--eval-every", "2", "--cache-dir", str(tmp_path / "cache"),
              "--device", "cpu"]
    dlwa(*common, "--out", "one", cwd=tmp_path)
    run = torchrun("-m", "dlwa", *common, "--out", "two", cwd=tmp_path)
    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=2e-6, err_msg=name)
    curve_one = scalar_curve(tmp_path / "one" / "logs", "loss/train")
    curve_two = scalar_curve(tmp_path / "two" / "logs", "loss/train")
    assert sorted(curve_one) == sorted(curve_two) == [1, 2, 3, 4]
    for step, loss in curve_one.items():  # the global batch's loss, not one process's
        assert curve_two[step] == pytest.approx(loss, rel=1e-5)
    assert len(event_files(tmp_path / "two" / "logs")) == 1  # rank 0 alone logs
    assert run.stdout.count("wrote two") == 1
