"""The ``samplernn`` Pd object through the pyext stand-in, on a small random model: every
message and option checked by its effect on arrays (real Pd: tests/pd/test_samplernn_pd.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_samplernn_model import SMALL, code_entropy, lively

from dlwa import checkpoints
from dlwa.audio.resample import resample
from dlwa.pd import samplernn, standin
from dlwa.samplernn.generate import Generator
from dlwa.samplernn.model import quantize, save_model

PD_RATE = 48000


@pytest.fixture(autouse=True)
def host(monkeypatch, tmp_path):
    standin.reset()
    standin.set_samplerate(PD_RATE)
    for name in ("a", "b", "c", "seed"):
        standin.make_array(name, 10)
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tmp_path / "checkpoints"))
    monkeypatch.setattr(checkpoints, "PROJECT_CHECKPOINTS", tmp_path / "project_checkpoints")
    save_model(tmp_path / "checkpoints" / "samplernn_tiny", lively(SMALL, seed=7))
    yield
    standin.reset()


def say(o, text):
    standin.send_message(o, 1, text)
    return [line for line in standin.outputs(o) if not line.startswith("progress ")]


def errors(lines):
    return [line for line in lines if line.startswith("error ")]


@pytest.fixture
def obj(tmp_path: Path):
    o = standin.create(samplernn, canvas_dir=tmp_path)
    assert say(o, "load --python /usr/bin/python3 -- --num_seqs 3 --ckpt_dir tiny") == [
        "loaded samplernn_tiny 16000"]
    assert say(o, "seed 1") == ["done seed 1"]
    return o


def test_generate_fills_each_array_at_its_temperature(obj) -> None:
    lines = say(obj, "generate --out a --temp 0.2 --out b --temp 1.5 --dur 0.5")
    assert lines == ["generated a 16000 8000", "generated b 16000 8000"]
    a, b = standin.array("a"), standin.array("b")
    assert len(a) == len(b) == 8000 and not np.allclose(a, b)
    # The cooler sequence keeps to fewer codes.
    assert code_entropy(quantize(a, SMALL)) < code_entropy(quantize(b, SMALL)) - 0.3


def test_an_envelope_and_the_last_temperature_repeated(obj) -> None:
    lines = say(obj, "generate --out a --temp Env([0.1\\,2]\\,[0.5]\\,[0]) --out b --out c "
                "--dur 0.5")
    assert [line.split()[:2] for line in lines] == [["generated", "a"], ["generated", "b"],
                                                      ["generated", "c"]]
    for name in ("a", "b", "c"):  # b and c repeat the envelope, the last temperature given
        codes = quantize(standin.array(name), SMALL)
        assert code_entropy(codes[:2000]) < code_entropy(codes[-2000:]) - 0.15, name
    spaced = say(obj, "generate --out a --temp Env( [0.5, 1], [0.2], [-2] ) --dur 0.1")
    assert spaced == ["generated a 16000 1600"]


def test_out_sr_resamples_and_dur_is_any_length(obj) -> None:
    assert say(obj, "generate --out a --dur 0.3 --out_sr 48000") == ["generated a 48000 14400"]


def test_a_seeded_run_continues_the_seed(obj, tmp_path) -> None:
    t = np.arange(PD_RATE // 4) / PD_RATE
    seed = (0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    standin.make_array("seed", len(seed), seed)
    say(obj, "generate --out a --temp 0.0001 --seed seed --dur 0.1")
    model, _ = checkpoints.find_checkpoint("tiny", prefix="samplernn_"), None
    from dlwa.samplernn.model import load_model

    reference, _ = load_model(model)
    expected = Generator(reference).generate(
        1600, temperature=0.0001, seed=resample(seed, orig_sample_rate=PD_RATE,
                                                sample_rate=16000),
        rng=np.random.default_rng(0))[0]
    np.testing.assert_allclose(standin.array("a"), expected, atol=1e-6)
    unseeded = say(obj, "generate --out b --temp 0.0001 --dur 0.1")
    assert unseeded and not np.allclose(standin.array("b"), expected)


@pytest.mark.parametrize("message,expected", [
    ("generate --out a --color red", "unknown option '--color'"),
    ("generate --out a --temp 1 --temp 2", "2 temperatures for 1 outputs"),
    ("generate --out nowhere", "no array named 'nowhere'"),
    ("generate --out a --temp hot", "temperature 'hot'"),
    ("generate --out a --dur", "--dur needs a value"),
    ("generate --out a --out b --out c --out a",
     "4 outputs but the model was loaded with --num_seqs 3"),
    ("generate --out a --seed nowhere", "no array named 'nowhere'"),
    ("generate --temp 1", "at least one --out"),
])
def test_bad_arguments_are_one_line_and_the_object_keeps_working(obj, message, expected
                                                                 ) -> None:
    lines = say(obj, message)
    assert len(errors(lines)) == 1 and expected in errors(lines)[0].replace("\\", "")
    assert say(obj, "generate --out a --dur 0.05") == ["generated a 16000 800"]


def test_load_errors_and_unload(tmp_path) -> None:
    o = standin.create(samplernn, canvas_dir=tmp_path)
    assert "no model loaded" in errors(say(o, "generate --out a"))[0]
    assert "no checkpoint named 'nothing'" in errors(say(o, "load nothing"))[0]
    assert "--config" in errors(say(o, "load --config x.json tiny"))[0]
    assert say(o, "load tiny") == ["loaded samplernn_tiny 16000"]
    assert "--num_seqs 2" in errors(say(o, "generate --out a --out b"))[0]
    assert say(o, "unload") == ["unloaded"]
    assert "no model loaded" in errors(say(o, "generate --out a"))[0]


def test_seed_repeats_and_random_does_not(obj) -> None:
    say(obj, "generate --out a --dur 0.1")
    first = standin.array("a").copy()
    say(obj, "seed 1")
    say(obj, "generate --out a --dur 0.1")
    np.testing.assert_array_equal(standin.array("a"), first)
    say(obj, "seed random")
    say(obj, "generate --out a --dur 0.1")
    assert not np.array_equal(standin.array("a"), first)
    assert "seed" in errors(say(obj, "seed -3"))[0]


def test_status_and_help(obj) -> None:
    status = say(obj, "status")
    assert "model samplernn_tiny" in status and "num_seqs 3" in status
    usages = [line for line in say(obj, "help") if line.startswith("usage ")]
    for selector in ("load", "generate", "seed", "stop", "unload", "status", "help"):
        assert any(line.split()[1] == selector for line in usages), selector
