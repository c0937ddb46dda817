"""The halluseq Pd object (HALLU sequencer) through the pyext stand-in, on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dlwa import checkpoints
from dlwa.gansynth.ganspace import fit, synthesize_edited
from dlwa.gansynth.generate import NoteShape, combine_notes
from dlwa.gansynth.model import GANSynth, GANSynthConfig, load_model
from dlwa.pd import halluseq, standin
from dlwa.pd.halluseq import path_points

RATE = 1000


@pytest.fixture(autouse=True)
def host(monkeypatch, tmp_path):
    standin.reset()
    standin.set_samplerate(48000)
    standin.make_array("edits", 3)
    standin.make_array("out", 10)
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tmp_path / "ck"))
    monkeypatch.setattr(checkpoints, "PROJECT_CHECKPOINTS", tmp_path / "none")
    torch.manual_seed(0)
    config = GANSynthConfig.small(sample_rate=RATE, audio_length=64, pitches=(60, 62, 64))
    state = {k: torch.randn_like(v) if k.startswith("generator.") else v
             for k, v in GANSynth(config).state_dict().items()
             if k.startswith(("generator.", "normalizer."))}
    checkpoints.save_checkpoint(tmp_path / "ck" / "gansynth_tiny", "gansynth", config.to_dict(),
                                state, sample_rate=RATE)
    model, _ = load_model("tiny")
    fit(model, samples=256, n_components=4, batch_size=128).save(tmp_path / "pca.npz")
    yield
    standin.reset()


@pytest.fixture
def seq(tmp_path):
    o = standin.create(halluseq, "edits", canvas_dir=tmp_path)
    assert say(o, "out_sample_rate 1000") == ["done out_sample_rate 1000"]
    assert say(o, "load tiny") == ["loaded 64 1000"]
    assert say(o, "load_ganspace_components pca.npz") == ["loaded_pca 4", "step 0 1"]
    assert len(standin.array("edits")) == 4
    return o


def say(o, text):
    standin.send_message(o, 1, text)
    return [line for line in standin.outputs(o) if not line.startswith("progress ")]


def draw(values):
    standin.make_array("edits", len(values), values)


def test_needs_its_edits_array():
    with pytest.raises(ValueError, match=r"halluseq needs the edits array"):
        standin.create(halluseq)


def test_steps_keep_what_was_drawn(seq):
    draw([1, 0, 0, 0])
    assert say(seq, "add_step") == ["step 1 2"]
    np.testing.assert_array_equal(standin.array("edits"), [1, 0, 0, 0])  # a copy
    draw([0, 2, 0, 0])
    assert say(seq, "add_step") == ["step 2 3"]
    draw([0, 0, 3, 0])
    assert say(seq, "prev_step") == ["step 1 3"]
    np.testing.assert_array_equal(standin.array("edits"), [0, 2, 0, 0])
    assert say(seq, "prev_step") == ["step 0 3"]
    assert say(seq, "prev_step") == ["step 0 3"]  # the first stays the first
    np.testing.assert_array_equal(standin.array("edits"), [1, 0, 0, 0])
    say(seq, "next_step")
    say(seq, "next_step")
    np.testing.assert_array_equal(standin.array("edits"), [0, 0, 3, 0])
    assert say(seq, "remove_step") == ["step 1 2"]
    np.testing.assert_array_equal(standin.array("edits"), [0, 2, 0, 0])
    say(seq, "seed 4")
    assert say(seq, "rand_step") == ["step 1 2"]
    assert np.abs(standin.array("edits")).sum() > 0 and not np.allclose(
        standin.array("edits"), [0, 2, 0, 0])
    say(seq, "remove_step")
    assert say(seq, "remove_step") == ["step 0 1"]  # one always stays: zeroed
    assert not standin.array("edits").any()


def test_settings_and_send_state(seq):
    assert say(seq, "interp_steps 2") == ["settings interp_steps 2"]
    assert say(seq, "sample_spacing 0.01") == ["settings sample_spacing 0.01"]
    for name in ("start_trim", "attack", "sustain", "release"):
        assert say(seq, f"{name} 0.01") == [f"settings {name} 0.01"]
    assert say(seq, "pitch 64") == ["settings pitch 64"]
    state = say(seq, "send_state")
    assert state[0] == "step 0 1" and "settings interp_steps 2" in state
    assert "settings pitch 64" in state and len(state) == 8
    assert say(seq, "interp_steps -1")[0].startswith("error interp_steps must be")


def test_hallucinate_noz_renders_the_path(seq, tmp_path):
    draw([2, 0, 0, 0])
    say(seq, "add_step")
    draw([0, -2, 1, 0])
    for text in ("interp_steps 3", "sample_spacing 0.01", "start_trim 0", "attack 0.01",
                 "sustain 0.02", "release 0.01", "pitch 62"):
        say(seq, text)
    out = say(seq, "hallucinate_noz out")
    assert out == ["hallucinated 80"]  # 2 steps + 3 between: 5 notes, 4 · 10 + 40 samples
    model, _ = load_model("tiny")
    from dlwa.gansynth.ganspace import GANSpace

    space = GANSpace.load(tmp_path / "pca.npz")
    points = path_points([np.array([2, 0, 0, 0.]), np.array([0, -2, 1, 0.])], 3, 4)
    notes = synthesize_edited(model, space, [62] * 5, points)
    expected = combine_notes(notes, sample_rate=RATE, spacing=0.01,
                             shape=NoteShape(0, 0.01, 0.02, 0.01))
    np.testing.assert_allclose(standin.array("out"), expected, atol=1e-4)
    say(seq, "batch 8")
    assert say(seq, "hallucinate_noz out") == ["hallucinated 80"]
    np.testing.assert_allclose(standin.array("out"), expected, atol=1e-4)


def test_path_points():
    points = path_points([np.array([0.0, 4.0]), np.array([4.0])], 3, 3)
    np.testing.assert_allclose(points[:, 0], [0, 1, 2, 3, 4])
    np.testing.assert_allclose(points[:, 1], [4, 3, 2, 1, 0])
    assert not points[:, 2].any()


def test_save_and_load_steps_survive_a_new_object(seq, tmp_path):
    draw([1, 2, 3, 4])
    say(seq, "add_step")
    draw([5, 6, 7, 8])
    say(seq, "interp_steps 7")
    assert say(seq, "save_steps seq.json") == [f"saved {tmp_path / 'seq.json'}"]
    assert say(seq, "save_z also.json") == [f"saved {tmp_path / 'also.json'}"]
    saved = json.loads((tmp_path / "seq.json").read_text())
    assert saved["steps"] == [[1, 2, 3, 4], [5, 6, 7, 8]] and saved["index"] == 1
    fresh = standin.create(halluseq, "edits", canvas_dir=tmp_path)
    draw([0, 0, 0, 0])
    assert say(fresh, "load_steps seq.json") == ["step 1 2"]
    np.testing.assert_array_equal(standin.array("edits"), [5, 6, 7, 8])
    assert "settings interp_steps 7" in say(fresh, "send_state")
    say(fresh, "prev_step")
    np.testing.assert_array_equal(standin.array("edits"), [1, 2, 3, 4])
    (tmp_path / "bad.json").write_text("{}")
    assert say(fresh, "load_steps bad.json")[0].startswith("error cannot load steps")
    assert say(fresh, "load_steps missing.json")[0].startswith("error cannot load steps")


def test_hallucinate_noz_needs_a_pca(tmp_path):
    o = standin.create(halluseq, "edits", canvas_dir=tmp_path)
    say(o, "load tiny")
    assert say(o, "hallucinate_noz out") == [
        "error no GANSpace loaded: send 'load_ganspace_components <file>' first"]
