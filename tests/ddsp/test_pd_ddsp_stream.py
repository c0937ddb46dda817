"""Headless tests of [ddsp~] (the pyext~ class dlwa.pd.ddsp_stream) through the stand-in.

Every message is checked by its effect on what ``process`` plays, against the library's
:class:`dlwa.ddsp.stream.DDSPStream` run on the same chunks.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ddsp_helpers import SR, melody

from dlwa.audio.resample import resample
from dlwa.ddsp.model import load_model
from dlwa.ddsp.stream import DDSPStream
from dlwa.ddsp.transfer import TransferParams
from dlwa.pd import ddsp_stream, standin

PD_SR = 48000
CHUNK = 384


@pytest.fixture(autouse=True)
def host():
    standin.reset()
    standin.set_samplerate(PD_SR)
    yield
    standin.reset()


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return resample(melody(1.0, seed=8), orig_sample_rate=SR, sample_rate=PD_SR)


def make(*args: object, tmp_path: Path | None = None) -> ddsp_stream:
    """A new object, its creation replies (``loaded ...``) checked and cleared."""
    obj = standin.create(ddsp_stream, *args, canvas_dir=tmp_path)
    assert "loaded ddsp_violin" in standin.outputs(obj)
    return obj


def say(obj: ddsp_stream, text: str) -> list[str]:
    """The replies to one message (earlier replies dropped; pitch/loudness left out)."""
    standin.outputs(obj)
    standin.send_message(obj, 1, text)
    return [r for r in standin.outputs(obj) if not r.startswith(("pitch", "loudness"))]


def play(obj: ddsp_stream, audio: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    n = len(audio) // chunk * chunk
    return np.concatenate([obj.process(audio[None, i:i + chunk])[0] for i in range(0, n, chunk)])


_PLAIN: dict[tuple[int, int], np.ndarray] = {}


def library(audio: np.ndarray, chunk: int = CHUNK, model: str = "violin", **params: object
            ) -> np.ndarray:
    """What DDSPStream plays for ``audio`` (the plain result is computed once)."""
    key = (len(audio), chunk)
    if not params and model == "violin" and key in _PLAIN:
        return _PLAIN[key]
    stream = DDSPStream(load_model(model), sample_rate=PD_SR, chunk=chunk,
                        params=TransferParams(**params))
    n = len(audio) // chunk * chunk
    out = np.concatenate([stream.process(audio[i:i + chunk]) for i in range(0, n, chunk)])
    if not params and model == "violin":
        _PLAIN[key] = out
    return out


def test_it_plays_what_the_library_streams(audio: np.ndarray) -> None:
    obj = make("violin")
    assert say(obj, "status")[0] == "model ddsp_violin"
    out = play(obj, audio)
    assert np.array_equal(out, library(audio))
    assert np.abs(out).max() > 0.01


def test_no_arguments_plays_the_violin_and_a_chunk_argument_sets_the_chunk(
        audio: np.ndarray) -> None:
    obj = make(0, 256)  # what [ddsp~] without a model passes
    assert obj._chunk == 256 and obj._latency == 512  # what pyext~ reads at DSP start
    assert np.array_equal(play(obj, audio, 256), library(audio, 256))


def test_latency_is_reported_at_the_first_chunk_and_on_request(audio: np.ndarray) -> None:
    obj = make("violin")
    standin.outputs(obj)
    obj.process(audio[None, :CHUNK])
    stream = DDSPStream(load_model("violin"), sample_rate=PD_SR, chunk=CHUNK)
    samples = stream.latency + CHUNK  # the stand-in runs synchronously: one chunk of ring
    expected = f"latency {samples} {round(1000 * samples / PD_SR, 2):g}"
    assert expected in standin.outputs(obj)
    assert say(obj, "latency") == [expected]


@pytest.mark.parametrize("name, value, field", [
    ("f0_octave_shift", 1, "f0_octave_shift"), ("loudness_db_shift", -12, "loudness_db_shift"),
    ("f0_confidence_threshold", 0.9, "f0_confidence_threshold"), ("adjust", 0, "adjust"),
    ("quiet", 50, "quiet"), ("autotune", 1, "autotune")])
def test_every_control_changes_what_it_plays_as_the_library_does(
        audio: np.ndarray, name: str, value: float, field: str) -> None:
    obj = make("violin")
    assert say(obj, f"{name} {value}") == [f"done {name} {value:g}"]
    out = play(obj, audio)
    expected = library(audio, **{field: bool(value) if field == "adjust" else float(value)})
    assert np.array_equal(out, expected)
    assert not np.allclose(out, library(audio))


def test_a_control_changed_while_playing_glides_in(audio: np.ndarray) -> None:
    obj = make("violin")
    half = len(audio) // 2 // CHUNK * CHUNK
    first = play(obj, audio[:half])
    say(obj, "loudness_db_shift -30")
    second = play(obj, audio[half:])
    stream = DDSPStream(load_model("violin"), sample_rate=PD_SR, chunk=CHUNK)
    ref_first = np.concatenate([stream.process(audio[i:i + CHUNK])
                                for i in range(0, half, CHUNK)])
    stream.set(loudness_db_shift=-30.0)
    ref_second = np.concatenate([stream.process(audio[half + i:half + i + CHUNK])
                                 for i in range(0, len(second), CHUNK)])
    assert np.array_equal(np.concatenate([first, second]),
                          np.concatenate([ref_first, ref_second]))


def test_features_report_the_input_and_can_be_switched_off(audio: np.ndarray) -> None:
    obj = make("violin")
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(PD_SR // 2) / PD_SR)).astype(np.float32)
    standin.outputs(obj)
    play(obj, tone)
    replies = standin.outputs(obj)
    pitches = [float(r.split()[1]) for r in replies if r.startswith("pitch")]
    # Every 25 ms: at the first chunk that ends at least 25 ms after the last reply.
    every = -(-int(0.025 * PD_SR) // CHUNK)  # 4 chunks of 8 ms
    assert len(pitches) == (len(tone) // CHUNK) // every and abs(pitches[-1] - 69.0) < 0.1
    assert any(r.startswith("loudness") for r in replies)
    assert say(obj, "features 0") == ["done features 0"]
    play(obj, tone[:4 * CHUNK])
    assert not any(r.startswith(("pitch", "loudness")) for r in standin.outputs(obj))


def test_load_swaps_the_model_at_the_next_chunk(audio: np.ndarray) -> None:
    obj = make("violin")
    play(obj, audio[:len(audio) // 2])
    assert say(obj, "load flute") == ["loaded ddsp_flute"]
    out = play(obj, audio[len(audio) // 2:])
    assert obj.stream.model.name == "ddsp_flute" and obj.stream.starved == 0
    assert np.abs(out[-PD_SR // 4:]).max() > 0.01


def test_chunk_takes_effect_at_the_next_dsp_start(audio: np.ndarray) -> None:
    obj = make("violin")
    assert say(obj, "chunk 128") == ["done chunk 128"]
    assert (obj._chunk, obj._latency) == (128, 256)
    out = play(obj, audio, 128)  # pyext~ now calls with 128-sample chunks
    assert obj.stream.chunk == 128
    assert np.array_equal(out, library(audio, 128))


def test_reset_forgets_what_auto_adjust_learned(audio: np.ndarray) -> None:
    obj = make("violin")
    play(obj, audio)
    assert obj.stream.adjust.n_note_frames > 0
    assert say(obj, "reset") == ["done reset"]
    obj.process(audio[None, :CHUNK])
    assert obj.stream.adjust.n_note_frames < 10


def test_unload_plays_silence(audio: np.ndarray) -> None:
    obj = make("violin")
    assert say(obj, "unload") == ["unloaded"]
    assert not play(obj, audio[:4 * CHUNK]).any()
    assert say(obj, "latency")[0].startswith("error no model loaded")


@pytest.mark.parametrize("text, error", [
    ("load tuba", "error no checkpoint named 'tuba'"),
    ("autotune 3", "error autotune must be a number between 0 and 1: got 3"),
    ("chunk 5", "error chunk must be a number between 16 and 8192: got 5"),
    ("chunk 100.5", "error chunk must be a whole number of samples: got 100.5"),
    ("quiet", "error usage: quiet <dB>"),
    ("tracker crepe-full", "error unknown message 'tracker'"),
])
def test_bad_input_is_one_line_and_it_keeps_playing(audio: np.ndarray, text: str,
                                                    error: str) -> None:
    obj = make("violin")
    half = len(audio) // 2 // CHUNK * CHUNK
    before = play(obj, audio[:half])
    replies = say(obj, text)
    assert len(replies) == 1 and replies[0].startswith(error)
    after = play(obj, audio[half:])
    assert np.array_equal(np.concatenate([before, after]),
                          library(audio[:len(before) + len(after)]))


def test_bad_creation_arguments_are_reported(audio: np.ndarray) -> None:
    obj = standin.create(ddsp_stream, "violin", 3, "extra")
    replies = standin.outputs(obj)
    assert any(r.startswith("error takes a model and a chunk") for r in replies)
    assert any(r.startswith("error chunk must be a number between 16") for r in replies)
    assert obj._chunk == CHUNK  # the default stays
    assert np.abs(play(obj, audio[:PD_SR // 2])).max() > 0


def test_a_model_at_another_rate_restarts_the_stream_and_reports_its_latency(
        audio: np.ndarray, tmp_path: Path) -> None:
    import torch
    from ddsp_helpers import STATISTICS, TINY

    from dlwa.ddsp.model import DDSPModel, save_model

    torch.manual_seed(0)
    fast = DDSPModel(replace(TINY, sample_rate=32000))
    with torch.no_grad():
        fast.decoder.dense_out.bias[0] = 3.0
    save_model(tmp_path / "ddsp_fast", fast, statistics=STATISTICS, training={"tracker": "yin"})
    obj = make("violin", tmp_path=tmp_path)
    play(obj, audio[:4 * CHUNK])
    assert say(obj, "load ddsp_fast") == ["loaded ddsp_fast"]
    out = play(obj, audio[4 * CHUNK:])
    expected = DDSPStream(load_model(tmp_path / "ddsp_fast"), sample_rate=PD_SR, chunk=CHUNK)
    samples = expected.latency + CHUNK
    assert obj.stream.model.name == "ddsp_fast" and obj.stream.latency == expected.latency
    assert f"latency {samples} {round(1000 * samples / PD_SR, 2):g}" in standin.outputs(obj)
    assert np.abs(out[-PD_SR // 4:]).max() > 0
