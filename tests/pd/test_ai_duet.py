"""AI Duet in real Pd: a phrase into [melody_rnn] in batch mode yields a valid answer.

tests/pd/patches/ai_duet_test.pd plays a seven-note phrase into the [melody_rnn]
abstraction (pd_patches/melody_rnn.pd) in duet mode with the shipped attention_rnn
checkpoint; 600 ms after the last note-off the object answers by itself, and the patch
prints every answer note with its logical time since the answer began.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlwa import pd_runner

pytestmark = pytest.mark.pd

PATCH = Path(__file__).resolve().parent / "patches" / "ai_duet_test.pd"


def test_phrase_gets_a_valid_answer_in_logical_time():
    pd_runner.build_external()
    run = pd_runner.run_patch(PATCH, timeout_s=180, paths=[pd_runner.PATCH_DIR]).check()
    assert run.printed("duet-other") == ["loaded melody_rnn_attention"], run.output
    assert "error" not in run.output, run.output
    (head,) = run.printed("duet-answer")
    n_notes, duration_ms, qpm = (float(x) for x in head.split())
    assert 40 <= qpm <= 240 and n_notes >= 1
    # The phrase lasts 1.98 s; the duet rule answers as long as the phrase (1..8 s).
    step_ms = 15000.0 / qpm
    assert duration_ms == pytest.approx(round(1980 / step_ms) * step_ms, abs=1e-3)
    notes = [tuple(float(x) for x in line.split()) for line in run.printed("duet-note")]
    sounding: dict[float, float] = {}
    n_on = 0
    for at_ms, pitch, velocity in notes:
        assert 0 <= pitch <= 127 and pitch == int(pitch)
        assert 36 <= pitch <= 96  # the phrase is 60..67: the answer stays near it
        assert 0 <= at_ms <= duration_ms + 1e-3
        if velocity > 0:
            n_on += 1
            assert at_ms / step_ms == pytest.approx(round(at_ms / step_ms), abs=1e-3)
            assert pitch not in sounding
            sounding[pitch] = at_ms
        else:
            assert sounding.pop(pitch) < at_ms
    assert not sounding, f"note-ons never closed: {sounding}"
    assert n_on == n_notes
    assert run.printed("duet-played") == ["bang"]


def test_ai_duet_patch_demo_renders_phrase_and_answer(tmp_path):
    import numpy as np
    import soundfile as sf

    from dlwa.demo import DEMOS, render_patch

    (demo,) = [d for d in DEMOS if d.name == "ai_duet"]
    rendered = render_patch(pd_runner.PATCH_DIR / demo.patch, out=tmp_path / "ai_duet.wav",
                       seconds=demo.seconds, send=demo.send, timeout_s=180)
    assert "error" not in rendered.run.output, rendered.run.output
    audio, rate = sf.read(rendered.wav, dtype="float32")
    assert audio.shape == (round(demo.seconds * rate), 2)

    def rms(start_s, end_s):
        part = audio[int(start_s * rate):int(end_s * rate)]
        return float(np.sqrt(np.mean(part**2)))

    assert rms(0.0, 1.9) > 0.02  # the phrase, played by the built-in synth
    assert rms(2.35, 2.55) < 0.005  # the duet's silence before the answer
    assert max(rms(t, t + 0.25) for t in np.arange(2.6, 4.6, 0.25)) > 0.02  # the answer
    assert np.max(np.abs(audio)) < 1.0
