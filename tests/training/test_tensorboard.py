"""Every trainer writes TensorBoard events: losses and learning rate as scalars, sound
examples with their spectrograms (DDSP resynthesis, GANSynth notes), and a generated
melody as a piano roll (MelodyRNN). Read back with tensorboard's own event reader."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from training_helpers import events, midi_folder, tone_folder

from dlwa.training.logs import melody_pitches, piano_roll_image, spectrogram_image

pytestmark = pytest.mark.slow


def picture(accumulator, tag: str) -> np.ndarray:
    event = accumulator.Images(tag)[-1]
    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))


def sound(accumulator, tag: str) -> tuple[np.ndarray, int]:
    import soundfile

    event = accumulator.Audio(tag)[-1]
    audio, rate = soundfile.read(io.BytesIO(event.encoded_audio_string))
    return audio, rate


def test_ddsp_logs_losses_resynthesis_and_spectrograms(tmp_path: Path) -> None:
    from dlwa.ddsp import train as ddsp_train
    from dlwa.ddsp.model import DDSPConfig

    tiny = DDSPConfig(rnn_channels=16, ch=16, layers_per_stack=1, n_harmonics=8,
                      n_noise_bands=9, reverb_length=256)
    data = tone_folder(tmp_path / "audio", n_files=10, seconds=1.2)  # split by file
    out = ddsp_train.train(data, tmp_path / "d", model_config=tiny,
                           train_config=ddsp_train.TrainConfig(
                               n_steps=3, batch_size=2, example_s=1.0, save_every=2,
                               device="cpu"), log=lambda _: None)
    log = events(out / "logs")
    tags = log.Tags()
    assert {"loss/train", "learning_rate", "loss/validation"} <= set(tags["scalars"])
    assert [e.step for e in log.Scalars("loss/train")] == [1, 2, 3]
    lr = [e.value for e in log.Scalars("learning_rate")]
    assert lr[0] == pytest.approx(2e-3) and lr[-1] < lr[0]  # the cosine decay
    assert {"example/target", "example/resynthesis"} <= set(tags["audio"])
    audio, rate = sound(log, "example/resynthesis")
    assert rate == 16000 and len(audio) == 16000 and np.sqrt(np.mean(audio ** 2)) > 1e-4
    target, _ = sound(log, "example/target")
    assert not np.allclose(audio, target, atol=1e-3)
    image = picture(log, "example/resynthesis/spectrogram")
    assert image.shape[2] in (3, 4) and image.shape[0] == 257 and image[..., :3].std() > 5


def test_melody_rnn_logs_validation_beside_the_baseline_and_a_piano_roll(tmp_path: Path
                                                                          ) -> None:
    from dlwa.melody_rnn.data import load_melodies
    from dlwa.melody_rnn.model import get_config
    from dlwa.melody_rnn.train import TrainOptions, train

    train_set, validation = load_melodies(midi_folder(tmp_path / "midi"), min_note=48,
                                          max_note=84, cache_dir=tmp_path / "cache")
    lines: list[str] = []
    train(train_set.melodies, validation.melodies, config=get_config("basic_rnn",
                                                                     layer_sizes=(16,)),
          out=tmp_path / "m", options=TrainOptions(n_updates=4, batch_size=4, eval_every=2,
                                                   device="cpu"), log=lines.append)
    log = events(tmp_path / "m" / "logs")
    scalars = set(log.Tags()["scalars"])
    assert {"loss/train", "learning_rate", "validation/nll", "validation/accuracy",
            "validation/bigram_nll"} <= scalars
    assert [e.step for e in log.Scalars("validation/nll")] == [2, 4]
    baseline = log.Scalars("validation/bigram_nll")[-1].value
    assert any(f"vs bigram baseline {baseline:.4f}" in line for line in lines)
    roll = picture(log, "generated/piano_roll")
    assert roll.shape[1] == 4 * (16 + 64)  # primer bar and continuation, 4 pixels a step
    assert len(log.Images("generated/piano_roll")) == 2


def test_gansynth_logs_losses_and_notes(tmp_path: Path) -> None:
    from dlwa.audio.conversions import midi_to_hz
    from dlwa.audio.io import save_audio
    from dlwa.audio.signals import harmonic_tone
    from dlwa.gansynth.model import GANSynthConfig
    from dlwa.gansynth.train import DataOptions, TrainConfig, train

    folder = tmp_path / "notes"
    folder.mkdir()
    for pitch in (60, 62, 64):
        for i in range(3):
            tone = harmonic_tone(float(midi_to_hz(pitch)), duration_s=0.004 * (i + 1),
                                 sample_rate=16000)
            save_audio(folder / f"tone{i}_{pitch}.wav", tone, sample_rate=16000)
    out = train(folder, tmp_path / "g", model_config=GANSynthConfig.small(),
                train_config=TrainConfig(progress_bar=False, smoke_test=True, log_every=1,
                                         device="cpu"),
                data=DataOptions(chop="none"), log=lambda _: None)
    log = events(out / "logs")
    scalars = set(log.Tags()["scalars"])
    assert {"loss/d_loss", "loss/g_loss", "learning_rate", "progress"} <= scalars
    notes = sorted(log.Tags()["audio"])
    assert notes and all(tag.startswith("notes/pitch_") for tag in notes)
    audio, rate = sound(log, notes[0])
    assert rate == 16000 and len(audio) == GANSynthConfig.small().audio_length
    assert f"{notes[0]}/spectrogram" in log.Tags()["images"]


def test_pictures_show_what_they_draw() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    image = spectrogram_image(np.sin(2 * np.pi * 1000 * t))
    row = int(np.argmax(image.sum(axis=(1, 2))))
    assert abs((256 - row) * rate / 512 - 1000) < 2 * rate / 512  # 1 kHz, low at the bottom
    roll = piano_roll_image(melody_pitches([60, -2, -1, 64, -2]), cell=1)
    lit = roll.sum(axis=2) > 600
    assert lit[:, :2].any() and not lit[:, 2].any() and lit[:, 3:].any()
    assert np.argmax(lit[:, 0]) > np.argmax(lit[:, 3])  # 60 lies below 64


def test_samplernn_logs_bits_per_sample_and_generated_samples(tmp_path: Path) -> None:
    from dlwa.samplernn import train as srn_train
    from dlwa.samplernn.model import SampleRNNConfig

    tiny = SampleRNNConfig(seq_len=128, frame_sizes=(4, 16), dim=16, num_rnn_layers=1)
    out = srn_train.train(tone_folder(tmp_path / "audio", n_files=10, seconds=1.2),
                          tmp_path / "s", model_config=tiny, train_config=srn_train.TrainConfig(
                              n_steps=4, batch_size=2, example_s=1.0, eval_every=2,
                              sample_s=0.25, device="cpu"), log=lambda _: None)
    log = events(out / "logs")
    assert {"loss/train", "train/bits_per_sample",
            "validation/bits_per_sample"} <= set(log.Tags()["scalars"])
    assert [e.step for e in log.Scalars("validation/bits_per_sample")] == [2, 4]
    audio, rate = sound(log, "generated/sample")
    assert rate == 16000 and len(audio) == 4000
    assert "generated/sample/spectrogram" in log.Tags()["images"]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000002.wav",
                                                                   "step_0000004.wav"]
