"""Bad ``dlwa generate melody_rnn`` input is one clear line, never a silent default
(issue #13, item 7)."""

from __future__ import annotations

import pretty_midi
import pytest

from dlwa.cli import main


def write_primer(path, *, drums: bool):
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(0, is_drum=drums)
    track.notes += [pretty_midi.Note(100, 60 + i % 5, i * 0.25, i * 0.25 + 0.2) for i in range(16)]
    midi.instruments.append(track)
    midi.write(str(path))
    return path


def one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("qpm", ["0", "-5", "1000", "nan"])
def test_generate_refuses_a_bad_tempo(tmp_path, capsys, qpm):
    out = tmp_path / "answer.mid"
    primer = write_primer(tmp_path / "tune.mid", drums=False)
    assert main(["generate", "melody_rnn", "--model", "melody_rnn_basic", "--primer",
                 str(primer), "--qpm", qpm, "--out", str(out)]) == 2
    assert "qpm must be 20..400" in one_error_line(capsys)
    assert not out.exists()


def test_generate_refuses_a_drum_only_primer(tmp_path, capsys):
    out = tmp_path / "answer.mid"
    primer = write_primer(tmp_path / "drums.mid", drums=True)
    assert main(["generate", "melody_rnn", "--model", "melody_rnn_basic", "--primer",
                 str(primer), "--out", str(out)]) == 2
    assert "only drum notes" in one_error_line(capsys)
    assert not out.exists()
