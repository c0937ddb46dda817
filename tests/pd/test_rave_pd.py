"""[rave~] in real Pd (batch mode): it plays what RaveStream computes, sample for sample,
while messages arrive at known logical times; bad input is one line each and the playing
model keeps playing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from dlwa import pd_runner
from dlwa.pd_runner import Patch
from dlwa.rave.model import NNModel
from dlwa.rave.stream import RaveStream

pytestmark = pytest.mark.pd

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rave"
TOY = FIXTURES / "toy_nn_tilde.ts"
RAVE = FIXTURES / "rave_small.ts"
RATE = 16000
SECONDS = 1.5
CHUNK = 512
EVENTS_MS = {"gain": 200, "bad": 400, "off": 600, "on": 810, "load": 1000}  # none on a chunk edge
BAD = ("load {notes}", "load {plain}", "method prior", "set volume 1", "set gain loud",
       "chunk 100", "bogus 1")


def record_patch(folder: Path, obj: str, inputs: int, outputs: int, events: dict[str, list[str]],
                 rate: int = RATE) -> Path:
    """Play in.wav's channels into ``obj``, record its signal outlets into out.wav, send
    each event's messages at its time and print the replies (RAVE)."""
    p = Patch()
    n = int(SECONDS * rate)
    names_in = [f"in{i}" for i in range(inputs)]
    names_out = [f"out{i}" for i in range(outputs)]
    for name in names_in + names_out:
        p.array(name, n)
    soundfiler = p.obj("soundfiler")
    live = p.obj(obj)
    players = [p.obj(f"tabplay~ {name}") for name in names_in]
    writers = [p.obj(f"tabwrite~ {name}") for name in names_out]
    for i, play in enumerate(players):
        p.connect(play, 0, live, i)
    for i, write in enumerate(writers):
        p.connect(live, i, write, 0)
    p.connect(live, outputs, p.obj("print RAVE"), 0)
    p.timed_messages(events, live, 0)
    end = p.write_then_quit(SECONDS * 1000 - 50, folder / "out.wav", names_out, soundfiler)
    steps = [(f"read -resize {folder}/in.wav {' '.join(names_in)}", soundfiler, 0),
             ("\\; pd dsp 1", -1, 0), *[("bang", x, 0) for x in players + writers],
             ("bang", end, 0)]
    p.sequence(*steps)
    return p.write(folder / "t.pd")


def stereo_input(n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    return np.stack([0.5 * np.sin(2 * np.pi * 220 * t),
                     0.3 * np.sin(2 * np.pi * 330 * t)]).astype(np.float32)


@pytest.fixture(scope="module")
def toy_run(pd_external: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("rave_toy")
    x = stereo_input(int(SECONDS * RATE))
    sf.write(folder / "in.wav", x.T, RATE, subtype="FLOAT")
    (folder / "notes.ts").write_text("not a model")
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(folder / "plain.ts"))
    (folder / "toy2.ts").write_bytes(TOY.read_bytes())
    events = {EVENTS_MS["gain"]: ["set gain 0.5", "get gain", "latency"],
              EVENTS_MS["bad"]: [b.format(notes=folder / "notes.ts", plain=folder / "plain.ts")
                                 for b in BAD],
              EVENTS_MS["off"]: ["enable 0"], EVENTS_MS["on"]: ["enable 1"],
              EVENTS_MS["load"]: ["load toy2.ts", "set swap 1", "info"]}
    patch = record_patch(folder, f"rave~ {TOY} forward {CHUNK}", 2, 2, events)
    run = pd_runner.run_patch(patch, sample_rate=RATE, timeout_s=120).check()
    recorded, _ = sf.read(folder / "out.wav", dtype="float32")
    return x, recorded.T, run


def library_run(x: np.ndarray) -> np.ndarray:
    """What Pd should record: the stream with the same changes at the same chunks (a
    message at logical sample t reaches the chunk that ends after it), one chunk late."""
    at = {name: int(ms * RATE / 1000) // CHUNK for name, ms in EVENTS_MS.items()}
    model = NNModel(TOY)
    stream = RaveStream(model, "forward", chunk=CHUNK)
    out = []
    enabled = True
    for c in range(x.shape[1] // CHUNK):
        if c == at["gain"]:
            model.set("gain", [0.5])
        if c == at["off"]:
            enabled = False
        if c == at["on"]:
            enabled = True
        if c == at["load"]:
            model = NNModel(TOY)  # the new file plays with its own (default) gain
            stream = RaveStream(model, "forward", chunk=CHUNK)
            model.set("swap", [True])
        block = x[:, c * CHUNK:(c + 1) * CHUNK]
        out.append(stream.process(block) if enabled else np.zeros_like(block))
    return np.concatenate([np.zeros((2, CHUNK), np.float32), *out], axis=1)


def test_pd_plays_what_the_stream_computes_with_the_same_changes(toy_run) -> None:
    x, recorded, _ = toy_run
    expected = library_run(x)
    n = min(recorded.shape[1], expected.shape[1]) - RATE // 10  # tabwrite~ stops early
    assert np.abs(recorded[:, :n]).max() > 0.1
    np.testing.assert_allclose(recorded[:, :n], expected[:, :n], atol=1e-6)


def test_replies_name_what_changed(toy_run) -> None:
    *_, run = toy_run
    replies = run.printed("RAVE")
    # (the first 'loaded' comes while the patch is being made: [print] is not connected yet)
    assert replies[:2] == ["underruns 0", f"latency {CHUNK} 32"]  # at DSP start
    for line in ["done set gain 0.5", "attribute gain 0.5", f"latency {CHUNK} 32",
                 "done enable 0", "done enable 1", "loaded toy2", "done set swap 1",
                 "methods forward envelope tone", "channels 2 2", "ratios 1 1",
                 "attributes gain swap harmonic shape", "samplerate 16000"]:
        assert line in replies
    assert "underruns 0" in replies  # pyext~'s count, on the same outlet


def test_bad_input_is_one_line_each_and_the_model_keeps_playing(toy_run) -> None:
    *_, run = toy_run
    errors = [line for line in run.printed("RAVE") if line.startswith("error")]
    assert errors[0] == ("error notes.ts is not a TorchScript model (not a zip archive\\; "
                         "export one with 'rave export --streaming' or nn_tilde)")
    assert errors[1].startswith("error plain.ts is TorchScript but has no nn~ methods")
    assert errors[2] == "error toy_nn_tilde has no method 'prior': it has forward\\, envelope\\, tone"
    assert errors[3] == ("error toy_nn_tilde has no attribute 'volume': it has gain\\, swap\\, "
                         "harmonic\\, shape")
    assert errors[4] == "error gain takes a float\\, got 'loud'"
    assert errors[5].startswith("error unknown message 'bogus'")
    assert len(errors) == 6
    # a chunk below the ratio is no error: nn~ says it and takes the ratio
    assert "rave~: chunk 100 is smaller than the model's ratio 256: using 256" in run.lines
    assert "done chunk 256" in run.printed("RAVE")
    console = [line for line in run.lines if line.startswith("error: rave~: ")]
    assert len(console) == 6  # each once on Pd's console


def test_a_bad_model_at_creation_is_one_line_and_pd_carries_on(pd_external: Path,
                                                               tmp_path: Path) -> None:
    p = Patch()
    bad = p.obj("rave~ no_such_model")
    good = p.obj("print still-here")
    p.connect(bad, 1, p.obj("print RAVE"), 0)
    p.sequence(("bang", good, 0), ("\\; pd quit", -1, 0))
    run = pd_runner.run_patch(p.write(tmp_path / "t.pd"), timeout_s=60).check()
    lines = [line for line in run.lines if "rave~" in line]
    assert len(lines) == 1
    assert lines[0].startswith("error: rave~: no RAVE model 'no_such_model': give a .ts file "
                               "(an nn~ model) or one of ")
    assert "guitar" in lines[0]
    assert "still-here: bang" in run.lines


def test_decode_has_an_inlet_per_latent_and_encode_an_outlet_per_latent(
        pd_external: Path, tmp_path: Path) -> None:
    """[rave~ rave_small encode] → [rave~ rave_small decode]: 32 latent signals between."""
    p = Patch()
    n = int(SECONDS * RATE)
    p.array("src", n)
    p.array("rec", n)
    noise = p.obj("osc~ 196")
    enc = p.obj(f"rave~ {RAVE} encode")
    dec = p.obj(f"rave~ {RAVE} decode")
    for i in range(32):
        p.connect(enc, i, dec, i)
    p.connect(noise, 0, enc, 0)
    write = p.obj("tabwrite~ rec")
    p.connect(dec, 0, write, 0)
    p.connect(enc, 32, p.obj("print ENC"), 0)  # (outlets: 32 latents, then the replies)
    p.connect(dec, 1, p.obj("print DEC"), 0)
    end = p.write_then_quit(SECONDS * 1000 - 50, tmp_path / "out.wav", ["rec"])
    p.sequence(("\\; pd dsp 1", -1, 0), ("bang", write, 0), ("bang", end, 0))
    run = pd_runner.run_patch(p.write(tmp_path / "t.pd"), sample_rate=RATE,
                              timeout_s=120).check()
    assert "ENC: latency 1024 64" in run.lines and "DEC: latency 1024 64" in run.lines
    out, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert np.abs(out[4096:]).max() > 1e-3  # the round trip makes sound
    assert not [line for line in run.lines if line.startswith("error")]


def envelope(audio: np.ndarray, hop: int) -> np.ndarray:
    """RMS per ``hop`` samples."""
    n = len(audio) // hop
    return np.sqrt((audio[:n * hop].reshape(n, hop) ** 2).mean(axis=1))


def test_the_shipped_patch_plays_the_example_through_the_model(pd_external: Path,
                                                               tmp_path: Path) -> None:
    from dlwa.audio.io import load_audio
    from dlwa.audio.resample import resample
    from dlwa.demo import DEMOS, render_patch
    from dlwa.rave.model import find_model
    from dlwa.rave.stream import stream_file

    (demo,) = [d for d in DEMOS if d.name == "rave"]
    rendered = render_patch(pd_runner.PATCH_DIR / demo.patch, out=tmp_path / "rave.wav",
                            seconds=demo.seconds, send=demo.send)
    assert rendered.errors == [] and not rendered.silent
    out, rate = sf.read(tmp_path / "rave.wav", dtype="float32")
    # The patch's defaults: the example, the direct (forward) path, all wet, volume 0.5.
    x16, _ = load_audio(pd_runner.PATCH_DIR / "rave-example.wav")
    x = resample(x16, orig_sample_rate=16000, sample_rate=rate).astype(np.float32)
    stream = RaveStream(NNModel(find_model("guitar")), "forward", chunk=3 * 512,
                        sample_rate=rate)
    model_out = stream_file(stream, x[None])[0]
    # RAVE draws noise, so Pd's and this stream's samples differ; their loudness contours
    # must agree once Pd's latency (about 0.1 s: two 50-ms frames) is taken into account.
    hop = rate // 20
    played, wet, dry = (envelope(a, hop) for a in (out[:, 0], model_out, x))
    n = 80

    def best(reference: np.ndarray) -> float:
        return max(float(np.corrcoef(played[lag:lag + n], reference[:n])[0, 1])
                   for lag in range(20))

    assert best(wet) > 0.8 and best(wet) > best(dry) + 0.4
    assert 0.35 < np.sqrt(np.mean(out[:, 0] ** 2)) / np.sqrt(np.mean(model_out ** 2)) < 0.65
