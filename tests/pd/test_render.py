"""The [dlwa-recorder~] abstraction and ``dlwa render``: Pd batch renders to wav files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dlwa.demo import render_patch

pytestmark = pytest.mark.pd

SINE_PATCH = """#N canvas 0 0 400 300 12;
#X obj 30 30 osc~ 440;
#X obj 30 60 *~ 0.5;
#X obj 120 30 osc~ 660;
#X obj 120 60 *~ 0.25;
#X obj 30 100 dlwa-recorder~;
#X connect 0 0 1 0;
#X connect 1 0 4 0;
#X connect 2 0 3 0;
#X connect 3 0 4 1;
"""


def _peak_hz(x: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * sample_rate / len(x))


def test_render_records_both_channels_for_the_requested_time(tmp_path: Path, pd_external: Path) -> None:
    patch = tmp_path / "sines.pd"
    patch.write_text(SINE_PATCH)
    wav = render_patch(patch, out=tmp_path / "out.wav", seconds=1.5).wav
    audio, sample_rate = sf.read(wav, dtype="float32")
    assert sample_rate == 48000
    assert audio.shape == (72000, 2)
    assert np.max(np.abs(audio[:, 0])) == pytest.approx(0.5, abs=1e-3)
    assert np.max(np.abs(audio[:, 1])) == pytest.approx(0.25, abs=1e-3)
    assert _peak_hz(audio[:, 0], sample_rate) == pytest.approx(440, abs=2)
    assert _peak_hz(audio[:, 1], sample_rate) == pytest.approx(660, abs=2)
    # Recording starts with the first block: no leading silence, no trailing gap.
    assert np.abs(audio[:64, 0]).max() > 0.1
    assert np.abs(audio[-64:, 0]).max() > 0.1


def test_render_is_deterministic(tmp_path: Path, pd_external: Path) -> None:
    patch = tmp_path / "sines.pd"
    patch.write_text(SINE_PATCH)
    a, _ = sf.read(render_patch(patch, out=tmp_path / "a.wav", seconds=0.5).wav)
    b, _ = sf.read(render_patch(patch, out=tmp_path / "b.wav", seconds=0.5).wav)
    np.testing.assert_array_equal(a, b)


def test_render_without_recorder_says_what_is_missing(tmp_path: Path, pd_external: Path) -> None:
    patch = tmp_path / "silent.pd"
    patch.write_text("#N canvas 0 0 400 300 12;\n#X obj 30 30 loadbang;\n"
                     "#X msg 30 60 \\; pd quit;\n#X connect 0 0 1 0;\n")
    with pytest.raises(RuntimeError, match="dlwa-recorder~"):
        render_patch(patch, out=tmp_path / "out.wav", seconds=0.5)


def test_render_rejects_paths_pd_cannot_take(tmp_path: Path) -> None:
    patch = tmp_path / "p.pd"
    patch.write_text(SINE_PATCH)
    with pytest.raises(ValueError, match="one symbol"):
        render_patch(patch, out=tmp_path / "with space.wav", seconds=1)


def test_recorder_help_patch_opens_cleanly(pd_external: Path) -> None:
    from dlwa import pd_runner

    run = pd_runner.run_patch(pd_runner.PATCH_DIR / "dlwa-recorder~-help.pd", send=["pd quit"],
                              paths=[pd_runner.PATCH_DIR], timeout_s=30).check()
    assert not [line for line in run.lines if "error" in line or "couldn't" in line], run.output


ERROR_PATCH = """#N canvas 0 0 500 300 12;
#X obj 30 30 dlwa-recorder~;
#X obj 30 70 pyext. dlwa.pd tone;
#X obj 30 100 print tone;
#X obj 200 30 loadbang;
#X msg 200 60 load no_such_model;
#X obj 200 130 osc~ 440;
#X connect 3 0 4 0;
#X connect 4 0 1 1;
#X connect 1 0 2 0;
#X connect 5 0 0 0;
"""


def test_render_of_a_patch_that_reports_an_error_exits_non_zero_with_it(
    tmp_path: Path, pd_external: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlwa import cli

    patch = tmp_path / "bad_model.pd"
    patch.write_text(ERROR_PATCH)
    assert cli.main(["render", str(patch), "--out", str(tmp_path / "o.wav"), "--seconds", "0.2"]) == 1
    err = capsys.readouterr().err
    assert "error(s) on Pd's console" in err
    assert "tone: error no checkpoint named 'no_such_model'" in err


def test_render_of_an_object_that_fails_to_create_exits_non_zero(
    tmp_path: Path, pd_external: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlwa import cli

    patch = tmp_path / "typo.pd"
    patch.write_text(SINE_PATCH + "#X obj 200 200 no_such_object_here 3;\n")
    assert cli.main(["render", str(patch), "--out", str(tmp_path / "o.wav"), "--seconds", "0.2"]) == 1
    assert "couldn't create" in capsys.readouterr().err


def test_render_warns_when_the_recording_is_silent(
    tmp_path: Path, pd_external: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlwa import cli

    patch = tmp_path / "quiet.pd"
    patch.write_text("#N canvas 0 0 400 300 12;\n#X obj 30 30 dlwa-recorder~;\n")
    assert cli.main(["render", str(patch), "--out", str(tmp_path / "o.wav"), "--seconds", "0.2"]) == 0
    assert "warning: the recording is silent" in capsys.readouterr().err
