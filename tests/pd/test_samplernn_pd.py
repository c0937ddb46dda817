"""The samplernn object in real Pd (batch mode), on a small random model: two arrays at
different temperatures and an envelope, a seeded run that continues its seed, and bad
arguments that give one clear line each while the object keeps working."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dlwa import pd_runner
from dlwa.samplernn.generate import Generator
from dlwa.samplernn.model import load_model, quantize, save_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "samplernn"))
from test_samplernn_model import SMALL, code_entropy, lively

pytestmark = pytest.mark.pd
PD_RATE = 44100
GENERATE_THREE = ("generate --out srn-a --temp 0.2 --out srn-b --temp 1.5 --out srn-c "
                  "--temp Env([0.1\\,2]\\,[0.5]\\,[0]) --dur 0.5")


def test_samplernn_object_in_pd(tmp_path: Path) -> None:
    pd_runner.build_external()
    model_dir = save_model(tmp_path / "tiny", lively(SMALL, seed=7))
    t = np.arange(PD_RATE // 4) / PD_RATE
    seed = (0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    sf.write(tmp_path / "seed.wav", seed, PD_RATE, subtype="FLOAT")
    patch = pd_runner.Patch()
    for name in ("srn-a", "srn-b", "srn-c", "srn-seed"):
        patch.array(name, 10)
    obj = patch.obj("pyext. dlwa.pd samplernn")
    patch.connect(obj, 0, patch.obj("print srn"), 0)
    files = patch.obj("soundfiler")
    out = {name: tmp_path / f"{name}.wav" for name in ("a", "b", "c")}
    patch.sequence(
        (f"read -resize {tmp_path / 'seed.wav'} srn-seed", files, 0),
        (f"load --num_seqs 3 {model_dir}", obj, 1),
        (GENERATE_THREE, obj, 1),
        (f"write -bytes 4 {out['a']} srn-a", files, 0),
        (f"write -bytes 4 {out['b']} srn-b", files, 0),
        (f"write -bytes 4 {out['c']} srn-c", files, 0),
        ("generate --out srn-a --temp 0.0001 --seed srn-seed --seed_sr 44100 --dur 0.1",
         obj, 1),
        (f"write -bytes 4 {tmp_path / 'seeded.wav'} srn-a", files, 0),
        ("generate --out srn-a --colour red", obj, 1),
        ("generate --out srn-a --temp 1 --temp 2", obj, 1),
        ("generate --out nowhere", obj, 1),
        ("generate --out srn-b --dur 0.05 --out_sr 44100", obj, 1),
        ("\\; pd quit", -1, 0),
    )
    run = pd_runner.run_patch(patch.write(tmp_path / "samplernn.pd"), timeout_s=120).check()
    lines = [r for r in run.printed("srn") if not r.startswith("progress")]
    assert lines[0] == f"loaded {model_dir.name} 16000", run.output
    assert lines[1:4] == ["generated srn-a 16000 8000", "generated srn-b 16000 8000",
                          "generated srn-c 16000 8000"], run.output
    codes = {k: quantize(sf.read(p, dtype="float32")[0], SMALL) for k, p in out.items()}
    # Temperature 0.2 < 1.5; then the envelope heats up.
    assert code_entropy(codes["a"]) < code_entropy(codes["b"]) - 0.3
    c = codes["c"]
    assert code_entropy(c[:2000]) < code_entropy(c[-2000:]) - 0.15
    # the seeded run continues the seed as the library does
    assert lines[4] == "generated srn-a 16000 1600", run.output
    model, _ = load_model(model_dir)
    from dlwa.audio.resample import resample

    expected = Generator(model).generate(
        1600, temperature=0.0001, seed=resample(seed, orig_sample_rate=PD_RATE,
                                                sample_rate=16000),
        rng=np.random.default_rng(0))[0]
    np.testing.assert_allclose(sf.read(tmp_path / "seeded.wav", dtype="float32")[0], expected,
                               atol=1e-6)
    errors = [r for r in lines if r.startswith("error")]
    assert len(errors) == 3, run.output
    assert "unknown option '--colour'" in errors[0]
    assert "2 temperatures for 1 outputs" in errors[1]
    assert "no array named 'nowhere'" in errors[2]
    assert lines[-1] == "generated srn-b 44100 2205", run.output  # it kept working
    consoles = [r for r in run.output.splitlines() if r.startswith("error: samplernn:")]
    assert len(consoles) == 3  # one line in Pd's console per bad message
