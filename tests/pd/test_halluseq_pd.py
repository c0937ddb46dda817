"""The halluseq object in real Pd (batch mode) with the shipped model and PCA: every method,
the rendered path's length, and a sequence saved by one object and loaded by another."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from dlwa import checkpoints, pd_runner

pytestmark = pytest.mark.pd

PCA = checkpoints.PROJECT_CHECKPOINTS / "gansynth_all_instruments" / "ganspace.npz"


def test_every_halluseq_method_in_pd(tmp_path):
    pd_runner.build_external()
    patch = pd_runner.Patch()
    for name in ("edits", "out"):
        patch.array(f"hs-{name}", 10)
    first = patch.obj("pyext. dlwa.pd halluseq hs-edits")
    second = patch.obj("pyext. dlwa.pd halluseq hs-edits")
    for obj, name in ((first, "one"), (second, "two")):
        patch.connect(obj, 0, patch.obj(f"print {name}"), 0)
    writer = patch.obj("soundfiler")
    steps = tmp_path / "steps.json"
    patch.sequence(
        ("load all_instruments", first, 1),
        (f"load_ganspace_components {PCA}", first, 1),
        ("\\; hs-edits 0 1 2", -1, 0),
        ("add_step", first, 1),
        ("\\; hs-edits 0 -1 0 3", -1, 0),
        ("add_step", first, 1),
        ("rand_step", first, 1),
        ("prev_step", first, 1),
        ("next_step", first, 1),
        ("remove_step", first, 1),
        ("interp_steps 2", first, 1),
        ("sample_spacing 0.25", first, 1),
        ("start_trim 0.1", first, 1),
        ("attack 0.1", first, 1),
        ("sustain 0.5", first, 1),
        ("release 0.4", first, 1),
        ("pitch 60", first, 1),
        ("send_state", first, 1),
        ("synthesize_noz hs-out 60 hs-edits", first, 1),
        ("hallucinate_noz hs-out", first, 1),
        (f"write -bytes 4 {tmp_path / 'path.wav'} hs-out", writer, 0),
        (f"save_steps {steps}", first, 1),
        (f"save_z {tmp_path / 'z.json'}", first, 1),
        (f"load_steps {steps}", second, 1),
        ("send_state", second, 1),
        ("\\; pd quit", -1, 0),
    )
    run = pd_runner.run_patch(patch.write(tmp_path / "halluseq.pd"), timeout_s=120).check()
    one = [r for r in run.printed("one") if not r.startswith("progress")]
    assert not [r for r in one if r.startswith("error")], run.output
    assert one[:2] == ["loaded 192000 48000", "loaded_pca 64"], run.output
    assert one[2:9] == ["step 0 1", "step 1 2", "step 2 3", "step 2 3", "step 1 3",
                        "step 2 3", "step 1 2"], run.output
    state = one[one.index("settings pitch 60") + 1:]
    assert state[0] == "step 1 2" and "settings interp_steps 2" in state, run.output
    assert "synthesized" in one
    (count,) = [int(r.split()[1]) for r in one if r.startswith("hallucinated")]
    # 2 steps + 2 between: 4 notes 0.25 s apart, each 1 s long, at Pd's 48 kHz.
    assert count == 3 * 12000 + 48000
    assert len(sf.read(tmp_path / "path.wav")[0]) == count
    assert f"saved {tmp_path / 'z.json'}" in one  # the course's save_z saves too
    assert json.loads((tmp_path / "z.json").read_text()) == json.loads(steps.read_text())
    saved = json.loads(steps.read_text())
    assert len(saved["steps"]) == 2 and all(len(s) == 64 for s in saved["steps"])
    two = run.printed("two")
    assert two[0] == "step 1 2" and "settings sample_spacing 0.25" in two, run.output
