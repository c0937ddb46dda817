"""Shared fixtures for the DDSP tests: generated audio and a tiny model checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ddsp_helpers import SR, STATISTICS, TINY, melody

from dlwa.audio.io import save_audio
from dlwa.ddsp.model import DDSPModel, save_model


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny model with dataset statistics."""
    torch.manual_seed(0)
    model = DDSPModel(TINY)
    with torch.no_grad():  # a loud, harmonic starting point so pitch is measurable
        model.decoder.dense_out.bias[0] = 3.0
    directory = tmp_path_factory.mktemp("ckpt") / "ddsp_tiny"
    return save_model(directory, model, statistics=STATISTICS,
                      training={"tracker": "yin", "data": "generated"})


@pytest.fixture(scope="session")
def audio_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three short generated melodies, as a user's training folder."""
    folder = tmp_path_factory.mktemp("audio")
    for i in range(3):
        save_audio(folder / f"take{i}.wav", melody(2.5, seed=i), sample_rate=SR)
    return folder
