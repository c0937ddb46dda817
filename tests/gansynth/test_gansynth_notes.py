"""dlwa.gansynth.generate and .evaluate, and the generate/eval commands, on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from dlwa import checkpoints, cli
from dlwa.gansynth import evaluate as ev
from dlwa.gansynth.generate import (
    NoteShape,
    combine_notes,
    hallucinate,
    hallucination_z,
    random_z,
    synthesize,
    write_notes,
)
from dlwa.gansynth.model import GANSynth, GANSynthConfig, generator_model, load_model

RATE = 1000


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tmp_path / "ck"))
    monkeypatch.setattr(checkpoints, "PROJECT_CHECKPOINTS", tmp_path / "none")
    torch.manual_seed(0)
    config = GANSynthConfig.small(sample_rate=RATE, audio_length=64, pitches=(60, 62, 64))
    model = GANSynth(config)
    state = {k: torch.randn_like(v) for k, v in model.state_dict().items()
             if k.startswith("generator.")}
    state.update({k: v for k, v in model.state_dict().items() if k.startswith("normalizer.")})
    checkpoints.save_checkpoint(tmp_path / "ck" / "gansynth_tiny", "gansynth",
                                config.to_dict(), state, sample_rate=RATE)
    return load_model("tiny")[0]


# ----- combining notes


def test_combine_notes_lays_notes_out_to_the_sample():
    notes = np.ones((3, 100), np.float32)
    shape = NoteShape(start_trim=0.01, attack=0.01, sustain=0.02, release=0.01)
    out = combine_notes(notes, sample_rate=RATE, spacing=0.015, shape=shape)
    assert len(out) == 2 * 15 + 40
    assert np.abs(out).max() == pytest.approx(0.5)
    # The first note alone for 15 samples: its attack ramp, scaled by the mix's peak.
    first = out[:10] / out[:10].max()
    np.testing.assert_allclose(first, np.arange(1, 11) / 10, atol=1e-6)
    assert 0 < out[-1] < out.max() / 5  # ends in the release's last step (1/10)


def test_combine_notes_uses_the_trimmed_part_of_each_note():
    notes = np.zeros((1, 100), np.float32)
    notes[0, 50:] = 1.0  # sound only after 50 ms
    early = combine_notes(notes, sample_rate=RATE, spacing=0.0, shape=NoteShape(0.0, 0.0,
                                                                                   0.02, 0.0))
    late = combine_notes(notes, sample_rate=RATE, spacing=0.0, shape=NoteShape(0.05, 0.0,
                                                                                  0.02, 0.0))
    assert not early.any() and late.min() == pytest.approx(0.5)


def test_note_shape_checks():
    with pytest.raises(ValueError, match="longer than the model's 0.1 s notes"):
        NoteShape(0.05, 0.03, 0.03, 0.03).check(0.1)
    with pytest.raises(ValueError, match="attack must be 0 or more"):
        NoteShape(0.0, -1.0, 0.03, 0.03).check(0.1)
    with pytest.raises(ValueError, match="more than 0 seconds"):
        NoteShape(0.0, 0.0, 0.0, 0.0).check(0.1)


def test_hallucination_latents_interpolate_between_random_anchors():
    z = hallucination_z(np.random.default_rng(0), 3, 2, 8)
    anchors = random_z(3, 8, np.random.default_rng(0))
    assert z.shape == (7, 8)
    np.testing.assert_allclose(z[[0, 3, 6]], anchors, atol=1e-6)
    assert not np.allclose(z[1], z[0]) and not np.allclose(z[1], z[3])


# ----- the model


def test_synthesize_is_independent_of_the_batch(tiny):
    z = random_z(5, 16, np.random.default_rng(1))
    one = synthesize(tiny, z, [60, 62, 64, 60, 62], batch_size=1)
    shares = []
    five = synthesize(tiny, z, [60, 62, 64, 60, 62], batch_size=2, progress=shares.append)
    np.testing.assert_allclose(one, five, atol=1e-4 * np.abs(one).max())
    assert shares == [0.4, 0.8, 1.0]
    with pytest.raises(ValueError, match="one pitch per latent"):
        synthesize(tiny, z, [60])


def test_hallucinate_length_and_pitch(tiny):
    shape = NoteShape(0.0, 0.01, 0.02, 0.01)
    kwargs = {"note_count": 2, "steps": 3, "spacing": 0.005, "shape": shape}
    a = hallucinate(tiny, pitch=60, rng=np.random.default_rng(0), **kwargs)
    b = hallucinate(tiny, pitch=64, rng=np.random.default_rng(0), **kwargs)
    assert len(a) == len(b) == 4 * 5 + 40
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="at most 1000 notes"):
        hallucinate(tiny, pitch=60, rng=np.random.default_rng(0), note_count=500, steps=5,
                    spacing=0.1, shape=shape)


@torch.no_grad()
def test_a_mid_training_checkpoint_generates_at_its_stage(tiny, tmp_path):
    z = torch.from_numpy(random_z(1, 16, np.random.default_rng(2)))
    grown = tiny.generator(z, tiny.one_hot([60]))
    tiny.progress = 0.5
    assert tiny.generator_stage() == (2, 0.5)
    half = tiny.normalizer.denormalize(tiny.generator(z, tiny.one_hot([60]), num_blocks=2,
                                                      progress=0.5))
    from dlwa.gansynth.model import generate

    expected = tiny.config.transform().specgram_to_audio(half)
    np.testing.assert_allclose(generate(tiny, z, [60]), expected)
    tiny.progress = None
    assert tiny.generator_stage() == (3, 2.0)
    assert not torch.allclose(grown, tiny.generator(z, tiny.one_hot([60]), num_blocks=2,
                                                    progress=0.5))


# ----- note files and the commands


def test_write_notes_names_and_never_overwrites(tiny, tmp_path):
    z = random_z(2, 16, np.random.default_rng(0))
    paths = write_notes(tiny, tmp_path / "notes", pitches=[60, 64], z=z)
    assert sorted(p.name for p in paths) == ["60_0.wav", "60_1.wav", "64_0.wav", "64_1.wav"]
    audio, rate = sf.read(paths[0])
    assert rate == RATE and len(audio) == 64
    before = paths[0].read_bytes()
    with pytest.raises(ValueError, match="exist already"):
        write_notes(tiny, tmp_path / "notes", pitches=[60], z=z)
    assert paths[0].read_bytes() == before


def test_generate_command_same_seed_same_notes(tiny, tmp_path):
    def run(out, *extra):
        args = ["generate", "gansynth", "--model", "tiny", "--pitches", "60", "64",
                "--count", "2", "--out-dir", str(out), *extra]
        assert cli.main(args) == 0
        return {p.name: sf.read(p)[0] for p in sorted(out.iterdir())}

    a, b = run(tmp_path / "a", "--seed", "3"), run(tmp_path / "b", "--seed", "3")
    c = run(tmp_path / "c", "--seed", "4")
    assert sorted(a) == ["60_0.wav", "60_1.wav", "64_0.wav", "64_1.wav"]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.allclose(a["60_0.wav"], c["60_0.wav"])
    bf16 = run(tmp_path / "e", "--seed", "3", "--precision", "bfloat16")
    assert not np.array_equal(a["60_0.wav"], bf16["60_0.wav"])
    z = random_z(1, 16, np.random.default_rng(9))
    np.save(tmp_path / "z.npy", z)
    given = run(tmp_path / "d", "--z", str(tmp_path / "z.npy"))
    assert sorted(given) == ["60_0.wav", "64_0.wav"]
    expected = synthesize(tiny, z, [64])[0]
    np.testing.assert_allclose(given["64_0.wav"], expected, atol=2 / 32768 + 1e-4 *
                               np.abs(expected).max())


def test_generate_command_errors_are_one_line(tiny, tmp_path, capsys):
    base = ["generate", "gansynth", "--model", "tiny", "--out-dir", str(tmp_path / "o")]
    assert cli.main([*base, "--pitches", "61"]) != 0
    assert "pitch 61 is not one this model was trained on (MIDI 60 62 64)" in (
        capsys.readouterr().err)
    np.save(tmp_path / "bad.npy", np.zeros((2, 5), np.float32))
    assert cli.main([*base, "--pitches", "60", "--z", str(tmp_path / "bad.npy")]) != 0
    assert "--z has 5 values but this model's latents have 16" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_pitch_measurement_sees_pitch_octaves_and_noise():
    t = np.arange(3 * RATE * 16) / (RATE * 16)
    tone = np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 880 * t)
    assert abs(ev.median_f0_cents(tone, sample_rate=16000, pitch=69)) < 5
    assert ev.median_f0_cents(tone, sample_rate=16000, pitch=57) == pytest.approx(1200, abs=5)
    noise = np.random.default_rng(0).standard_normal(len(t)) * 0.1
    assert ev.median_f0_cents(noise, sample_rate=16000, pitch=69) is None


def test_log_spectral_distance():
    t = np.arange(16000) / 16000
    a, b = np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)
    assert ev.log_spectral_distance(a, a) == 0.0
    assert ev.log_spectral_distance(a, b) > 5.0


def test_evaluate_counts_hits_per_pitch(monkeypatch):
    """A model whose notes are exact sines at the pitch asked for: every note a hit; the
    latent changes the level only, so the notes differ by 6 dB where they are above the
    distance's floor and not at all below it."""
    config = GANSynthConfig.small(sample_rate=16000, pitches=(48, 60, 72))
    model = generator_model(config)

    def sine_notes(model, z, pitches, *, batch_size, progress=None):
        t = np.arange(3 * 16000) / 16000
        level = 1.0 + np.arange(len(z))[:, None]  # 0, 6.02 dB apart
        f = 440 * 2 ** ((np.asarray(pitches)[:, None] - 69) / 12)
        return (0.1 * level * np.sin(2 * np.pi * f * t)).astype(np.float32)

    monkeypatch.setattr(ev, "synthesize", sine_notes)
    result = ev.evaluate(model, name="sines", notes_per_pitch=2)
    assert result.pitch_accuracy == 1.0
    assert [r.pitch for r in result.per_pitch] == [48, 60, 72]
    assert 0.5 < result.diversity_db < 20 * np.log10(2)
    assert json.loads(json.dumps(result.to_dict()))["pitch_accuracy"] == 1.0
    with pytest.raises(ValueError, match="pitch 50 is not one"):
        ev.evaluate(model, name="sines", pitches=[50])


def test_eval_command_json(tiny, capsys):
    assert cli.main(["eval", "gansynth", "--model", "tiny", "--count", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "gansynth_tiny" and result["notes_per_pitch"] == 2
    assert [r["pitch"] for r in result["per_pitch"]] == [60, 62, 64]
    assert 0.0 <= result["pitch_accuracy"] <= 1.0


def test_load_model_takes_the_stage_of_an_unfinished_training(tmp_path):
    config = GANSynthConfig.small()
    model = GANSynth(config)
    state = {k: v for k, v in model.state_dict().items()
             if k.startswith(("generator.", "normalizer."))}
    for name, training, expected in [("mid", {"progress": 1.25, "complete": False}, 1.25),
                                     ("done", {"progress": 2.0, "complete": True}, None),
                                     ("imported", {}, None)]:
        checkpoints.save_checkpoint(tmp_path / name, "gansynth", config.to_dict(), state,
                                    sample_rate=config.sample_rate, training=training)
        assert load_model(tmp_path / name)[0].progress == expected, name


def test_a_config_saved_before_mel_bands_existed_decodes_with_independent_bands(tmp_path):
    config = GANSynthConfig.small(data_type="mel", start_width=8)  # 16 mel bins
    model = GANSynth(config)
    state = {k: v for k, v in model.state_dict().items()
             if k.startswith(("generator.", "normalizer."))}
    saved = config.to_dict()
    del saved["mel_bands"]
    checkpoints.save_checkpoint(tmp_path / "old", "gansynth", saved, state,
                                sample_rate=config.sample_rate)
    assert load_model(tmp_path / "old")[0].config.mel_bands == "independent"
    assert GANSynthConfig.from_dict(saved).mel_bands == "independent"
    assert GANSynthConfig().mel_bands == "magenta"
    magenta = config.transform().mel_matrices()[0]
    independent = GANSynthConfig.small(data_type="mel", start_width=8,
                                       mel_bands="independent").transform().mel_matrices()[0]
    assert not torch.allclose(magenta, independent)
