"""The ``rave_stream`` object (``[rave~]``) through the pyext stand-in: its channels come
from the file, and every message is checked by its effect on the audio it returns
(real Pd: tests/pd/test_rave_pd.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlwa.pd import rave as rave_object
from dlwa.pd import standin
from dlwa.rave.model import NNModel
from dlwa.rave.stream import RaveStream

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rave"
TOY = FIXTURES / "toy_nn_tilde.ts"
RAVE = FIXTURES / "rave_small.ts"
RATE = 16000


@pytest.fixture(autouse=True)
def host():
    standin.reset()
    standin.set_samplerate(RATE)
    yield
    standin.reset()


def say(o, text):
    standin.send_message(o, 1, text)
    return standin.outputs(o)


def make(*args):
    o = standin.create(rave_object.rave_stream, *args, canvas_dir=FIXTURES)
    standin.outputs(o)
    return o


def play(o, x: np.ndarray) -> np.ndarray:
    """Chunks through ``process`` as pyext~ calls it; the replies it makes are dropped."""
    chunk = o._chunk
    y = np.concatenate([o.process(x[:, s:s + chunk]) for s in range(0, x.shape[1], chunk)],
                       axis=1)
    standin.outputs(o)
    return y


def stereo(n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    return np.stack([np.sin(2 * np.pi * 220 * t), 0.5 * np.sin(2 * np.pi * 330 * t)]
                    ).astype(np.float32)


def test_channels_and_chunk_come_from_the_model_file() -> None:
    forward = make("toy_nn_tilde.ts", "forward", 300)
    assert (forward._sigin, forward._sigout, forward._chunk) == (2, 2, 512)
    assert (forward._inlets, forward._outlets) == (1, 1)
    encode = make(str(RAVE), "encode")
    assert (encode._sigin, encode._sigout, encode._chunk) == (1, 32, 1024)
    decode = make(str(RAVE), "decode", 2048)
    assert (decode._sigin, decode._sigout, decode._chunk) == (32, 1, 2048)
    standin.set_samplerate(48000)
    assert make(str(RAVE))._chunk == 1536  # a multiple of 512 at 16 kHz, in 48 kHz


def test_it_plays_what_the_stream_computes_and_set_get_enable_change_it() -> None:
    o = make("toy_nn_tilde.ts", "forward", 512)
    x = stereo(4096)
    np.testing.assert_allclose(play(o, x), x, atol=1e-6)  # gain 1: the input
    assert say(o, "set gain 0.25") == ["done set gain 0.25"]
    assert say(o, "set swap 1") == ["done set swap 1"]
    assert say(o, "get gain") == ["attribute gain 0.25"]
    np.testing.assert_allclose(play(o, x), 0.25 * x[::-1], atol=1e-6)
    assert say(o, "enable 0") == ["done enable 0"]
    assert not play(o, x).any()
    assert say(o, "enable 1") == ["done enable 1"]
    assert play(o, x).any()
    assert say(o, "unload") == ["unloaded"]
    assert not play(o, x).any()


def test_method_load_and_reload_take_over_at_the_next_chunk(tmp_path: Path) -> None:
    o = make(str(TOY), "envelope", 512)
    assert say(o, "method tone") == ["done method tone"]
    freq = np.full((1, 4096), 440, np.float32)
    reference = RaveStream(NNModel(TOY), "tone", chunk=512)
    ref = np.concatenate([reference.process(freq[:, s:s + 512]) for s in range(0, 4096, 512)],
                         axis=1)
    np.testing.assert_allclose(play(o, freq), ref, atol=1e-5)
    copy = tmp_path / "toy_copy.ts"
    copy.write_bytes(TOY.read_bytes())
    assert say(o, f"load {copy}") == ["loaded toy_copy"]
    assert say(o, "set harmonic 2") == ["done set harmonic 2"]
    y = play(o, freq)  # the new model from the first chunk: its own phase, twice the pitch
    crossings = np.count_nonzero(np.diff(np.signbit(y[0, 512:])))
    assert abs(crossings - 2 * 880 * (4096 - 512) / RATE) <= 2
    assert say(o, "reload")[0] == "loaded toy_copy"
    assert say(o, "get harmonic") == ["attribute harmonic 1"]  # a fresh copy of the file


def test_info_latency_status_and_help() -> None:
    o = make(str(RAVE), "forward")
    assert say(o, "info") == ["methods encode decode forward", "method forward",
                              "channels 1 1", "ratios 1 1",
                              "attributes learn_target reset_target learn_source reset_source",
                              "samplerate 16000", "latency 1024 64"]
    assert say(o, "chunk 2000") == ["done chunk 2048"]
    assert say(o, "latency") == ["latency 2048 128"]  # (the stand-in runs synchronously)
    status = say(o, "status")
    assert "method forward" in status and "enable 1" in status and "chunk 2048" in status
    usages = [line.split()[1] for line in say(o, "help")]
    for name in ("load", "reload", "method", "enable", "set", "get", "chunk", "info",
                 "latency", "unload", "status", "help", "stop"):
        assert name in usages


@pytest.mark.parametrize(("text", "expected"), [
    ("method encode", ("error rave_small.encode has 1 in and 32 out; this object has 1 in and 1 out: "
                      "make a new [rave~ rave_small encode]")),
    ("method prior", "error rave_small has no method 'prior': it has encode, decode, forward"),
    ("set volume 1", ("error rave_small has no attribute 'volume': it has learn_target, "
                     "reset_target, learn_source, reset_source")),
    ("set learn_target maybe", "error learn_target takes true/false or 0/1, got 'maybe'"),
    ("load toy_nn_tilde.ts", ("error toy_nn_tilde.forward has 2 in and 2 out; this object has 1 "
                             "in and 1 out: make a new [rave~ toy_nn_tilde forward]")),
    ("load nowhere.ts", ("error no RAVE model 'nowhere.ts': give a .ts file (an nn~ model) or "
                        "one of")),
    ("chunk 0", "error chunk must be a number between 1 and 65536: got 0"),
    ("enable 2", "error enable must be a number between 0 and 1: got 2"),
])
def test_bad_input_is_one_error_and_the_model_keeps_playing(text: str, expected: str) -> None:
    o = make(str(RAVE), "forward")
    x = np.random.default_rng(0).standard_normal((1, 4096)).astype(np.float32) * 0.1
    before = play(o, x)
    lines = say(o, text)
    assert len(lines) == 1 and lines[0].replace("\\", "").startswith(expected)
    assert play(o, x).any() and before.any()
    assert o.model is not None and o.method == "forward"


def test_a_file_that_is_no_model_makes_an_object_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "notes.ts").write_text("not a model")
    o = standin.create(rave_object.rave_stream, "notes.ts", canvas_dir=tmp_path)
    assert standin.outputs(o) == [("error notes.ts is not a TorchScript model (not a zip "
                                   "archive\\; export one with 'rave export --streaming' or "
                                   "nn_tilde)")]
    assert (o._sigin, o._sigout) == (1, 1)
    assert not o.process(np.ones((1, o._chunk), np.float32)).any()
