"""[ddsp~] in real Pd (batch mode): it plays what the library streams, sample for sample.

One Pd run per rate streams the trumpet example through ``[ddsp~ violin <chunk>]`` and
records it, while messages arrive at known logical times: ``latency``, bad input (which
must change nothing), ``loudness_db_shift -24`` and ``load flute``. The recording must equal
:class:`dlwa.ddsp.stream.DDSPStream` run on the same chunks with the same changes at the
same chunks, delayed by the one chunk of ring buffer pyext~ keeps in ``-batch``. The
shipped ``ddsp_live.pd`` is rendered through its demo and must follow the melody's pitch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dlwa import pd_runner
from dlwa.audio.io import load_audio
from dlwa.audio.resample import resample
from dlwa.ddsp.features import compute_f0, compute_features
from dlwa.ddsp.model import load_model
from dlwa.ddsp.stream import DDSPStream
from dlwa.demo import render_patch
from dlwa.pd_runner import Patch

pytestmark = pytest.mark.pd

EXAMPLE = pd_runner.PATCH_DIR / "timbre_transfer-example.wav"
SECONDS = 2.5
EVENTS_MS = {"latency": 200, "bad": 500, "loudness": 1000, "flute": 1500}
BAD = ("load tuba", "autotune 3", "chunk 5", "bogus 1")


def live_patch(rate: int, chunk: int | None, wav_in: Path, wav_out: Path) -> Patch:
    p = Patch()
    n = int(SECONDS * rate)
    p.array("src", n)
    p.array("rec", n)
    soundfiler = p.obj("soundfiler")
    play = p.obj("tabplay~ src")
    live = p.obj("ddsp~ violin" + (f" {chunk}" if chunk else ""))
    record = p.obj("tabwrite~ rec")
    replies = p.obj("route pitch loudness")
    printer = p.obj("print DDSP")
    p.connect(play, 0, live, 0)
    p.connect(live, 0, record, 0)
    p.connect(live, 1, replies, 0)
    p.connect(replies, 2, printer, 0)
    texts = {"latency": ["latency"], "bad": list(BAD), "loudness": ["loudness_db_shift -24"],
             "flute": ["load flute"]}
    p.timed_messages({ms: texts[name] for name, ms in EVENTS_MS.items()}, live, 1)
    end = p.write_then_quit(SECONDS * 1000 - 50, wav_out, ["rec"], soundfiler)
    p.sequence((f"read {wav_in} src", soundfiler, 0), ("\\; pd dsp 1", -1, 0), ("bang", play, 0),
               ("bang", record, 0), ("bang", end, 0))
    return p


def library_run(audio: np.ndarray, rate: int, chunk: int) -> tuple[np.ndarray, int]:
    """The recording Pd should make: the stream with the same changes at the same chunks
    (a message at logical sample t reaches the chunk that ends after it), one chunk late."""
    stream = DDSPStream(load_model("violin"), sample_rate=rate, chunk=chunk)
    at = {name: int(ms * rate / 1000) // chunk for name, ms in EVENTS_MS.items()}
    out = []
    for c in range(len(audio) // chunk):
        if c == at["loudness"]:
            stream.set(loudness_db_shift=-24.0)
        if c == at["flute"]:
            stream.swap_model(load_model("flute"))
        out.append(stream.process(audio[c * chunk:(c + 1) * chunk]))
    played = np.concatenate([np.zeros(chunk, np.float32), *out])
    return played, stream.host_latency(realtime=False)


@pytest.fixture(scope="module", params=[(48000, None), (44100, 256)], ids=["48k", "44k1-256"])
def pd_run(request, pd_external: Path, tmp_path_factory: pytest.TempPathFactory):
    rate, chunk = request.param
    folder = tmp_path_factory.mktemp(f"live{rate}")
    x16, _ = load_audio(EXAMPLE)
    audio = resample(x16, orig_sample_rate=16000, sample_rate=rate)[:int(SECONDS * rate)]
    sf.write(folder / "in.wav", audio, rate, subtype="FLOAT")
    patch = live_patch(rate, chunk, folder / "in.wav", folder / "out.wav").write(folder / "t.pd")
    run = pd_runner.run_patch(patch, sample_rate=rate, paths=[pd_runner.PATCH_DIR],
                              timeout_s=120).check()
    recorded, _ = sf.read(folder / "out.wav", dtype="float32")
    return rate, chunk or 384, audio, recorded, run


def test_pd_plays_what_the_library_streams_with_the_same_changes(pd_run) -> None:
    rate, chunk, audio, recorded, _ = pd_run
    expected, _ = library_run(audio, rate, chunk)
    n = min(len(recorded), len(expected)) - 2 * rate // 10  # tabwrite~ stops 50 ms early
    assert np.abs(recorded).max() > 0.05
    assert np.abs(recorded[:n] - expected[:n]).max() < 1e-6


def test_the_reported_latency_includes_the_ring(pd_run) -> None:
    rate, chunk, audio, _, run = pd_run
    _, samples = library_run(audio[:chunk * 4], rate, chunk)
    latency = [line for line in run.printed("DDSP") if line.startswith("latency")]
    # Once at the first chunk (DSP start), once for the latency message.
    assert latency == [f"latency {samples} {round(1000 * samples / rate, 2):g}"] * 2


def test_bad_input_gives_one_line_each_and_changes_nothing(pd_run) -> None:
    *_, run = pd_run
    errors = [line for line in run.printed("DDSP") if line.startswith("error")]
    assert len(errors) == len(BAD)
    assert errors[0].startswith("error no checkpoint named 'tuba'")
    assert errors[1] == "error autotune must be a number between 0 and 1: got 3"
    assert errors[2] == "error chunk must be a number between 16 and 8192: got 5"
    assert errors[3].startswith("error unknown message 'bogus'")
    console = [line for line in run.lines if line.startswith("error: ddsp~: ")]
    assert len(console) == len(BAD)  # and each once on Pd's console
    assert "DDSP: loaded ddsp_flute" in run.lines


def test_the_shipped_patch_follows_the_melody(pd_external: Path, tmp_path: Path) -> None:
    rendered = render_patch(pd_runner.PATCH_DIR / "ddsp_live.pd", out=tmp_path / "live.wav",
                            seconds=5.2, send=("ddsp_live-demo bang",))
    assert rendered.errors == [] and not rendered.silent
    out, rate = sf.read(tmp_path / "live.wav", dtype="float32")
    x16, _ = load_audio(EXAMPLE)
    latency = [line for line in rendered.run.lines if line.startswith("ddsp~: latency")]
    assert latency == []  # replies are shown on the canvas, not printed
    stream = DDSPStream(load_model("violin"), sample_rate=rate)
    delay = stream.host_latency(realtime=False)
    out16 = resample(out[delay:, 0], orig_sample_rate=rate, sample_rate=16000)
    features = compute_features(x16, sample_rate=16000)
    f0_out, _ = compute_f0(out16, sample_rate=16000)
    n = min(len(f0_out), len(features["f0_hz"]))
    voiced = (features["f0_confidence"][:n] >= 0.5) & (features["loudness_db"][:n] > -60)
    cents = 1200 * np.log2(np.maximum(f0_out[:n], 1e-3) / features["f0_hz"][:n])
    assert (np.abs((cents + 600) % 1200 - 600)[voiced] < 50).mean() >= 0.85
