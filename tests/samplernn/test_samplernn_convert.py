"""The PRiSM importer against fixtures made by PRiSM SampleRNN's own code
(scripts/make_samplernn_fixtures.py): every weight with random values, its probabilities
for a fixed input, and for the next subsequence with the RNN state carried."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa.cli import main
from dlwa.samplernn.convert import SampleRNNImportError, import_run
from dlwa.samplernn.model import load_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "samplernn"
RUNS = ("prism_gru_mulaw", "prism_lstm_linear_skip")


@pytest.mark.parametrize("run", RUNS)
def test_imported_model_gives_prisms_probabilities(run: str, tmp_path: Path) -> None:
    folder = FIXTURES / run
    out = import_run(folder, tmp_path / "model")
    model, checkpoint = load_model(out)
    assert checkpoint.training["checkpoint"] == "model.ckpt-3"
    state = None
    with torch.no_grad():
        for suffix in ("", "_2"):
            codes = torch.from_numpy(np.load(folder / f"input_codes{suffix}.npy"))
            logits, state = model(codes, state)
            expected = np.load(folder / f"probabilities{suffix}.npy")
            got = torch.softmax(logits, -1).numpy()
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
            assert expected.max() > 10 * expected.min()  # far from uniform


def test_import_command_and_its_errors(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "prism_gru_mulaw", run)
    assert main(["import", "samplernn", str(run), "--out", str(tmp_path / "m")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["import", "samplernn", str(tmp_path), "--out", str(tmp_path / "n")]) == 2
    assert "no model.ckpt-<epoch>.index" in capsys.readouterr().err
    other = FIXTURES / "prism_lstm_linear_skip" / "prism_lstm_linear_skip.config.json"
    with pytest.raises(SampleRNNImportError, match="has no variable|shape"):
        import_run(run, tmp_path / "x", config=other)
    (run / "second.config.json").write_text("{}")
    with pytest.raises(SampleRNNImportError, match="--config"):
        import_run(run, tmp_path / "y")
