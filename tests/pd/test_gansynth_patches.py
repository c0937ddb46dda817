"""The GANSynth patches in real Pd (batch mode) with the shipped all_instruments model.

Each shipped patch is opened beside tests/pd/patches/gansynth_harness.pd, which creates
``[gansynth_probe $0]`` inside it, so the probe knows the patch's ``$0``: ``gst-to <name>
<message>`` reaches the patch's own receives and arrays (``$0-pitch-set``, ``$0-synth``,
``$0-z``, ``$0-gs`` …), ``gst-write <array> <file>`` saves one of its arrays as a float wav
and ``gst-mark <word>`` prints a marker. The tests press the patch's own buttons and read
its own arrays; the shipped patches carry nothing for tests but gansynth.pd's
``gansynth-demo`` receive (the ``dlwa demo gansynth`` trigger).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from gansynth_probe import run_shipped, sections

from dlwa import checkpoints, pd_runner
from dlwa.audio.resample import resampled_length
from dlwa.demo import DEMOS, render_patch
from dlwa.gansynth.evaluate import CENTS_TOLERANCE, median_f0_cents

pytestmark = pytest.mark.pd

PD_SR = 48000  # pd_runner's default -r
SEED = 1  # the object's seed for randomize_z and hallucinate in every patch run here
MODEL = "all_instruments"


@pytest.fixture(scope="module")
def config() -> dict:
    """The shipped model's config (latent size, pitches, note length)."""
    path = checkpoints.find_checkpoint(MODEL, kind="gansynth", prefix="gansynth_")
    return checkpoints.read_config(path)["config"]


def note_length(config: dict) -> int:
    """A note's length in an array at Pd's rate."""
    return resampled_length(config["audio_length"], orig_sample_rate=config["sample_rate"],
                            sample_rate=PD_SR)


def untrained_pitch(config: dict) -> int:
    return next(p for p in range(100, 128) if p not in config["pitches"])


def read(path: Path) -> np.ndarray:
    audio, _ = sf.read(path, dtype="float32")
    return audio


def assert_pitch(audio: np.ndarray, pitch: int) -> None:
    cents = median_f0_cents(audio, sample_rate=PD_SR, pitch=pitch)
    assert cents is not None and abs(cents) <= CENTS_TOLERANCE, (pitch, cents)


def assert_one_error(lines: list[str], *words: str) -> None:
    """One ``error`` reply naming ``words``, its one console line, nothing else wrong."""
    replies = [line for line in lines if line.startswith("error ")]
    console = [line for line in lines if line.startswith("console: ")]
    assert len(replies) == 1 and all(w in replies[0] for w in words), lines
    assert console == [f"console: error: gansynth: {replies[0].removeprefix('error ')}"], lines


# ----- gansynth.pd


@pytest.fixture(scope="module")
def single(config, tmp_path_factory):
    out = tmp_path_factory.mktemp("gansynth")
    bad = untrained_pitch(config)
    sends = [
        # seeded, so that the pitch checks hear the same notes on every run
        "gst-mark box48", "gst-to pitch-set 48", f"gst-to gs seed {SEED}", "gst-to randomize",
        "gst-to synth",
        f"gst-write sound {out}/box48.wav", f"gst-write z {out}/z.wav",
        "gst-mark key64", "gst-to key 64", f"gst-write sound {out}/key64.wav",
        "gst-mark untrained", f"gst-to key {bad}",
        "gst-mark missing", "gst-to gs synthesize nothere nothere 60",
        "gst-mark after", "gst-to key 60", f"gst-write sound {out}/after60.wav",
        "gst-mark short_z", "gst-to z resize 10", "gst-to synth",
        "gst-mark recovered", "gst-to randomize", "gst-to synth",
        f"gst-write sound {out}/recovered.wav", f"gst-write z {out}/z_recovered.wav",
        "gst-mark demo", "gansynth-demo bang",
    ]
    run = run_shipped("gansynth.pd", sends)
    return run, sections(run), out, bad


def test_gansynth_patch_loads_and_synthesizes_into_its_arrays(single, config):
    run, replies, out, _ = single
    n = note_length(config)
    assert replies[""] == [f"loaded {n} {PD_SR}"], run.output
    assert replies["box48"] == [f"done seed {SEED}", "randomized", "synthesized"], run.output
    assert replies["key64"] == ["synthesized"], run.output
    assert len(read(out / "z.wav")) == config["latent_vector_size"]
    for name in ("box48", "key64", "after60", "recovered"):
        audio = read(out / f"{name}.wav")
        assert len(audio) == n and np.abs(audio).max() > 1e-3, name
    # The demo's seed makes its z; the seed is freed for randomize_z afterwards.
    demo = ["done seed 7", "randomized", "done seed random", "synthesized"]
    assert replies["demo"] == demo, run.output


def test_gansynth_patch_notes_have_the_pitch_of_the_box_and_the_key(single):
    _, _, out, _ = single
    assert_pitch(read(out / "box48.wav"), 48)
    assert_pitch(read(out / "key64.wav"), 64)
    assert_pitch(read(out / "after60.wav"), 60)


def test_gansynth_patch_notes_are_the_models_notes_for_its_z_and_pitch(single, config):
    # Whatever the model's quality: the patch sends its z and the pitch of the box or key.
    from dlwa.audio.resample import resample
    from dlwa.gansynth.generate import synthesize
    from dlwa.gansynth.model import load_model

    _, _, out, _ = single
    model, _ = load_model(MODEL)
    z = read(out / "z.wav")[None]
    for name, pitch in (("box48", 48), ("key64", 64), ("after60", 60)):
        note = resample(synthesize(model, z, [pitch])[0], orig_sample_rate=config["sample_rate"],
                        sample_rate=PD_SR)
        np.testing.assert_allclose(read(out / f"{name}.wav"), note,
                                   atol=1e-3 * np.abs(note).max(), err_msg=name)


def test_gansynth_patch_bad_input_gives_one_clear_line_and_keeps_working(single, config):
    run, replies, out, bad = single
    assert_one_error(replies["untrained"], f"pitch {bad}", "not one this model was trained on")
    assert_one_error(replies["missing"], "no array named 'nothere'")
    assert replies["after"] == ["synthesized"], run.output
    assert_one_error(replies["short_z"], "has 10 values",
                     f"latents have {config['latent_vector_size']}")
    assert replies["recovered"] == ["randomized", "synthesized"], run.output
    assert len(read(out / "z_recovered.wav")) == config["latent_vector_size"]
    assert "Traceback" not in run.output


def test_gansynth_demo_plays_the_note_for_the_duration_from_loaded(pd_external, tmp_path,
                                                                    config):
    (demo,) = [d for d in DEMOS if d.name == "gansynth"]
    rendered = render_patch(pd_runner.PATCH_DIR / demo.patch, out=tmp_path / "demo.wav",
                            seconds=demo.seconds, send=demo.send, timeout_s=180)
    assert rendered.errors == [], rendered.run.output
    assert "gansynth: synthesized" in rendered.run.output
    audio = read(rendered.wav)[:, 0]
    seconds = config["audio_length"] / config["sample_rate"]
    # The ramp lasts the note (from loaded): the note still sounds near its end, and after
    # it the last sample holds (a note played too fast would hold early, one too slow,
    # e.g. a length in bytes, would still move after the end).
    end = int(seconds * PD_SR)
    assert np.abs(audio[:end]).max() > 1e-3
    assert np.ptp(audio[end - int(0.9 * PD_SR):end - int(0.1 * PD_SR)]) > 1e-5
    assert np.ptp(audio[end + 64:]) < 1e-6


# ----- gansynth_multi.pd

MULTI_PITCHES = (43, 52, 67, 76)
BATCHES = (1, 4, 8)


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    out = tmp_path_factory.mktemp("multi")
    sends = ["gst-mark randomize", f"gst-to gs seed {SEED}", "gst-to randomize"]
    sends += [f"gst-to p{k + 1}-set {p}" for k, p in enumerate(MULTI_PITCHES)]
    for batch in BATCHES:
        sends += [f"gst-mark batch{batch}", f"gst-to gs batch {batch}", "gst-to synth"]
        sends += [f"gst-write sound{k} {out}/b{batch}_{k}.wav" for k in range(1, 5)]
    sends += [f"gst-write z{k} {out}/z{k}.wav" for k in range(1, 5)]
    for name, t in (("t0", 0), ("t1", 1), ("thalf", 0.5)):
        sends += [f"gst-mark {name}", f"gst-to amount {t}", f"gst-write z3 {out}/z3_{name}.wav"]
    run = run_shipped("gansynth_multi.pd", sends)
    return run, sections(run), out


def test_multi_patch_synthesizes_four_pitches_in_one_batch(multi, config):
    run, replies, out = multi
    assert replies[""] == [f"loaded {note_length(config)} {PD_SR}"], run.output
    assert replies["randomize"] == [f"done seed {SEED}", "randomized"], run.output
    for batch in BATCHES:
        assert replies[f"batch{batch}"] == [f"done batch {batch}", "synthesized"], run.output
    first = [read(out / f"b{BATCHES[0]}_{k}.wav") for k in range(1, 5)]
    for note in first:
        assert len(note) == note_length(config) and np.abs(note).max() > 1e-3
    # Four instruments at four pitches: four different notes.
    assert min(np.abs(a - b).max() for i, a in enumerate(first) for b in first[i + 1:]) > 1e-3
    # The batch size changes how the notes are computed, not what they are. (Convolutions
    # sum in another order per batch size, and the phase is an integral over the note: a few
    # samples differ by about 1e-4 of the peak; another z or pitch differs by the peak.)
    for batch in BATCHES[1:]:
        for k, note in enumerate(first, 1):
            other = read(out / f"b{batch}_{k}.wav")
            np.testing.assert_allclose(other, note, atol=1e-3 * np.abs(note).max())


def test_multi_patch_notes_have_their_pitches(multi):
    _, _, out = multi
    for k, pitch in enumerate(MULTI_PITCHES, 1):
        assert_pitch(read(out / f"b4_{k}.wav"), pitch)


def test_multi_patch_note_k_is_made_from_zk_at_pitch_k(multi, config):
    # Whatever the model's quality: each group of the batch has its own z, array and pitch.
    from dlwa.audio.resample import resample
    from dlwa.gansynth.generate import synthesize
    from dlwa.gansynth.model import load_model

    _, _, out = multi
    model, _ = load_model(MODEL)
    z = np.stack([read(out / f"z{k}.wav") for k in range(1, 5)])
    for k, note in enumerate(synthesize(model, z, list(MULTI_PITCHES)), 1):
        note = resample(note, orig_sample_rate=config["sample_rate"], sample_rate=PD_SR)
        np.testing.assert_allclose(read(out / f"b4_{k}.wav"), note,
                                   atol=1e-3 * np.abs(note).max(), err_msg=f"sound{k}")


def test_multi_patch_slider_slerps_z1_to_z2_into_z3(multi, config):
    run, replies, out = multi
    z1, z2 = read(out / "z1.wav"), read(out / "z2.wav")
    assert len(z1) == config["latent_vector_size"] and not np.allclose(z1, z2)
    for name in ("t0", "t1", "thalf"):
        assert replies[name] == ["slerped"], run.output
    np.testing.assert_allclose(read(out / "z3_t0.wav"), z1, atol=1e-5)
    np.testing.assert_allclose(read(out / "z3_t1.wav"), z2, atol=1e-5)
    # t = 0.5: Magenta's slerp (directions interpolated, end points combined as they are)
    a, b = z1.astype(np.float64), z2.astype(np.float64)
    omega = np.arccos(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))
    expected = np.sin(omega / 2) / np.sin(omega) * (a + b)
    np.testing.assert_allclose(read(out / "z3_thalf.wav"), expected, atol=1e-3)


# ----- gansynth_hallucination.pd

HALLU_PITCH = 55


@pytest.fixture(scope="module")
def hallucination(config, tmp_path_factory):
    out = tmp_path_factory.mktemp("hallucination")
    bad = untrained_pitch(config)
    sends = ["gst-to count-set 2", "gst-to steps-set 1", "gst-to spacing-set 0.5",
             f"gst-to pitch-set {HALLU_PITCH}", "gst-mark seed", f"gst-to gs seed {SEED}",
             "gst-mark default", "gst-to generate", f"gst-write sound {out}/default.wav",
             # start trim 1 with attack 0.5, sustain 1, release 0.5: the parts are a third
             # of the note less 10 ms, so each note lasts two thirds of it
             "gst-mark trimmed", "gst-to trim-set 1", "gst-to generate",
             f"gst-write sound {out}/trimmed.wav",
             "gst-mark untrained", f"gst-to pitch-set {bad}", "gst-to generate",
             "gst-mark after", f"gst-to pitch-set {HALLU_PITCH}", "gst-to generate"]
    run = run_shipped("gansynth_hallucination.pd", sends)
    return run, sections(run), out, bad


def test_hallucination_reports_the_true_sample_count(hallucination, config):
    run, replies, out, _ = hallucination
    note_s = config["audio_length"] / config["sample_rate"] - 0.01  # the patch's margin
    for name, shape_s in (("default", note_s), ("trimmed", note_s * 2 / 3)):
        (reply,) = replies[name]
        assert reply.startswith("hallucinated "), run.output
        n_samples = int(reply.split()[1])
        audio = read(out / f"{name}.wav")
        assert len(audio) == n_samples
        # three notes (2 and 1 between them) 0.5 s apart, each shape_s long: samples, not bytes
        assert n_samples / PD_SR == pytest.approx(2 * 0.5 + shape_s, abs=2e-3), name
        assert np.abs(audio).max() > 1e-3


def test_hallucination_has_the_pitch_asked_for(hallucination):
    _, _, out, _ = hallucination
    assert_pitch(read(out / "default.wav"), HALLU_PITCH)


def test_hallucination_patch_bad_pitch_gives_one_line_and_keeps_working(hallucination):
    run, replies, _, bad = hallucination
    assert_one_error(replies["untrained"], f"pitch {bad}", "not one this model was trained on")
    assert [r.split()[0] for r in replies["after"]] == ["hallucinated"], run.output
