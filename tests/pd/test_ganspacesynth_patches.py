"""The three GANSpaceSynth patches in real Pd (batch mode) with the shipped all_instruments
model and its shipped PCA (checkpoints/gansynth_all_instruments/ganspace.npz).

Each patch is opened beside tests/pd/patches/gansynth_harness.pd, which creates the probe
inside it (see tests/pd/test_gansynth_patches.py): ``gst-to <name> <message>`` reaches the
patch's own receives, ``gst-write <array> <file>`` saves one of its arrays. The sliders
(``[ganspace-slider <array> <index>]`` in the patch's ``[pd sliders]``) all listen on
``$0-sliders``: ``<index> <value>`` moves one slider (which writes the array), ``bang``
re-reads them all from the array, ``write`` makes each write its own value again.

Pitches are not asserted (the shipped model is not pitched yet, see
test_gansynth_patches.py); the notes are compared with the library's own for the same z,
pitch and amplitudes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from gansynth_probe import run_shipped, sections

from dlwa import checkpoints
from dlwa.audio.resample import resample, resampled_length

pytestmark = pytest.mark.pd

PD_SR = 48000  # pd_runner's default -r
MODEL = "all_instruments"
PCA = checkpoints.PROJECT_CHECKPOINTS / "gansynth_all_instruments" / "ganspace.npz"
PITCH = 60  # the patches' pitch at load


@pytest.fixture(scope="module")
def library():
    """The model, its GANSpace and config, as the patches load them."""
    from dlwa.gansynth.ganspace import GANSpace
    from dlwa.gansynth.model import load_model

    model, _ = load_model(MODEL)
    path = checkpoints.find_checkpoint(MODEL, kind="gansynth", prefix="gansynth_")
    return model, GANSpace.load(PCA), checkpoints.read_config(path)["config"]


def at_pd_rate(note: np.ndarray, config: dict) -> np.ndarray:
    return resample(note, orig_sample_rate=config["sample_rate"], sample_rate=PD_SR)


def read(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float32")[0]


def assert_same_note(got: np.ndarray, expected: np.ndarray, name: str) -> None:
    assert len(got) == len(expected), name
    np.testing.assert_allclose(got, expected, atol=1e-3 * np.abs(expected).max(), err_msg=name)


def expected_amplitudes(moves: dict[int, float], n: int = 64) -> np.ndarray:
    out = np.zeros(n, np.float32)
    for index, value in moves.items():
        out[index] = value
    return out


# ----- ganspacesynth.pd

MOVES = {0: -2.0, 3: 1.5, 10: 0.75}


@pytest.fixture(scope="module")
def relative(tmp_path_factory):
    out = tmp_path_factory.mktemp("ganspacesynth")
    sends = ["gst-mark zero", f"gst-write z {out}/z.wav", f"gst-write amplitudes {out}/a0.wav",
             "gst-to synth", f"gst-write sound {out}/zero.wav", "gst-mark moved"]
    sends += [f"gst-to sliders {i} {v}" for i, v in MOVES.items()]
    sends += [f"gst-write amplitudes {out}/a1.wav", "gst-to synth",
              f"gst-write sound {out}/moved.wav"]
    run = run_shipped("ganspacesynth.pd", sends)
    return run, sections(run, "gansynth"), out


def test_ganspacesynth_loads_the_model_its_pca_and_a_z(relative, library):
    run, replies, out = relative
    _, _, config = library
    n = resampled_length(config["audio_length"], orig_sample_rate=config["sample_rate"],
                         sample_rate=PD_SR)
    assert replies[""] == [f"loaded {n} {PD_SR}", "loaded_pca 64", "randomized"], run.output
    assert replies["zero"] == ["synthesized"] and replies["moved"] == ["synthesized"], run.output
    assert len(read(out / "z.wav")) == config["latent_vector_size"]
    np.testing.assert_array_equal(read(out / "a0.wav"), np.zeros(64, np.float32))


def test_ganspacesynth_sliders_write_their_component(relative):
    _, _, out = relative
    np.testing.assert_allclose(read(out / "a1.wav"), expected_amplitudes(MOVES), atol=1e-6)


def test_ganspacesynth_notes_are_the_librarys(relative, library):
    from dlwa.gansynth.ganspace import synthesize_edited
    from dlwa.gansynth.generate import synthesize

    _, _, out = relative
    model, space, config = library
    z = read(out / "z.wav")[None]
    plain = at_pd_rate(synthesize(model, z, [PITCH])[0], config)
    assert_same_note(read(out / "zero.wav"), plain, "all-zero amplitudes: plain synthesize")
    edited = synthesize_edited(model, space, [PITCH], read(out / "a1.wav")[None], z=z)[0]
    moved = read(out / "moved.wav")
    assert_same_note(moved, at_pd_rate(edited, config), "moved sliders")
    assert np.abs(moved - plain).max() > 1e-2 * np.abs(plain).max()


# ----- ganspacesynth_noz.pd

NOZ_MOVES = {1: 2.0, 5: -1.5, 15: 1.0}


def test_ganspacesynth_noz_note_is_the_mean_plus_the_sliders(tmp_path, library):
    from dlwa.gansynth.ganspace import synthesize_edited

    sends = [f"gst-to sliders {i} {v}" for i, v in NOZ_MOVES.items()]
    sends += [f"gst-write amplitudes {tmp_path}/a.wav", "gst-mark synth", "gst-to synth",
              f"gst-write sound {tmp_path}/note.wav"]
    run = run_shipped("ganspacesynth_noz.pd", sends)
    replies = sections(run, "gansynth")
    assert replies[""][1:] == ["loaded_pca 64"] and replies["synth"] == ["synthesized"], \
        run.output
    amplitudes = read(tmp_path / "a.wav")
    np.testing.assert_allclose(amplitudes, expected_amplitudes(NOZ_MOVES), atol=1e-6)
    model, space, config = library
    expected = synthesize_edited(model, space, [PITCH], amplitudes[None])[0]
    assert_same_note(read(tmp_path / "note.wav"), at_pd_rate(expected, config), "noz note")


# ----- ganspacesynth_halluseq.pd

STEP0 = {2: 1.5}
STEP1 = {2: -1.0, 7: 0.5}


@pytest.fixture(scope="module")
def sequencer(tmp_path_factory):
    out = tmp_path_factory.mktemp("halluseq")
    steps = out / "steps.json"
    # DSP on throughout (the patch asks for no "turn DSP off" while the arrays are resized)
    sends = ["pd dsp 1", "gst-mark step0", *[f"gst-to sliders {i} {v}" for i, v in STEP0.items()],
             f"gst-write edits {out}/s0.wav",
             "gst-mark add", "gst-to add",
             *[f"gst-to sliders {i} {v}" for i, v in STEP1.items()],
             f"gst-write edits {out}/s1.wav",
             # after prev the sliders must show step 0: wipe the array, let them write
             "gst-mark prev", "gst-to prev", "gst-to edits const 0", "gst-to sliders write",
             f"gst-write edits {out}/prev.wav",
             "gst-mark next", "gst-to next", "gst-to edits const 0", "gst-to sliders write",
             f"gst-write edits {out}/next.wav",
             "gst-mark preview", "gst-to preview-go", f"gst-write preview {out}/preview.wav",
             "gst-mark settings", "gst-to interp_steps 1", "gst-to sample_spacing 0.5",
             "gst-to play", "gst-mark generate", "gst-to generate", "gst-to play", f"gst-write sound {out}/path.wav",
             "gst-mark save", f"gst-to save-to {steps}",
             "gst-mark change", "gst-to rand", "gst-to add", "gst-to interp_steps 3",
             "gst-mark load", f"gst-to load-from {steps}", f"gst-write edits {out}/loaded.wav",
             "gst-mark loaded_prev", "gst-to prev", "gst-to edits const 0",
             "gst-to sliders write", f"gst-write edits {out}/loaded_prev.wav",
             "gst-mark remove", "gst-to remove"]
    run = run_shipped("ganspacesynth_halluseq.pd", sends)
    return run, sections(run, "halluseq"), out


def test_halluseq_patch_loads_and_shows_its_state(sequencer):
    run, replies, _ = sequencer
    first = replies[""]
    assert first[0].startswith("loaded ") and "loaded_pca 64" in first, run.output
    # send_state at load: the step and all six settings and the pitch, for the number boxes
    names = {line.split()[1] for line in first if line.startswith("settings ")}
    assert names == {"interp_steps", "sample_spacing", "start_trim", "attack", "sustain",
                     "release", "pitch"}, run.output
    assert not [r for lines in replies.values() for r in lines if "error" in r], run.output


def test_halluseq_patch_step_buttons_move_steps_and_the_sliders_follow(sequencer):
    run, replies, out = sequencer
    assert replies["add"] == ["step 1 2"] and replies["prev"] == ["step 0 2"], run.output
    assert replies["next"] == ["step 1 2"] and replies["remove"] == ["step 0 1"], run.output
    s0, s1 = expected_amplitudes(STEP0), expected_amplitudes(STEP1)
    np.testing.assert_allclose(read(out / "s0.wav"), s0, atol=1e-6)
    np.testing.assert_allclose(read(out / "s1.wav"), s1, atol=1e-6)
    # the sliders re-read the array on each step reply: they write back the step shown
    np.testing.assert_allclose(read(out / "prev.wav"), s0, atol=1e-6)
    np.testing.assert_allclose(read(out / "next.wav"), s1, atol=1e-6)


def test_halluseq_patch_preview_is_the_current_step(sequencer, library):
    from dlwa.gansynth.ganspace import synthesize_edited

    run, replies, out = sequencer
    assert replies["preview"] == ["synthesized"], run.output
    model, space, config = library
    expected = synthesize_edited(model, space, [PITCH], expected_amplitudes(STEP1)[None])[0]
    assert_same_note(read(out / "preview.wav"), at_pd_rate(expected, config), "preview")


def test_halluseq_patch_generates_the_path_with_its_true_length(sequencer):
    run, replies, out = sequencer
    assert replies["settings"] == ["settings interp_steps 1", "settings sample_spacing 0.5"], \
        run.output
    (reply,) = replies["generate"]
    assert reply.startswith("hallucinated "), run.output
    n = int(reply.split()[1])
    audio = read(out / "path.wav")
    assert len(audio) == n and np.abs(audio).max() > 1e-3
    # three notes (two steps, one between) 0.5 s apart, each 0 + 0.5 + 0.5 + 0.5 s long
    assert n / PD_SR == pytest.approx(2 * 0.5 + 1.5, abs=2e-3)


def test_halluseq_patch_saves_and_loads_the_steps(sequencer):
    run, replies, out = sequencer
    assert replies["save"] == [f"saved {out / 'steps.json'}"], run.output
    saved = json.loads((out / "steps.json").read_text())
    assert saved["index"] == 1 and saved["settings"]["interp_steps"] == 1
    assert replies["change"][-2:] == ["step 2 3", "settings interp_steps 3"], run.output
    # load_steps: two steps again, at step 1, the settings as saved (shown in the boxes)
    assert replies["load"] == ["step 1 2"], run.output
    np.testing.assert_allclose(read(out / "loaded.wav"), expected_amplitudes(STEP1), atol=1e-6)
    assert replies["loaded_prev"] == ["step 0 2"], run.output
    np.testing.assert_allclose(read(out / "loaded_prev.wav"), expected_amplitudes(STEP0),
                               atol=1e-6)
