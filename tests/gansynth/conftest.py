"""Fixtures shared by the GANSynth tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlwa.audio import harmonic_tone, midi_to_hz, save_audio
from dlwa.gansynth.model import GANSynthConfig

SR = 16000
PITCHES = (60, 62, 64)


def write_tones(folder: Path, name: str, *, seconds: float, **tone: Any) -> Path:
    """Three tones per pitch of :data:`PITCHES`, ``<name><i>_<pitch>.wav``, ``i · seconds``
    long; ``tone`` goes to :func:`harmonic_tone`."""
    for pitch in PITCHES:
        for i in range(3):
            audio = harmonic_tone(float(midi_to_hz(pitch)), duration_s=seconds * (i + 1),
                                  sample_rate=SR, **tone)
            save_audio(folder / f"{name}{i}_{pitch}.wav", audio, sample_rate=SR)
    return folder


@pytest.fixture(scope="session")
def tones() -> Callable[..., Path]:
    """:func:`write_tones`, for test modules that make folders of their own."""
    return write_tones


@pytest.fixture(scope="module")
def notes_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine tiny tones named ``<name>_<pitch>.wav`` (the small config's 64-sample notes)."""
    return write_tones(tmp_path_factory.mktemp("notes"), "tone", seconds=0.004)


@pytest.fixture
def small_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--config``'s presets replaced by the tests' tiny config (fitted normaliser)."""
    import dlwa.gansynth.train as gtrain

    monkeypatch.setattr(gtrain, "preset", lambda name: GANSynthConfig.small(
        data_normalizer="specgrams_simple_normalizer"))
