"""Helpers shared by the DDSP tests: generated audio and a tiny model config."""

from __future__ import annotations

import numpy as np

from dlwa.ddsp.model import DDSPConfig

SR = 16000

TINY = DDSPConfig(rnn_channels=16, ch=16, layers_per_stack=1, n_harmonics=8, n_noise_bands=9,
                  reverb_length=256)

STATISTICS = {
    "mean_pitch_midi": 69.0,
    "pitch_quantiles_midi": [60.0, 69.0, 80.0],
    "loudness_quantiles_db": np.linspace(-40.0, -5.0, 101).tolist(),
    "mean_loudness_db": -20.0,
    "voiced_fraction": 0.9,
    "n_frames": 1000,
}


def melody(duration_s: float = 2.0, *, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    """A harmonic tone stepping through notes, with short gaps: pitched, monophonic."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    note_s = 0.25
    pitches = 60 + rng.integers(0, 12, size=int(np.ceil(duration_s / note_s)))
    f0 = 440.0 * 2 ** ((pitches[(t // note_s).astype(int)] - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.minimum(1.0, (t % note_s) / 0.01) * ((t % note_s) < note_s - 0.03)
    return (0.3 * tone * envelope).astype(np.float32)
