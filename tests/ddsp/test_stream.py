"""Live DDSP (dlwa.ddsp.stream): equal to the offline pieces, exact latency, pitch, controls."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from ddsp_helpers import SR, melody

from dlwa.audio.io import load_audio
from dlwa.audio.resample import resample
from dlwa.audio.validate import AudioError
from dlwa.ddsp import core
from dlwa.ddsp.features import compute_f0, compute_features
from dlwa.ddsp.model import LoadedModel, load_model
from dlwa.ddsp.stream import (
    DEFAULT_CHUNK,
    DDSPStream,
    LiveAdjust,
    LiveFeatures,
    LiveFrames,
    LiveSynth,
    PartitionedConvolution,
    transfer_aligned,
)
from dlwa.ddsp.transfer import TransferParams

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pd_patches" / "timbre_transfer-example.wav"  # a FluidR3 trumpet melody


@pytest.fixture(scope="module")
def violin() -> LoadedModel:
    return load_model("violin")


def stream_all(stream: DDSPStream, audio: np.ndarray) -> np.ndarray:
    n = len(audio) // stream.chunk * stream.chunk
    return np.concatenate([stream.process(audio[i:i + stream.chunk])
                           for i in range(0, n, stream.chunk)])


def tone(freq: float, seconds: float, *, rate: int = 48000, amp: float = 0.3) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)
            ).astype(np.float32)


def f0_cents(audio: np.ndarray, rate: int, reference_hz: float) -> float:
    """Median f0 of the audio's steady part, in cents from ``reference_hz``."""
    x = resample(audio, orig_sample_rate=rate, sample_rate=SR) if rate != SR else audio
    f0, confidence = compute_f0(x, sample_rate=SR)
    return float(np.median(1200 * np.log2(f0[confidence > 0.5] / reference_hz)))


# ----- the pieces equal their offline counterparts


def test_partitioned_convolution_equals_fft_convolution() -> None:
    rng = np.random.default_rng(1)
    ir = rng.normal(size=1000).astype(np.float32) * np.exp(-np.arange(1000) / 200)
    x = rng.normal(size=64 * 40).astype(np.float32)
    conv = PartitionedConvolution(ir, block=64)
    pieces = [conv.push(x[i:i + 64 * n]) for i, n in zip(range(0, len(x), 64 * 5), [5] * 8)]
    expected = core.fft_convolve(torch.from_numpy(x)[None], torch.from_numpy(ir)[None])[0]
    assert np.abs(np.concatenate(pieces) - expected.numpy()).max() < 1e-4


def test_live_synth_renders_what_the_offline_model_renders(tiny_checkpoint: Path) -> None:
    """Same frames, same noise, fed in groups of 1-5 frames: the offline forward's audio."""
    model = load_model(tiny_checkpoint)
    n_frames, hop = 200, model.model.config.hop_length
    rng = np.random.default_rng(2)
    f0 = (110 + 30 * np.sin(np.arange(n_frames) / 15)).astype(np.float32)  # 8 partials < 8 kHz
    loudness = (-30 + 10 * np.sin(np.arange(n_frames) / 7)).astype(np.float32)
    noise = rng.uniform(-1, 1, n_frames * hop).astype(np.float32)
    drawn = iter(noise.reshape(n_frames, hop))
    synth = LiveSynth(model, noise=lambda n: next(drawn))
    pieces, start = [], 0
    while start < n_frames:
        size = int(rng.integers(1, 6))
        pieces.append(synth.push(f0[start:start + size], loudness[start:start + size]))
        start += size
    live = np.concatenate(pieces)
    with torch.inference_mode():
        offline = model.model(torch.from_numpy(f0)[None], torch.from_numpy(loudness)[None],
                              noise=torch.from_numpy(noise)[None])[0].numpy()
    assert len(live) == (n_frames - synth.frames_ahead) * hop
    assert np.abs(live - offline[:len(live)]).max() < 1e-4 * np.abs(offline).max()


def test_live_features_match_the_offline_features() -> None:
    audio = melody(2.0, seed=3)
    live = LiveFeatures(sample_rate=SR, frame_rate=250, lookahead=128)
    frames = [live.push(audio[i:i + 100]) for i in range(0, len(audio), 100)]
    loudness = np.concatenate([f.loudness_db for f in frames])
    f0 = np.concatenate([f.f0_hz for f in frames])
    offline = compute_features(audio, sample_rate=SR)
    n = len(loudness)
    assert n == live.ready(len(audio)) == (len(audio) - 128) // 64 + 1
    # The live window is half as long (8 ms of look-ahead), levelled to the same scale.
    loud = offline["loudness_db"][:n] > -40
    assert np.median(np.abs(loudness[:n][loud] - offline["loudness_db"][:n][loud])) < 0.5
    voiced = offline["f0_confidence"][:n] > 0.9
    cents = 1200 * np.abs(np.log2(f0[voiced] / offline["f0_hz"][:n][voiced]))
    assert np.median(cents) < 5


# ----- latency


@pytest.mark.parametrize("rate, chunk", [(48000, DEFAULT_CHUNK), (44100, 128), (16000, 100)])
def test_the_stream_is_its_aligned_transfer_delayed_by_the_reported_latency(
        violin: LoadedModel, rate: int, chunk: int) -> None:
    x16, _ = load_audio(EXAMPLE)
    audio = resample(x16[:2 * SR], orig_sample_rate=SR, sample_rate=rate)
    stream = DDSPStream(violin, sample_rate=rate, chunk=chunk)
    out = stream_all(stream, audio)
    aligned = transfer_aligned(violin, audio, sample_rate=rate)
    d = stream.latency
    assert stream.starved == 0
    assert not out[:d].any()
    assert np.abs(out[d:] - aligned[:len(out) - d]).max() < 1e-4
    # One sample less of latency would not do: the FIFO would run dry.
    assert np.abs(out[d - 1:-1] - aligned[:len(out) - d]).max() > 1e-3


def test_latency_at_48k_with_the_default_chunk_is_under_32_ms_with_the_ring(
        violin: LoadedModel) -> None:
    stream = DDSPStream(violin, sample_rate=48000)
    assert stream.host_latency(realtime=True) == stream.latency + 2 * DEFAULT_CHUNK
    assert 1000 * stream.host_latency(realtime=True) / 48000 <= 32.0
    assert stream.host_latency(realtime=False) == stream.latency + DEFAULT_CHUNK


def test_a_tone_burst_comes_out_the_reported_latency_later(violin: LoadedModel) -> None:
    """Onset in (the zero-delay transfer of the burst) to onset out, within 2 ms."""
    rate = 48000
    burst = np.concatenate([np.zeros(int(0.6173 * rate), np.float32), tone(440.0, 0.4)])
    stream = DDSPStream(violin, sample_rate=rate)
    out = stream_all(stream, np.concatenate([burst, np.zeros(rate // 4, np.float32)]))
    aligned = transfer_aligned(violin, burst, sample_rate=rate)

    def onset(signal: np.ndarray) -> int:
        envelope = np.sqrt(np.convolve(signal**2, np.ones(96) / 96, "same"))
        return int(np.argmax(envelope > 0.3 * envelope.max()))

    measured_ms = 1000 * (onset(out) - onset(aligned)) / rate
    assert abs(measured_ms - stream.latency_ms) <= 2.0


def test_the_output_does_not_depend_on_the_chunk_size(violin: LoadedModel) -> None:
    audio = resample(melody(1.5, seed=4), orig_sample_rate=SR, sample_rate=48000)
    a = DDSPStream(violin, sample_rate=48000, chunk=384)
    b = DDSPStream(violin, sample_rate=48000, chunk=64)
    assert a.latency == b.latency
    out_a, out_b = stream_all(a, audio), stream_all(b, audio)
    n = min(len(out_a), len(out_b))
    assert np.abs(out_a[:n] - out_b[:n]).max() < 1e-5


# ----- pitch (acceptance 1)


@pytest.mark.parametrize("name", ["violin", "flute", "sax"])
def test_streamed_pitch_follows_a_melody_it_was_not_trained_on(name: str) -> None:
    """The trumpet melody at 48 kHz through the default chunk: at least 85 % of voiced
    frames within 50 cents of the input (octaves folded: auto adjust may shift them)."""
    model = load_model(name)
    x16, _ = load_audio(EXAMPLE)
    rate = 48000
    stream = DDSPStream(model, sample_rate=rate)
    out = stream_all(stream, resample(x16, orig_sample_rate=SR, sample_rate=rate))
    out16 = resample(out[stream.latency:], orig_sample_rate=rate, sample_rate=SR)
    features = compute_features(x16, sample_rate=SR)
    f0_out, _ = compute_f0(out16, sample_rate=SR)
    n = min(len(f0_out), len(features["f0_hz"]))
    voiced = (features["f0_confidence"][:n] >= 0.5) & (features["loudness_db"][:n] > -60)
    cents = 1200 * np.log2(np.maximum(f0_out[:n], 1e-3) / features["f0_hz"][:n])
    folded = (cents + 600) % 1200 - 600
    assert (np.abs(folded[voiced]) < 50).mean() >= 0.85


# ----- controls, while it plays


def _two_halves(model: LoadedModel, audio: np.ndarray, **change: object) -> tuple[
        np.ndarray, np.ndarray, DDSPStream]:
    """Stream ``audio``, applying ``change`` halfway; the output's two halves (latency
    removed), each without its first 100 ms."""
    stream = DDSPStream(model, sample_rate=48000, params=TransferParams(adjust=False))
    half = len(audio) // 2 // stream.chunk * stream.chunk
    first = stream_all(stream, audio[:half])
    stream.set(**change)
    second = stream_all(stream, audio[half:])
    out = np.concatenate([first, second])[stream.latency:]
    skip = 4800
    return out[skip:half - skip], out[half + skip:], stream


def test_octave_shift_moves_the_pitch_an_octave(violin: LoadedModel) -> None:
    before, after, _ = _two_halves(violin, tone(330.0, 2.0), f0_octave_shift=1.0)
    assert abs(f0_cents(before, 48000, 330.0)) < 30
    assert abs(f0_cents(after, 48000, 660.0)) < 30


def test_loudness_shift_changes_the_level_without_a_click(violin: LoadedModel) -> None:
    audio = tone(440.0, 2.0)
    stream = DDSPStream(violin, sample_rate=48000, params=TransferParams(adjust=False))
    half = len(audio) // 2 // stream.chunk * stream.chunk
    out = np.concatenate([stream_all(stream, audio[:half]),
                          (stream.set(loudness_db_shift=-24.0), stream_all(stream,
                                                                           audio[half:]))[1]])
    change = half + stream.latency
    rms = lambda x: float(np.sqrt(np.mean(x**2)))
    assert rms(out[change + 9600:]) < 0.5 * rms(out[change - 19200:change])
    # The control glides: no sample step around the change larger than in steady play.
    steady = np.abs(np.diff(out[change - 24000:change - 2400])).max()
    assert np.abs(np.diff(out[change - 2400:change + 4800])).max() <= 1.1 * steady


def test_controls_glide_over_about_30_ms(violin: LoadedModel) -> None:
    """A control change reaches the decoder as a glide (one-pole, 8 frames), not a step."""
    adjust = LiveAdjust(violin.statistics, frame_rate=250)
    steady = LiveFrames(np.full(40, 440.0, np.float32), np.ones(40, np.float32),
                        np.full(40, -30.0, np.float32))
    params = TransferParams(adjust=False)
    adjust(steady, params)
    f0, loudness = adjust(steady, replace(params, loudness_db_shift=-24.0, f0_octave_shift=1.0))
    assert loudness[0] == pytest.approx(-33.0, abs=0.01)  # 1/8 of the way
    assert loudness[7] == pytest.approx(-30.0 - 24.0 * (1 - (7 / 8) ** 8), abs=0.01)  # 32 ms
    assert abs(loudness[-1] - -54.0) < 0.2  # 160 ms: there
    cents = 1200 * np.log2(f0 / 440.0)
    assert cents[0] == pytest.approx(150.0, abs=1) and abs(cents[-1] - 1200) < 10
    assert np.all(np.diff(cents) > 0)


def test_confidence_threshold_one_unvoices_everything(violin: LoadedModel) -> None:
    before, after, _ = _two_halves(violin, tone(440.0, 2.0), f0_confidence_threshold=1.0)
    assert np.sqrt(np.mean(after**2)) < 0.3 * np.sqrt(np.mean(before**2))


def test_auto_adjust_shifts_a_low_melody_by_whole_octaves_toward_the_model(
        violin: LoadedModel) -> None:
    pitches = [50, 52, 53, 55] * 3  # MIDI; mean 52.5
    audio = np.concatenate([np.concatenate([tone(440 * 2 ** ((p - 69) / 12), 0.35, rate=SR),
                                            np.zeros(SR // 20, np.float32)]) for p in pitches])
    expected = round((violin.statistics["mean_pitch_midi"] - 52.5) / 12)
    assert expected >= 1
    on = DDSPStream(violin, sample_rate=SR)
    out = stream_all(on, audio)[on.latency:]
    assert on.adjust.octaves == expected
    last_note = slice(len(out) - SR // 2, len(out) - SR // 10)  # MIDI 55, G3
    assert abs(f0_cents(out[last_note], SR, 196.0) - 1200 * expected) < 50
    off = DDSPStream(violin, sample_rate=SR, params=TransferParams(adjust=False))
    stream_all(off, audio)
    assert off.adjust.octaves == 0.0


def test_quiet_lowers_what_is_played_between_notes(violin: LoadedModel) -> None:
    rng = np.random.default_rng(6)
    note = tone(440.0, 1.0)
    breath = (0.05 * rng.normal(size=2 * 48000)).astype(np.float32)  # far below the note
    audio = np.concatenate([note, breath, note, breath])
    levels = {}
    for quiet in (0.0, 40.0):
        stream = DDSPStream(violin, sample_rate=48000, params=TransferParams(quiet=quiet))
        out = stream_all(stream, audio)[stream.latency:]
        levels[quiet] = float(np.sqrt(np.mean(out[-43200:-4800] ** 2)))  # reverb rung out
    assert levels[40.0] < 0.5 * levels[0.0]


def test_autotune_pulls_a_detuned_note_to_the_melody_tuning(violin: LoadedModel) -> None:
    notes = [440.0, 493.88, 523.25, 440.0 * 2 ** (0.4 / 12)]  # the last is 40 cents sharp
    audio = np.concatenate([tone(f, 0.5) for f in notes])
    results = {}
    for amount in (0.0, 1.0):
        stream = DDSPStream(violin, sample_rate=48000, params=TransferParams(autotune=amount))
        out = stream_all(stream, audio)[stream.latency:]
        results[amount] = f0_cents(out[-19200:-4800], 48000, 440.0)
    assert results[0.0] > 25
    assert abs(results[1.0]) < 15


def test_bad_controls_are_refused_and_change_nothing(violin: LoadedModel) -> None:
    stream = DDSPStream(violin, sample_rate=48000)
    with pytest.raises(AudioError, match="autotune"):
        stream.set(autotune=2.0)
    with pytest.raises(AudioError, match="unknown control"):
        stream.set(loudness=3.0)
    with pytest.raises(AudioError, match="YIN"):
        stream.set(tracker="crepe-full")
    assert stream.params == TransferParams()
    with pytest.raises(AudioError, match="chunk"):
        DDSPStream(violin, sample_rate=48000, chunk=0)


# ----- a new model while it plays


def test_a_model_swapped_while_playing_continues_without_a_gap(violin: LoadedModel) -> None:
    audio = tone(440.0, 2.0)
    stream = DDSPStream(violin, sample_rate=48000)
    half = len(audio) // 2 // stream.chunk * stream.chunk
    first = stream_all(stream, audio[:half])
    stream.swap_model(load_model("flute"))
    second = stream_all(stream, audio[half:])
    assert stream.starved == 0 and stream.latency == DDSPStream(violin, sample_rate=48000).latency
    out = np.concatenate([first, second])
    after = out[half + stream.latency:]
    envelope = np.sqrt(np.convolve(after**2, np.ones(480) / 480, "valid"))
    assert envelope.min() > 0.05 * envelope.max()  # never silent across the swap
    # It is the flute now: the same as a stream that had been the flute all along, once
    # the reverb's tail of the violin has rung out.
    flute = stream_all(DDSPStream(load_model("flute"), sample_rate=48000), audio)
    tail = slice(half + stream.latency + 24000, None)
    assert np.corrcoef(out[tail], flute[tail])[0, 1] > 0.9


# ----- dlwa stream ddsp


def test_dlwa_stream_ddsp_writes_what_the_stream_plays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], violin: LoadedModel) -> None:
    from dlwa import cli
    from dlwa.audio.io import save_audio

    audio = resample(melody(1.0, seed=9), orig_sample_rate=SR, sample_rate=44100)
    save_audio(tmp_path / "in.wav", audio, sample_rate=44100, subtype="FLOAT")
    assert cli.main(["stream", "ddsp", "--model", "violin", "--chunk", "256",
                     "--autotune", "0.5", str(tmp_path / "in.wav"),
                     str(tmp_path / "out.wav")]) == 0
    out, rate = load_audio(tmp_path / "out.wav")
    stream = DDSPStream(violin, sample_rate=44100, chunk=256, params=TransferParams(autotune=0.5))
    expected = stream_all(stream, np.concatenate([audio, np.zeros(256, np.float32)]))
    assert rate == 44100 and len(out) == len(audio)
    assert np.abs(out - expected[:len(out)]).max() < 1e-6
    printed = capsys.readouterr().out
    assert f"latency {stream.latency} samples = {stream.latency_ms:.2f} ms at 44100 Hz" in printed
    assert f"{stream.host_latency(realtime=True)} samples" in printed


@pytest.mark.parametrize("option, error", [
    (["--chunk", "0"], "chunk must be a whole number of samples from 1 to 32768"),
    (["--autotune", "3"], "autotune must be in [0, 1]"),
    (["--model", "tuba"], "no checkpoint named 'tuba'"),
])
def test_dlwa_stream_ddsp_bad_input_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str],
        error: str) -> None:
    from dlwa import cli
    from dlwa.audio.io import save_audio

    save_audio(tmp_path / "in.wav", melody(0.2), sample_rate=SR)
    args = ["--model", "violin", *option] if option[0] != "--model" else option
    assert cli.main(["stream", "ddsp", *args, str(tmp_path / "in.wav"),
                     str(tmp_path / "out.wav")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and error in lines[0]
    assert not (tmp_path / "out.wav").exists()
