"""Folder scans: usable files found in order, every problem listed clearly."""

import struct

import numpy as np
import pytest

from dlwa.audio import save_audio, sine
from dlwa.data import DataError, midi_info, scan_audio_folder, scan_midi_folder


def write_tone(path, duration_s=0.5, sample_rate=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_audio(
        path,
        sine(440.0, duration_s=duration_s, sample_rate=sample_rate, amplitude=0.5),
        sample_rate=sample_rate,
    )


def write_midi(path, n_tracks=1, division=480, file_format=1):
    header = b"MThd" + struct.pack(">IHHH", 6, file_format, n_tracks, division)
    track = b"MTrk" + struct.pack(">I", 4) + b"\x00\xff\x2f\x00"
    path.write_bytes(header + track * n_tracks)


def test_finds_audio_sorted_and_recursive(tmp_path):
    write_tone(tmp_path / "b.wav")
    write_tone(tmp_path / "a.flac")
    write_tone(tmp_path / "sub" / "c.WAV")
    write_tone(tmp_path / ".hidden" / "d.wav")
    (tmp_path / "notes.txt").write_text("not audio")
    scan = scan_audio_folder(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in scan.paths] == [
        "a.flac",
        "b.wav",
        "sub/c.WAV",
    ]
    assert scan.sample_rates == {16000: 3}
    assert scan.duration_s == pytest.approx(1.5)
    assert scan.summary() == "3 files, 0.0 min, 16000 Hz (3)"
    assert len(scan_audio_folder(tmp_path, recursive=False).files) == 2


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match=r"data folder .*nope does not exist"):
        scan_audio_folder(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no \.wav/\.flac/.* files in .* \(it is empty\)"):
        scan_audio_folder(tmp_path)
    (tmp_path / "readme.md").write_text("hi")
    with pytest.raises(DataError, match=r"it holds 1 other file\(s\), e.g. readme.md"):
        scan_audio_folder(tmp_path)
    write_tone(tmp_path / "a.wav")
    with pytest.raises(DataError, match=r"is a file; pass the folder that holds it"):
        scan_audio_folder(tmp_path / "a.wav")


def test_unreadable_and_too_short_files_are_all_listed(tmp_path):
    write_tone(tmp_path / "good.wav", duration_s=2.0)
    write_tone(tmp_path / "short.wav", duration_s=0.25)
    (tmp_path / "broken.wav").write_bytes(b"garbage" * 20)
    (tmp_path / "empty.flac").write_bytes(b"")
    with pytest.raises(DataError) as info:
        scan_audio_folder(tmp_path, min_duration_s=1.0)
    message = str(info.value)
    assert "2 file(s) unreadable" in message
    assert "broken.wav" in message and "empty.flac" in message
    assert "1 file(s) shorter than 1 s:\n    short.wav: 0.25 s" in message


def test_not_strict_skips_with_a_warning(tmp_path):
    write_tone(tmp_path / "good.wav", duration_s=2.0)
    (tmp_path / "broken.wav").write_bytes(b"garbage" * 20)
    with pytest.warns(
        UserWarning, match=r"skipping files .*\n  1 file\(s\) unreadable:\n    broken.wav"
    ):
        scan = scan_audio_folder(tmp_path, strict=False)
    assert [p.name for p in scan.paths] == ["good.wav"]
    assert [p.name for p, _ in scan.unreadable] == ["broken.wav"]
    assert scan.summary().endswith("; 1 skipped")


def test_nothing_usable_is_an_error_even_when_not_strict(tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"garbage")
    with pytest.raises(DataError, match="no usable audio files remain"):
        scan_audio_folder(tmp_path, strict=False)


def test_mixed_sample_rates_are_reported(tmp_path):
    write_tone(tmp_path / "a.wav", sample_rate=16000)
    write_tone(tmp_path / "b.wav", sample_rate=44100)
    write_tone(tmp_path / "c.wav", sample_rate=44100)
    with pytest.warns(
        UserWarning, match=r"mixes sample rates \(16000 Hz: 1 file\(s\), 44100 Hz: 2 file\(s\)\)"
    ):
        scan = scan_audio_folder(tmp_path)
    assert scan.sample_rates == {16000: 1, 44100: 2}


def test_long_listings_are_cut(tmp_path):
    write_tone(tmp_path / "good.wav")
    for i in range(25):
        (tmp_path / f"bad{i:02d}.wav").write_bytes(b"x")
    with pytest.raises(DataError, match=r"25 file\(s\) unreadable(.|\n)*… and 5 more"):
        scan_audio_folder(tmp_path)


def test_midi_scan(tmp_path):
    write_midi(tmp_path / "tune1.mid", n_tracks=2)
    write_midi(tmp_path / "tune2.MIDI", file_format=0)
    info = midi_info(tmp_path / "tune1.mid")
    assert (info.format, info.n_tracks, info.ticks_per_beat) == (1, 2, 480)
    scan = scan_midi_folder(tmp_path)
    assert [p.name for p in scan.paths] == ["tune1.mid", "tune2.MIDI"]
    (tmp_path / "fake.mid").write_bytes(b"RIFF....")
    with pytest.raises(
        DataError, match=r"1 file\(s\) unreadable:\n    fake.mid: .*not a standard MIDI file"
    ):
        scan_midi_folder(tmp_path)
    with pytest.warns(UserWarning, match="skipping files"):
        assert len(scan_midi_folder(tmp_path, strict=False).files) == 2


def test_midi_header_errors(tmp_path):
    path = tmp_path / "smpte.mid"
    write_midi(path, division=0xE728)
    with pytest.raises(DataError, match="uses SMPTE time"):
        midi_info(path)
    write_midi(path, n_tracks=0)
    with pytest.raises(DataError, match="broken MIDI header"):
        midi_info(path)
    with pytest.raises(DataError, match=r"no \.mid/\.midi files"):
        scan_midi_folder(_empty(tmp_path))


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_durations_come_from_headers(tmp_path):
    save_audio(tmp_path / "long.wav", np.zeros(16000 * 90, dtype=np.float32), sample_rate=16000)
    scan = scan_audio_folder(tmp_path)
    assert scan.duration_s == pytest.approx(90.0)
    assert scan.summary() == "1 file, 1.5 min, 16000 Hz (1)"
