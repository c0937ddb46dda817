"""`torchrun --nproc_per_node 2` of a training run gives the weights of one process with
the same global batch and seed (gloo on this CPU)."""

from __future__ import annotations

import textwrap
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

# dlwa.ddsp.train.train with a tiny model in float64, so that one process and two agree
# beyond float32 rounding (the reverb's gradient rounds differently in float32 when the
# batch is split, which Adam turns into visible differences after a few steps).
DDSP_SCRIPT = textwrap.dedent("""
    import sys
    from dlwa.ddsp import train as t
    from dlwa.ddsp.model import DDSPConfig
    tiny = DDSPConfig(rnn_channels=16, ch=16, layers_per_stack=1, n_harmonics=8,
                      n_noise_bands=9, reverb_length=256)
    t.train(sys.argv[1], sys.argv[2], model_config=tiny, train_config=t.TrainConfig(
        n_steps=4, batch_size=4, example_s=1.0, save_every=2, device="cpu",
        dtype="float64", seed=3))
""")


def test_ddsp_two_processes_train_as_one(tmp_path: Path) -> None:
    data = tone_folder(tmp_path / "audio")
    script = tmp_path / "train_tiny.py"
    script.write_text(DDSP_SCRIPT)
    one = tmp_path / "one"
    done = dlwa_python(script, data, one, tmp_path)
    two = tmp_path / "two"
    run = torchrun(str(script), str(data), str(two), cwd=tmp_path)
    a, b = weights(one), weights(two)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-8, err_msg=name)
    curve_one, curve_two = (scalar_curve(o / "logs", "loss/train") for o in (one, two))
    assert sorted(curve_one) == sorted(curve_two) == [1, 2, 3, 4]
    for step, loss in curve_one.items():  # the global batch's loss, not one process's
        assert curve_two[step] == pytest.approx(loss, rel=1e-9)
    moved = max(float(np.abs(a[n] - weights_at_start(n, a)).max()) for n in a
                if n.startswith("decoder.dense_out.bias"))
    assert moved > 1e-3  # the runs trained: the comparison is not of initial weights
    assert run.stdout.count(f"wrote {two}") == 1  # rank 0 alone reports and writes
    assert "2 processes on cpu, 4 examples per step in all" in run.stdout + run.stderr
    assert done.returncode == 0


def dlwa_python(script: Path, data: Path, out: Path, cwd: Path):
    import subprocess
    import sys

    from training_helpers import environment

    return subprocess.run([sys.executable, str(script), str(data), str(out)], cwd=cwd,
                          env=environment(), check=True, capture_output=True, text=True)


def weights_at_start(name: str, trained: dict[str, np.ndarray]) -> np.ndarray:
    """The tiny model's initial value of ``name`` (same seed as the script)."""
    import torch

    from dlwa.ddsp.model import DDSPConfig, DDSPModel

    torch.manual_seed(3)
    model = DDSPModel(DDSPConfig(rnn_channels=16, ch=16, layers_per_stack=1, n_harmonics=8,
                                 n_noise_bands=9, reverb_length=256))
    return model.state_dict()[name].double().numpy()


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
