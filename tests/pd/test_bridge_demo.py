"""pd_patches/bridge_demo.pd in real Pd: tone renders a melody that writesf~ records."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dlwa import pd_runner

pytestmark = pytest.mark.pd

PATCH = pd_runner.PATCH_DIR / "bridge_demo.pd"
SR = 48000
NOTES_MIDI = (60, 64, 67, 72)


def test_bridge_demo_renders_a_melody(tmp_path):
    pd_runner.build_external()
    out = tmp_path / "demo.wav"
    run = pd_runner.run_patch(
        PATCH, timeout_s=120, sample_rate=SR, send=[f"demo-out {out}"]
    ).check()
    done = [line for line in run.printed("tone") if line.startswith("done render")]
    assert done == [f"done render note{i} {n}" for i, n in
                    zip((1, 2, 3, 4), (21600, 21600, 21600, 43200), strict=True)], run.output
    assert not [line for line in run.printed("tone") if line.startswith("error")]

    audio, rate = sf.read(out, dtype="float32")
    assert rate == SR and audio.ndim == 1
    assert len(audio) == round(2.55 * SR)  # 3 x 450 ms + 1200 ms
    assert 0.3 < np.max(np.abs(audio)) <= 0.5  # tone peaks at 0.5, times 0.8
    # Each note sits where it was scheduled, at its own pitch.
    for i, pitch in enumerate(NOTES_MIDI):
        start = int((0.45 * i + 0.05) * SR)
        segment = audio[start : start + SR // 4]
        assert np.sqrt(np.mean(segment**2)) > 0.02
        spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment))))
        f0_hz = 440.0 * 2 ** ((pitch - 69) / 12)
        peak_hz = np.argmax(spectrum) * SR / len(segment)
        assert abs(peak_hz - f0_hz) < 0.03 * f0_hz, (i, peak_hz, f0_hz)
    assert np.sqrt(np.mean(audio[-SR // 10 :] ** 2)) < 0.01  # the last note has died away


@pytest.mark.parametrize("name", ["tone.pd", "tone-help.pd"])
def test_tone_patches_open_cleanly(name):
    """The GUI patches (which hold [declare -lib py]) open and quit without errors."""
    pd_runner.build_external()
    run = pd_runner.run_patch(pd_runner.PATCH_DIR / name, timeout_s=60, send=["pd quit"])
    run.check()
    problems = [line for line in run.lines if "couldn't create" in line or "error" in line]
    assert problems == [], run.output
