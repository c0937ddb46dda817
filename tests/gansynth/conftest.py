"""Fixtures shared by the GANSynth tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlwa.audio import harmonic_tone, midi_to_hz, save_audio
from dlwa.gansynth.model import GANSynthConfig

SR = 16000
PITCHES = (60, 62, 64)


@pytest.fixture(scope="module")
def notes_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine tiny tones named ``<name>_<pitch>.wav`` (the small config's 64-sample notes)."""
    folder = tmp_path_factory.mktemp("notes")
    for pitch in PITCHES:
        for i in range(3):
            tone = harmonic_tone(float(midi_to_hz(pitch)), duration_s=0.004 * (i + 1),
                                 sample_rate=SR)
            save_audio(folder / f"tone{i}_{pitch}.wav", tone, sample_rate=SR)
    return folder


@pytest.fixture
def small_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--config``'s presets replaced by the tests' tiny config (fitted normaliser)."""
    import dlwa.gansynth.train as gtrain

    monkeypatch.setattr(gtrain, "preset", lambda name: GANSynthConfig.small(
        data_normalizer="specgrams_simple_normalizer"))
