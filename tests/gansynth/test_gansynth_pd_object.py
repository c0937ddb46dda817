"""The ``gansynth`` Pd object through the pyext stand-in, on a tiny random model.

Every message is checked by its effect on arrays (the real Pd runs are in
``tests/pd/test_gansynth_patches.py``, with the shipped model and measured pitches).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwa import checkpoints
from dlwa.gansynth.generate import synthesize
from dlwa.gansynth.model import GANSynth, GANSynthConfig, load_model
from dlwa.pd import gansynth, standin

SR = 48000
MODEL_RATE = 1000  # the tiny model's 64-sample notes last 64 ms
LATENT = 16


@pytest.fixture(autouse=True)
def host(monkeypatch, tmp_path):
    standin.reset()
    standin.set_samplerate(SR)
    for name in ("z1", "z2", "z3", "out1", "out2", "out3", "long"):
        standin.make_array(name, 10)
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tmp_path / "checkpoints"))
    monkeypatch.setattr(checkpoints, "PROJECT_CHECKPOINTS", tmp_path / "project_checkpoints")
    yield
    standin.reset()


def save_tiny_model(directory):
    """A random GANSynth with random biases (nothing at its initial zero)."""
    torch.manual_seed(3)
    config = GANSynthConfig.small(sample_rate=MODEL_RATE, audio_length=64,
                                  pitches=(60, 62, 64))
    model = GANSynth(config)
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("generator."):
            state[key] = torch.randn_like(value) * (0.3 if key.endswith("bias") else 1.0)
        elif key.startswith("normalizer."):
            state[key] = value
    checkpoints.save_checkpoint(directory, "gansynth", config.to_dict(), state,
                                sample_rate=MODEL_RATE)
    return directory


@pytest.fixture
def obj(tmp_path):
    save_tiny_model(tmp_path / "checkpoints" / "gansynth_tiny")
    o = standin.create(gansynth, canvas_dir=tmp_path)
    say(o, "out_sample_rate 1000")
    assert say(o, "load tiny") == ["loaded 64 1000"]
    return o


def say(o, text):
    standin.send_message(o, 1, text)
    return [line for line in standin.outputs(o) if not line.startswith("progress ")]


def errors(lines):
    return [line for line in lines if line.startswith("error ")]


def reference_notes(tmp_path, z, pitches):
    model, _ = load_model(tmp_path / "checkpoints" / "gansynth_tiny")
    return synthesize(model, z, pitches, batch_size=1)


# ----- load and the note format


def test_load_by_course_name_and_batch_and_the_reported_format(tmp_path):
    save_tiny_model(tmp_path / "checkpoints" / "gansynth_tiny")
    o = standin.create(gansynth, canvas_dir=tmp_path)
    assert say(o, "load tiny 4") == [f"loaded {64 * SR // MODEL_RATE} {SR}"]  # Pd's rate
    assert "batch 4" in say(o, "status")
    assert say(o, "out_sample_rate 1000") == ["done out_sample_rate 1000", "note 64 1000"]
    assert "note 64 1000" in say(o, "status")
    assert say(o, "pitches") == ["pitches 60 62 64"]


def test_load_errors_are_one_line_and_the_object_keeps_working(obj):
    out = say(obj, "load nothing_here")
    assert len(out) == 1 and out[0].startswith("error no checkpoint named")
    assert errors(say(obj, "load tiny 0"))[0].startswith("error batch must be")
    assert say(obj, "randomize_z z1") == ["randomized"]


def test_nothing_loaded_says_how_to_load():
    o = standin.create(gansynth)
    out = say(o, "randomize_z z1")
    assert len(out) == 1 and "send 'load <name>' first" in out[0]


# ----- latents


def test_randomize_z_fills_each_array_with_its_own_normal_latent(obj):
    assert say(obj, "randomize_z z1 z2") == ["randomized"]
    z1, z2 = standin.array("z1"), standin.array("z2")
    assert z1.shape == z2.shape == (LATENT,) and not np.allclose(z1, z2)
    assert say(obj, "randomize_z z1") == ["randomized"]
    assert not np.allclose(standin.array("z1"), z1)  # fresh each time without a seed
    big = np.concatenate([standin.array("z1")] + [
        (say(obj, "randomize_z z3"), standin.array("z3"))[1] for _ in range(60)])
    assert abs(big.mean()) < 0.15 and abs(big.std() - 1.0) < 0.1  # N(0, 1), not unit length


def test_seed_repeats_the_sequence_of_latents(obj):
    def two_draws():
        say(obj, "randomize_z z1")
        first = standin.array("z1").copy()
        say(obj, "randomize_z z1")
        return first, standin.array("z1").copy()

    assert say(obj, "seed 7") == ["done seed 7"]
    a1, a2 = two_draws()
    assert not np.array_equal(a1, a2)  # pressing randomize again gives a new latent
    say(obj, "seed 7")
    b1, b2 = two_draws()
    assert np.array_equal(a1, b1) and np.array_equal(a2, b2)
    assert say(obj, "seed random") == ["done seed random"]
    c1, _ = two_draws()
    assert not np.array_equal(c1, a1)


def test_slerp_z_end_points_and_middle(obj):
    say(obj, "randomize_z z1 z2")
    z1, z2 = standin.array("z1"), standin.array("z2")
    assert say(obj, "slerp_z z1 z2 z3 0") == ["slerped"]
    assert np.allclose(standin.array("z3"), z1, atol=1e-6)
    say(obj, "slerp_z z1 z2 z3 1")
    assert np.allclose(standin.array("z3"), z2, atol=1e-6)
    say(obj, "slerp_z z1 z2 z3 0.5")
    middle = standin.array("z3")
    assert not np.allclose(middle, z1) and not np.allclose(middle, z2)
    assert np.linalg.norm(middle) > 0.6 * np.linalg.norm((z1 + z2) / 2) > 0


def test_slerp_z_bad_input(obj):
    say(obj, "randomize_z z1 z2")
    assert errors(say(obj, "slerp_z z1 z2 z3 1.5"))[0].startswith("error t must be")
    assert "no array named 'nowhere'" in say(obj, "slerp_z z1 nowhere z3 0.5")[0]
    standin.make_array("short", 5)
    out = say(obj, "slerp_z z1 short z3 0.5")
    assert out == [(f"error array 'short' has 5 values but this model's latents have {LATENT} "
                    "(randomize_z fills an array with them)")]


# ----- synthesize


def test_synthesize_groups_match_the_library_whatever_the_batch(obj, tmp_path):
    say(obj, "seed 5")
    say(obj, "randomize_z z1 z2 z3")
    z = np.stack([standin.array(n) for n in ("z1", "z2", "z3")])
    expected = reference_notes(tmp_path, z, [60, 64, 62])
    for batch in (1, 2, 8):
        say(obj, f"batch {batch}")
        assert say(obj, "synthesize z1 out1 60 z2 out2 64 z3 out3 62") == ["synthesized"]
        for i, name in enumerate(("out1", "out2", "out3")):
            scale = np.abs(expected[i]).max()  # the random model is loud: float32 rounding
            np.testing.assert_allclose(standin.array(name), expected[i], atol=1e-4 * scale)


def test_synthesize_pitch_changes_the_note(obj):
    say(obj, "randomize_z z1")
    say(obj, "synthesize z1 out1 60 z1 out2 64")
    assert not np.allclose(standin.array("out1"), standin.array("out2"))


def test_synthesize_resamples_to_pds_rate(obj, tmp_path):
    say(obj, "randomize_z z1")
    say(obj, "out_sample_rate 0")
    say(obj, "synthesize z1 out1 62")
    note = standin.array("out1")
    assert len(note) == 64 * SR // MODEL_RATE
    model_rate = reference_notes(tmp_path, standin.array("z1")[None], [62])[0]
    # The same sound: its samples at the model's rate are every 48th of Pd's.
    assert np.corrcoef(note[::SR // MODEL_RATE], model_rate)[0, 1] > 0.9


def test_synthesize_bad_input_is_one_line_and_leaves_arrays_alone(obj):
    say(obj, "randomize_z z1")
    say(obj, "synthesize z1 out1 60")
    before = standin.array("out1").copy()
    for text, start in [
        ("synthesize z1 out1 61", ("error pitch 61 is not one this model was trained on "
                                  "(MIDI 60 62 64)")),
        ("synthesize z1 out1", "error synthesize takes groups of three"),
        ("synthesize z1 nowhere 60", "error no array named 'nowhere'"),
        ("synthesize z1 out1 200", "error pitch must be"),
    ]:
        out = say(obj, text)
        assert len(out) == 1 and out[0].startswith(start), (text, out)
    standin.make_array("zlong", LATENT + 1)
    assert "has 17 values" in say(obj, "synthesize zlong out1 60")[0]
    assert np.array_equal(standin.array("out1"), before)
    assert say(obj, "synthesize z1 out2 60") == ["synthesized"]


# ----- hallucinate


def test_hallucinate_reports_the_true_length(obj):
    say(obj, "seed 1")
    # 3 notes, 2 steps → 7 notes; 0.01 s apart; 0.005 + 0.02 + 0.01 s shaped at 1000 Hz.
    out = say(obj, "hallucinate long 3 2 0.01 0.002 0.005 0.02 0.01")
    assert out == ["hallucinated 95"]  # 6 · 10 + 35
    audio = standin.array("long")
    assert len(audio) == 95 and np.abs(audio).max() == pytest.approx(0.5, abs=1e-6)
    assert np.all(audio[-1:] == 0) or abs(audio[-1]) < 0.05  # ends in the release


def test_hallucinate_settings_change_the_sound(obj):
    say(obj, "seed 1")
    say(obj, "hallucinate long 2 1 0.01 0 0.005 0.02 0.01 60")
    at_60 = standin.array("long").copy()
    say(obj, "seed 1")  # the same latents: only the pitch differs
    say(obj, "hallucinate long 2 1 0.01 0 0.005 0.02 0.01 60")
    np.testing.assert_array_equal(standin.array("long"), at_60)
    say(obj, "seed 1")
    say(obj, "hallucinate long 2 1 0.01 0 0.005 0.02 0.01 64")
    assert not np.allclose(standin.array("long"), at_60)
    # 3 notes 0.02 s apart: 2 · 20 + 35 samples.
    assert say(obj, "hallucinate long 2 1 0.02 0 0.005 0.02 0.01 60") == ["hallucinated 75"]
    say(obj, "out_sample_rate 0")
    out = say(obj, "hallucinate long 2 1 0.02 0 0.005 0.02 0.01 60")
    assert out == [f"hallucinated {75 * SR // MODEL_RATE}"]
    assert len(standin.array("long")) == 75 * SR // MODEL_RATE


def test_hallucinate_bad_input(obj):
    assert errors(say(obj, "hallucinate long 2 1 0.01 0 0.05 0.05 0.05"))[0] == (
        "error start_trim + attack + sustain + release is 0.15 s: longer than the model's "
        "0.064 s notes")
    assert "pitch 61 is not one" in say(obj, "hallucinate long 2 1 0.01 0 0.01 0.01 0.01 61")[0]
    assert "no array named" in say(obj, "hallucinate nowhere 2 1")[0]
    assert "note_count must be" in say(obj, "hallucinate long 0 1")[0]
    assert say(obj, "hallucinate long 1 0 0 0 0.01 0.01 0.01") == ["hallucinated 30"]


def test_precision_switches_the_generators_arithmetic(obj):
    say(obj, "seed 2")
    say(obj, "randomize_z z1")
    say(obj, "synthesize z1 out1 62")
    exact = standin.array("out1").copy()
    assert say(obj, "precision bfloat16") == ["done precision bfloat16"]
    assert "precision bfloat16" in say(obj, "status")
    say(obj, "synthesize z1 out1 62")
    rounded = standin.array("out1").copy()
    assert not np.array_equal(rounded, exact)
    assert say(obj, "load tiny") == ["loaded 64 1000"]  # a new model keeps the setting
    say(obj, "synthesize z1 out1 62")
    np.testing.assert_array_equal(standin.array("out1"), rounded)
    say(obj, "precision float32")
    say(obj, "synthesize z1 out1 62")
    np.testing.assert_array_equal(standin.array("out1"), exact)
    assert errors(say(obj, "precision half")) == [
        "error precision must be float32 or bfloat16: got 'half'"]


# ----- GANSpace


@pytest.fixture
def with_pca(obj, tmp_path):
    from dlwa.gansynth.ganspace import fit

    model, _ = load_model(tmp_path / "checkpoints" / "gansynth_tiny")
    space = fit(model, samples=256, n_components=4, batch_size=128, seed=0)
    space.save(tmp_path / "tiny_pca.npz")
    standin.make_array("amps", 100)
    assert say(obj, "load_ganspace_components tiny_pca.npz amps") == ["loaded_pca 4"]
    assert len(standin.array("amps")) == 4 and not standin.array("amps").any()
    return space


def test_synthesize_with_amplitudes(obj, with_pca, tmp_path):
    say(obj, "seed 3")
    say(obj, "randomize_z z1")
    say(obj, "synthesize z1 out1 62")
    zero = standin.array("out1").copy()
    z = standin.array("z1")[None]
    np.testing.assert_allclose(zero, reference_notes(tmp_path, z, [62])[0],
                               atol=1e-4 * np.abs(zero).max())  # all-zero: plain synthesize
    standin.make_array("amps", 4, [2.0, 0.0, -1.0, 0.0])
    say(obj, "synthesize z1 out1 62")
    assert not np.allclose(standin.array("out1"), zero)


def test_synthesize_noz_groups_numbers_and_arrays(obj, with_pca, tmp_path):
    from dlwa.gansynth.ganspace import synthesize_edited

    standin.make_array("edits", 3, [1.0, -2.0, 0.5])
    out = say(obj, "synthesize_noz out1 60 1 -2 0.5 -- out2 64 edits -- out3 62")
    assert out == ["synthesized"]
    model, _ = load_model(tmp_path / "checkpoints" / "gansynth_tiny")
    expected = synthesize_edited(model, with_pca, [60, 64, 62],
                                 [[1, -2, 0.5], [1, -2, 0.5], [0, 0, 0]])
    for name, note in zip(("out1", "out2", "out3"), expected):
        np.testing.assert_allclose(standin.array(name), note, atol=1e-4 * np.abs(note).max())
    for batch in (1, 8):
        say(obj, f"batch {batch}")
        say(obj, "synthesize_noz out1 60 1 -2 0.5 -- out2 64 edits")
        np.testing.assert_allclose(standin.array("out2"), expected[1],
                                   atol=1e-4 * np.abs(expected[1]).max())


def test_ganspace_errors(obj, tmp_path):
    out = say(obj, "synthesize_noz out1 60")
    assert out == ["error no GANSpace loaded: send 'load_ganspace_components <file>' first"]
    assert "cannot read the GANSpace file" in say(obj, "load_ganspace_components nope.npz")[0]
    assert "groups are separated by --" in say(obj, "synthesize_noz out1")[0]


def test_loading_a_model_forgets_the_pca(obj, with_pca):
    assert say(obj, "load tiny") == ["loaded 64 1000"]
    assert say(obj, "synthesize_noz out1 60")[0].startswith("error no GANSpace loaded")
