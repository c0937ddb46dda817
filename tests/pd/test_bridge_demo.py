"""pd_patches/bridge_demo.pd in real Pd: tone renders a melody that [dlwa-recorder~] records."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dlwa import pd_runner
from dlwa.demo import render_patch

pytestmark = pytest.mark.pd

PATCH = pd_runner.PATCH_DIR / "bridge_demo.pd"
SR = 48000
NOTES_MIDI = (60, 64, 67, 72)


def test_bridge_demo_renders_a_melody(pd_external, tmp_path):
    rendered = render_patch(PATCH, out=tmp_path / "demo.wav", seconds=2.55)
    run, out = rendered.run, rendered.wav
    done = [line for line in run.printed("tone") if line.startswith("done render")]
    assert done == [f"done render note{i} {n}" for i, n in
                    zip((1, 2, 3, 4), (21600, 21600, 21600, 43200), strict=True)], run.output
    assert not [line for line in run.printed("tone") if line.startswith("error")]

    stereo, rate = sf.read(out, dtype="float32")
    assert rate == SR and stereo.shape[1] == 2
    np.testing.assert_array_equal(stereo[:, 0], stereo[:, 1])
    audio = stereo[:, 0]
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
def test_tone_patches_open_cleanly(pd_external, name):
    """The GUI patches (which hold [declare -lib py]) open and quit without errors."""
    run = pd_runner.run_patch(pd_runner.PATCH_DIR / name, timeout_s=60, send=["pd quit"])
    run.check()
    problems = [line for line in run.lines if "couldn't create" in line or "error" in line]
    assert problems == [], run.output


TONE_MESSAGES = [
    "status", "help", "render tone-arr 69 0.1", "render nowhere 60 1", "render tone-arr high 1",
    "render tone-arr", "fly 2", "bang", "timbre 1 0 0.5", "decay 0.2", "render tone-arr 57 0.2",
    "load nothing", "load models/bell", "status", "unload", "render tone-arr 60 0.05 0 0",
]


def tone_patch(messages: list[str]) -> str:
    sends = []
    for i, text in enumerate(messages):
        sends += [f"\\; tone-mark {i}", f"\\; tone-in {text}"]
    sends += [f"\\; tone-mark {len(messages)}", "\\; pd quit"]
    return "\n".join([
        "#N canvas 0 0 600 400 12;",
        "#X obj 10 10 loadbang;",
        f"#X msg 10 40 {' '.join(sends)};",
        "#X obj 10 80 r tone-in;",
        "#X obj 10 110 pyext. dlwa.pd tone;",
        "#X obj 10 140 print tone;",
        "#X obj 200 80 r tone-mark;",
        "#X obj 200 110 print mark;",
        "#X obj 300 10 table tone-arr 10;",
        "#X connect 0 0 1 0;",
        "#X connect 2 0 3 1;",
        "#X connect 3 0 4 0;",
        "#X connect 5 0 6 0;",
    ]) + "\n"


def test_tone_replies_match_the_standin(pd_external, tmp_path, monkeypatch):
    """The same messages give the same replies in real Pd and through the stand-in."""
    from dlwa import checkpoints
    from dlwa.pd import standin, tone

    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    checkpoints.save_checkpoint(tmp_path / "models" / "bell", "tone", {"decay_s": 0.5},
                                {"harmonics": np.array([1, 0, 0.5], dtype=np.float32)})
    patch = tmp_path / "tone_parity.pd"
    patch.write_text(tone_patch(TONE_MESSAGES))

    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(ckpts))
    standin.reset()
    standin.set_samplerate(SR)
    standin.make_array("tone-arr", 10)
    obj = standin.create(tone, canvas_dir=tmp_path)
    expected = []
    for text in TONE_MESSAGES:
        standin.send_message(obj, 1, text)
        expected.append(standin.outputs(obj))
    standin.reset()

    run = pd_runner.run_patch(patch, timeout_s=60, sample_rate=SR,
                              env={checkpoints.ENV_CHECKPOINTS: str(ckpts)}).check()
    got: list[list[str]] = []
    for line in run.lines:
        if line.startswith("mark: "):
            got.append([])
        elif line.startswith("tone: ") and got:
            got[-1].append(line[len("tone: "):])
    assert got[:-1] == expected, run.output
    assert expected[2][-1] == "done render tone-arr 4800"
    assert expected[12] == ["loaded bell"]
