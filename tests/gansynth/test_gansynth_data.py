"""GANSynth training notes: NSynth-style folders and the user's audio, labels, validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlwa.audio import decaying_tone, harmonic_tone, midi_to_hz, noise, save_audio
from dlwa.data import DataError
from dlwa.gansynth import data as gdata
from dlwa.gansynth.data import (
    chop_notes,
    detect_onsets,
    estimate_pitch,
    fit_length,
    load_notes,
    pitch_from_name,
)

SR = 16000
N = 8000  # 0.5-s notes keep the tests quick; nothing depends on GANSynth's 64,000


def tone(pitch: int, duration_s: float = 0.5, sample_rate: int = SR,
         amplitude: float = 0.5) -> np.ndarray:
    return harmonic_tone(float(midi_to_hz(pitch)), duration_s=duration_s,
                         sample_rate=sample_rate, amplitude=amplitude)


def write(path: Path, audio: np.ndarray, sample_rate: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_audio(path, audio, sample_rate=sample_rate)


def nsynth_folder(root: Path, notes: dict[str, dict]) -> Path:
    """An NSynth-style folder: ``examples.json`` and a tone at each entry's pitch."""
    for name, entry in notes.items():
        if isinstance(entry, dict) and isinstance(entry.get("pitch"), int):
            write(root / "audio" / f"{name}.wav", tone(entry["pitch"]))
    (root / "examples.json").write_text(json.dumps(notes))
    return root


NSYNTH_NOTES = {
    "keyboard_acoustic_000-060-100": {"pitch": 60, "velocity": 100,
                                      "instrument_family_str": "keyboard",
                                      "instrument_source_str": "acoustic"},
    "keyboard_acoustic_000-064-100": {"pitch": 64, "velocity": 100,
                                      "instrument_family_str": "keyboard",
                                      "instrument_source_str": "acoustic"},
    "bass_electronic_033-036-075": {"pitch": 36, "velocity": 75,
                                    "instrument_family_str": "bass",
                                    "instrument_source_str": "electronic"},
    "flute_acoustic_073-072-127": {"pitch": 72},
}


# --- NSynth-style folders -------------------------------------------------------------------


def test_nsynth_folder_reads_notes_labels_and_summary(tmp_path: Path) -> None:
    folder = nsynth_folder(tmp_path / "set", NSYNTH_NOTES)
    notes = load_notes(folder, sample_rate=SR, n_samples=N, pitches=range(24, 85), min_notes=4)
    assert notes.audio.shape == (4, N) and notes.audio.dtype == np.float32
    assert notes.pitch.dtype == np.int64
    by_name = dict(zip(notes.names, notes.pitch.tolist(), strict=True))
    assert by_name == {name: entry["pitch"] for name, entry in NSYNTH_NOTES.items()}
    assert notes.pitches == [36, 60, 64, 72]
    assert notes.pitch_counts() == {36: 1, 60: 1, 64: 1, 72: 1}
    assert notes.source_counts() == {"acoustic": 2, "electronic": 1, "unknown": 1}
    assert notes.family_counts() == {"bass": 1, "keyboard": 2, "unknown": 1}
    assert np.allclose(np.abs(notes.audio).max(axis=1), 0.9, atol=1e-4)
    text = notes.summary()
    assert "4 notes" in text and "keyboard 2" in text and "electronic 1" in text
    # The audio of each note is its own file's: its tracked pitch is the label.
    for audio, pitch in zip(notes.audio, notes.pitch, strict=True):
        assert estimate_pitch(audio, sample_rate=SR) == pitch


def test_nsynth_pads_trims_resamples_and_keeps_levels(tmp_path: Path) -> None:
    folder = nsynth_folder(tmp_path / "set", {"a": {"pitch": 60}, "b": {"pitch": 62}})
    write(folder / "audio" / "a.wav", tone(60, duration_s=0.25, amplitude=0.3))  # short
    write(folder / "audio" / "b.wav", tone(62, duration_s=1.0, sample_rate=8000), 8000)
    notes = load_notes(folder, sample_rate=SR, n_samples=N, peak=None, min_notes=2)
    a, b = notes.audio
    assert np.abs(a[4000:]).max() == 0.0 and np.abs(a[:4000]).max() == pytest.approx(0.3, 1e-3)
    assert np.abs(b[-100:]).max() > 0.1  # trimmed from a longer, resampled file
    assert estimate_pitch(b, sample_rate=SR) == 62


def test_nsynth_instrument_sources_filter(tmp_path: Path) -> None:
    folder = nsynth_folder(tmp_path / "set", NSYNTH_NOTES)
    notes = load_notes(folder, sample_rate=SR, n_samples=N, instrument_sources=["acoustic"],
                       min_notes=1)
    assert notes.source_counts() == {"acoustic": 2}


def test_nsynth_problems_listed_one_line_each(tmp_path: Path) -> None:
    folder = nsynth_folder(tmp_path / "set", {
        "good": {"pitch": 60},
        "no_pitch": {"velocity": 100},
        "text_pitch": {"pitch": "C4"},
        "high": {"pitch": 200},
        "no_audio": {"pitch": 61},
        "garbled": {"pitch": 62},
        "family": {"pitch": 63, "instrument_family_str": 4},
        "list": [1, 2],
    })
    (folder / "audio" / "no_audio.wav").unlink()
    (folder / "audio" / "garbled.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(DataError) as err:
        load_notes(folder, sample_rate=SR, n_samples=N, min_notes=1)
    lines = str(err.value).splitlines()
    assert len(lines) == 8  # the heading and one line for each bad entry
    text = str(err.value)
    assert "no_pitch: no 'pitch' field" in text
    assert "text_pitch: 'pitch' must be a MIDI note number 0–127, got 'C4'" in text
    assert "high: 'pitch' must be" in text
    assert "audio/no_audio.wav is missing" in text
    assert "audio/garbled.wav is unreadable" in text
    assert "'instrument_family_str' must be a string" in text
    assert "list: entry is a list" in text
    assert "good" not in text


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "must map note names to objects"),
])
def test_nsynth_broken_examples_json(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "examples.json").write_text(content)
    with pytest.raises(DataError, match=message):
        load_notes(tmp_path, sample_rate=SR, n_samples=N)


def test_nsynth_pitch_outside_model_set(tmp_path: Path) -> None:
    folder = nsynth_folder(tmp_path / "set", NSYNTH_NOTES)
    with pytest.raises(DataError) as err:
        load_notes(folder, sample_rate=SR, n_samples=N, pitches=range(48, 85), min_notes=1)
    assert "bass_electronic_033-036-075: pitch 36 is outside the model's pitches 48–84" in str(
        err.value)
    with pytest.warns(UserWarning, match="pitch 36 is outside"):
        notes = load_notes(folder, sample_rate=SR, n_samples=N, pitches=range(48, 85),
                           min_notes=1, strict=False)
    assert notes.pitches == [60, 64, 72]


# --- The user's audio: labels -------------------------------------------------------------


def test_pitch_from_name() -> None:
    assert pitch_from_name("cello_48.wav") == 48
    assert pitch_from_name("dir/loop_3_32.wav") == 32  # chop.py's <name>_<i>_<pitch>
    assert pitch_from_name("cello.wav") is None
    assert pitch_from_name("cello-48.wav") is None


def test_filename_pitch_folder(tmp_path: Path) -> None:
    for name, pitch in [("a_60", 60), ("b_64", 64), ("sub/c_67", 67)]:
        write(tmp_path / f"{name}.wav", tone(pitch, duration_s=0.3))
    notes = load_notes(tmp_path, sample_rate=SR, n_samples=N, chop="none", min_notes=3)
    assert notes.pitch.tolist() == [60, 64, 67]
    assert notes.names == ["a_0", "b_0", "c_0"]
    assert notes.source_counts() == {"user": 3}
    assert np.allclose(np.abs(notes.audio).max(axis=1), 0.9, atol=1e-4)
    assert np.abs(notes.audio[:, round(0.3 * SR):]).max() == 0.0  # padded with zeros


def test_tracker_labels_match_the_tones(tmp_path: Path) -> None:
    expected = [45, 57, 64, 69, 76]
    for i, pitch in enumerate(expected):
        write(tmp_path / f"note{i}.wav", tone(pitch))
    notes = load_notes(tmp_path, sample_rate=SR, n_samples=N, label="track", chop="none",
                       min_notes=5)
    assert notes.pitch.tolist() == expected


def test_fixed_pitch_for_unpitched_material(tmp_path: Path) -> None:
    for i in range(3):
        write(tmp_path / f"hit{i}.wav", noise(duration_s=0.2, sample_rate=SR, seed=i))
    notes = load_notes(tmp_path, sample_rate=SR, n_samples=N, label=32, min_notes=3)
    assert notes.pitch.tolist() == [32, 32, 32]
    with pytest.raises(DataError, match="fixed pitch 32 is outside the model's pitches 36–84"):
        load_notes(tmp_path, sample_rate=SR, n_samples=N, label=32, pitches=range(36, 85))


# --- The user's audio: chopping -------------------------------------------------------------


def test_fixed_chop_windows_hop_and_silence(tmp_path: Path) -> None:
    audio = np.concatenate([tone(60, 1.0), np.zeros(N, np.float32), tone(60, 0.6)])
    write(tmp_path / "take_60.wav", audio)
    notes = load_notes(tmp_path, sample_rate=SR, n_samples=N, chop="fixed", min_notes=1)
    # 2.1 s = four full 0.5-s windows and a 0.1-s tail (dropped, as chop.py does);
    # the silent third window is dropped too.
    assert len(notes) == 3 and notes.pitches == [60]
    assert np.abs(notes.audio).max(axis=1).min() > 0.8
    overlapping = load_notes(tmp_path, sample_rate=SR, n_samples=N, chop="fixed",
                             hop_length=N // 2, min_notes=1)
    assert len(overlapping) > len(notes)


def test_detect_onsets_and_onset_chop(tmp_path: Path) -> None:
    onsets_s, pitches = [0.0, 0.8, 1.7], [48, 60, 67]
    audio = np.zeros(round(2.5 * SR), np.float32)
    for start_s, pitch in zip(onsets_s, pitches, strict=True):
        note = decaying_tone(float(midi_to_hz(pitch)), duration_s=0.7, sample_rate=SR,
                             harmonics=[1.0, 0.5, 0.3, 0.2], decay_s=0.3)
        start = round(start_s * SR)
        audio[start:start + len(note)] += note
    found = detect_onsets(audio, sample_rate=SR) / SR
    assert len(found) == 3
    assert np.all(found <= onsets_s) and np.all(found > np.array(onsets_s) - 0.035)
    write(tmp_path / "phrase.wav", audio)
    notes = load_notes(tmp_path, sample_rate=SR, n_samples=N, chop="onsets", label="track",
                       min_notes=3)
    assert notes.pitch.tolist() == pitches


def test_chop_notes_none_fades_a_cut_note() -> None:
    audio = tone(60, duration_s=1.0)
    notes, starts = chop_notes(audio, sample_rate=SR, n_samples=N, chop="none")
    assert notes.shape == (1, N) and starts.tolist() == [0]
    assert notes[0, -1] == 0.0 and np.abs(notes[0, -400:-200]).max() > 0
    assert np.array_equal(fit_length(audio, n_samples=N), audio[:N])


def test_user_audio_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for pitch in (50, 55):
        write(tmp_path / "data" / f"n{pitch}.wav", tone(pitch))
    kwargs = {"sample_rate": SR, "n_samples": N, "label": "track", "min_notes": 2,
              "cache_dir": tmp_path / "cache"}
    first = load_notes(tmp_path / "data", **kwargs)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2

    def fail(*args: object, **kw: object) -> None:
        raise AssertionError("a cached file was chopped again")

    monkeypatch.setattr(gdata, "chop_notes", fail)
    second = load_notes(tmp_path / "data", **kwargs)
    assert np.array_equal(first.audio, second.audio)
    assert second.pitch.tolist() == [50, 55]


# --- The user's audio: validation -----------------------------------------------------------


def test_names_without_pitch_or_outside_set(tmp_path: Path) -> None:
    write(tmp_path / "good_60.wav", tone(60))
    write(tmp_path / "nameless.wav", tone(62))
    write(tmp_path / "low_20.wav", tone(62))
    with pytest.raises(DataError) as err:
        load_notes(tmp_path, sample_rate=SR, n_samples=N, pitches=range(24, 85), min_notes=1)
    text = str(err.value)
    assert len(text.splitlines()) == 3
    assert "nameless.wav: no pitch in the name (expected <name>_<pitch>)" in text
    assert "low_20.wav: pitch 20 is outside the model's pitches 24–84" in text
    assert "label='track'" in text and "good_60" not in text
    with pytest.warns(UserWarning, match="nameless.wav"):
        notes = load_notes(tmp_path, sample_rate=SR, n_samples=N, pitches=range(24, 85),
                           min_notes=1, strict=False)
    assert notes.pitch.tolist() == [60]


def test_unreadable_user_file(tmp_path: Path) -> None:
    write(tmp_path / "good_60.wav", tone(60))
    (tmp_path / "broken_60.wav").write_bytes(b"RIFF....garbage")
    with pytest.raises(DataError, match=r"(?s)unreadable.*broken_60\.wav"):
        load_notes(tmp_path, sample_rate=SR, n_samples=N, min_notes=1)


def test_tracked_noise_has_no_clear_pitch(tmp_path: Path) -> None:
    write(tmp_path / "tone.wav", tone(60))
    write(tmp_path / "hiss.wav", noise(duration_s=0.5, sample_rate=SR, amplitude=0.2) / 4)
    with pytest.raises(DataError) as err:
        load_notes(tmp_path, sample_rate=SR, n_samples=N, label="track", min_notes=1)
    assert "hiss.wav note at 0.00 s: no clear pitch" in str(err.value)
    assert "label=32" in str(err.value)


def test_tracked_pitch_outside_set(tmp_path: Path) -> None:
    write(tmp_path / "high.wav", tone(90))
    with pytest.raises(DataError, match="estimated pitch 90 is outside the model's pitches"):
        load_notes(tmp_path, sample_rate=SR, n_samples=N, label="track",
                   pitches=range(24, 85), min_notes=1)


def test_too_few_notes(tmp_path: Path) -> None:
    write(tmp_path / "one_60.wav", tone(60))
    with pytest.raises(DataError, match="gives 1 usable note.*fewer than min_notes=8"):
        load_notes(tmp_path, sample_rate=SR, n_samples=N)


@pytest.mark.parametrize("kwargs, message", [
    ({"label": "guess"}, "label must be 'name', 'track' or a MIDI pitch"),
    ({"chop": "slices"}, "chop must be one of fixed, onsets, none"),
    ({"label": "track", "tracker": "nope"}, "unknown pitch tracker 'nope'"),
    ({"pitches": [130]}, "pitches must be MIDI note numbers 0–127"),
])
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    write(tmp_path / "a_60.wav", tone(60))
    with pytest.raises(DataError, match=message):
        load_notes(tmp_path, sample_rate=SR, n_samples=N, min_notes=1, **kwargs)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_notes(tmp_path / "nowhere", sample_rate=SR, n_samples=N)


# --- The FluidR3 render script ----------------------------------------------------------------


def test_make_gansynth_data_reads_back(tmp_path: Path) -> None:
    """scripts/make_gansynth_data.py writes a set load_notes reads with the right pitches."""
    import subprocess
    import sys

    pytest.importorskip("fluidsynth", reason="needs the ddsp-data extra (pyfluidsynth)")
    if not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").is_file():
        pytest.skip("needs Debian fluid-soundfont-gm")
    script = Path(__file__).parents[2] / "scripts" / "make_gansynth_data.py"
    out = tmp_path / "fluidr3"
    subprocess.run([sys.executable, str(script), "--out", str(out), "--programs", "73", "56",
                    "--min-pitch", "60", "--max-pitch", "62", "--velocities", "75", "127"],
                   check=True, capture_output=True)
    examples = json.loads((out / "examples.json").read_text())
    assert examples["flute_acoustic_073-061-127"]["instrument_family_str"] == "flute"
    notes = load_notes(out, sample_rate=SR, n_samples=64000, pitches=range(24, 85),
                       min_notes=12)
    assert notes.audio.shape == (12, 64000)
    assert notes.family_counts() == {"brass": 6, "flute": 6}
    assert notes.pitch_counts() == {60: 4, 61: 4, 62: 4}
    for audio, pitch in zip(notes.audio, notes.pitch, strict=True):
        assert estimate_pitch(audio, sample_rate=SR) == pitch
        held, released = audio[SR:2 * SR], audio[-SR // 4:]  # 3 s held, then released
        assert np.abs(held).max() > 10 * np.abs(released).max()
