"""SampleRNN data and training: PRiSM's chunking, truncated BPTT that learns, resume that
rebuilds the RNN state, and dlwa data chunk."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa.audio.io import audio_info, load_audio, save_audio
from dlwa.cli import main
from dlwa.samplernn import train as srn_train
from dlwa.samplernn.data import chunk_file, load_sequences
from dlwa.samplernn.model import SampleRNNConfig

SR = 16000
TINY = SampleRNNConfig(seq_len=128, frame_sizes=(4, 16), dim=32, num_rnn_layers=1)


def sawtooth_folder(folder: Path, n_files: int = 3, seconds: float = 3.0) -> Path:
    """Sawtooth notes: audio with structure a small model can learn within seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    for i in range(n_files):
        f0 = 200.0 * 2 ** (i / 12)
        saw = 0.4 * (2 * ((t * f0) % 1.0) - 1)
        save_audio(folder / f"saw{i}.wav", saw.astype(np.float32), sample_rate=SR)
    return folder


def test_chunks_overlap_and_mostly_silent_ones_are_dropped(tmp_path: Path) -> None:
    t = np.arange(20 * SR) / SR
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    audio[6 * SR:13 * SR] = 0.0  # 7 s of silence
    save_audio(tmp_path / "take one.wav", audio, sample_rate=SR)
    report = chunk_file(tmp_path / "take one.wav", tmp_path / "chunks", chunk_s=4.0,
                        overlap_s=1.0)
    # chunks start at 0, 3, 6, 9, 12, 15 s; those at 6 and 9 s are mostly silent
    names = sorted(p.name for p in report.written)
    assert names == [f"take_one_chunk_{i}.wav" for i in (1, 2, 5, 6)] and report.silent == 2
    first, _ = load_audio(report.written[0])
    np.testing.assert_allclose(first, audio[:4 * SR], atol=1e-4)
    assert audio_info(report.written[1]).duration_s == pytest.approx(4.0)
    assert main(["data", "chunk", str(tmp_path / "take one.wav"), "--out",
                 str(tmp_path / "cli"), "--chunk-length", "4", "--overlap", "1"]) == 0
    assert len(list((tmp_path / "cli").glob("*.wav"))) == 4
    assert main(["data", "chunk", str(tmp_path / "missing.wav"), "--out",
                 str(tmp_path / "x")]) == 2


def test_examples_are_whole_subsequences_and_quantised(tmp_path: Path) -> None:
    splits = load_sequences(sawtooth_folder(tmp_path / "audio"), TINY, example_s=1.0)
    train = splits["train"].codes
    assert train.dtype == np.int64 and train.shape[1] % TINY.seq_len == 0
    assert train.min() >= 0 and train.max() < 256 and len(np.unique(train)) > 50


def run(folder: Path, out: Path, **settings: object) -> list[float]:
    resume = bool(settings.pop("resume", False))
    cfg = srn_train.TrainConfig(batch_size=2, example_s=1.0, sample_s=0.1, device="cpu",
                                **settings)  # type: ignore[arg-type]
    srn_train.train(folder, out, model_config=TINY, train_config=cfg, resume=resume,
                    log=lambda _: None)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted((out / "logs").glob("events.*"), key=lambda p: p.stat().st_mtime_ns)
    log = EventAccumulator(str(files[-1]), size_guidance={"scalars": 0})
    log.Reload()
    return [e.value for e in log.Scalars("loss/train")]


def test_training_learns_and_resumes_on_the_same_path(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    data = sawtooth_folder(tmp_path / "audio")
    whole = run(data, tmp_path / "whole", n_steps=40, eval_every=20)
    assert np.mean(whole[-5:]) < np.mean(whole[:5]) - 0.5  # it learns
    assert sorted(p.name for p in (tmp_path / "whole" / "samples").iterdir()) == [
        "step_0000020.wav", "step_0000040.wav"]
    first = run(data, tmp_path / "part", n_steps=25, eval_every=20)  # stops mid-batch
    rest = run(data, tmp_path / "part", n_steps=40, eval_every=20, resume=True)
    assert len(rest) == 15
    np.testing.assert_allclose(first + rest, whole, rtol=1e-5)


def test_early_stopping_after_patience(tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = srn_train.TrainConfig(n_steps=200, batch_size=2, example_s=1.0, eval_every=2,
                                patience=1, learning_rate=0.0, sample_s=0, device="cpu")
    srn_train.train(sawtooth_folder(tmp_path / "audio"), tmp_path / "m", model_config=TINY,
                    train_config=cfg, log=lines.append)
    assert any("early stop at step 4" in line for line in lines)


def test_generate_and_eval_commands(tmp_path: Path, capsys) -> None:
    data = sawtooth_folder(tmp_path / "audio", n_files=2)
    cfg = srn_train.TrainConfig(n_steps=4, batch_size=2, example_s=1.0, eval_every=4,
                                sample_s=0, device="cpu")
    model = srn_train.train(data, tmp_path / "m", model_config=TINY, train_config=cfg,
                            log=lambda _: None)
    seed = data / "saw0.wav"
    assert main(["generate", "samplernn", "--model", str(model), "--dur", "0.5", "--count", "2",
                 "--temp", "0.9", "--temp", "Env([0.5,1.2],[0.5],[-2])", "--seed", str(seed),
                 "--random-seed", "1", "--out", str(tmp_path / "g.wav")]) == 0
    first, rate = load_audio(tmp_path / "g_1.wav")
    saw, _ = load_audio(seed)
    assert rate == SR and len(first) == len(saw) + SR // 2
    np.testing.assert_allclose(first[:len(saw)], saw, atol=0.02)  # mu-law of the seed itself
    assert main(["generate", "samplernn", "--model", str(model), "--dur", "0.25",
                 "--out-sr", "22050", "--out", str(tmp_path / "r.wav")]) == 0
    assert audio_info(tmp_path / "r.wav").sample_rate == 22050
    assert audio_info(tmp_path / "r.wav").duration_s == pytest.approx(0.25, abs=1e-3)
    capsys.readouterr()
    assert main(["eval", "samplernn", "--model", str(model), str(data), "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert 0 < result["bits_per_sample"] < 8 and result["samples"] == 2 * 3 * SR
    assert 0 < result["unigram_bits_per_sample"] <= 8
    assert main(["generate", "samplernn", "--model", str(model), "--count", "1", "--temp",
                 "1", "--temp", "2", "--out", str(tmp_path / "x.wav")]) == 2
    assert "2 temperatures for --count 1" in capsys.readouterr().err
    assert main(["generate", "samplernn", "--model", str(model), "--temp", "warm",
                 "--out", str(tmp_path / "x.wav")]) == 2


def test_the_rnn_state_is_carried_between_subsequences_of_a_batch(tmp_path: Path,
                                                                  monkeypatch) -> None:
    """Truncated BPTT: each subsequence starts from the state the previous one left, and a
    new batch starts from nothing."""
    seen: list[tuple[int, object, object]] = []
    real = srn_train.training_step

    def spy(model, optimizer, data, rows, sub, state, placement):
        loss, new_state = real(model, optimizer, data, rows, sub, state, placement)
        seen.append((sub, state, new_state))
        return loss, new_state

    monkeypatch.setattr(srn_train, "training_step", spy)
    run(sawtooth_folder(tmp_path / "audio"), tmp_path / "m", n_steps=10, eval_every=10)
    for (_, _, left), (sub, given, _) in itertools.pairwise(seen):
        if sub == 0:
            assert given is None
        else:
            assert given is left
    assert [s for s, _, _ in seen].count(0) == 1 and len(seen) == 10
