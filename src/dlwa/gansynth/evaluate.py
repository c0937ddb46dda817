"""How good is a GANSynth model? Pitch accuracy and diversity of its notes.

- **Pitch accuracy**: the share of generated notes whose median f0 (YIN, over the confident
  frames of the note's first three seconds) lies within 50 cents of the pitch asked for. A
  note with no confident frame, or an octave off, counts as a miss.
- **Diversity**: the mean log-spectral distance (dB) between notes of the same pitch made
  from different latents. 0 means the latent is ignored (mode collapse); real instruments
  of one pitch in NSynth differ by roughly 10–20 dB.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dlwa.gansynth.generate import Progress, random_z, synthesize
from dlwa.gansynth.model import GANSynth

CENTS_TOLERANCE = 50.0
MIN_CONFIDENCE = 0.8
ANALYSIS_SECONDS = 3.0  # NSynth notes are held 3 s, then released
LSD_FLOOR_DB = -80.0


@dataclass
class PitchResult:
    """What one pitch's notes measured: median f0 error in cents per note (None: unvoiced)."""

    pitch: int
    cents: list[float | None]
    diversity_db: float | None

    @property
    def hits(self) -> int:
        return sum(c is not None and abs(c) <= CENTS_TOLERANCE for c in self.cents)


@dataclass
class Evaluation:
    """A model's figures over the pitches evaluated (see the module doc)."""

    model: str
    notes_per_pitch: int
    seed: int
    pitch_accuracy: float
    diversity_db: float | None
    per_pitch: list[PitchResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def median_f0_cents(audio: np.ndarray, *, sample_rate: int, pitch: int) -> float | None:
    """Cents from ``pitch`` of the note's median f0; None when no frame is confidently pitched."""
    from dlwa.audio.conversions import hz_to_midi, midi_to_hz
    from dlwa.ddsp.features import yin

    target_hz = float(midi_to_hz(pitch))
    frame_rate = next(r for r in (100, 50, 25, 20, 10, 5, 1) if sample_rate % r == 0)
    # Search an octave either side, so octave errors are seen as such, not as silence.
    f0_hz, confidence = yin(audio[:round(ANALYSIS_SECONDS * sample_rate)].astype(np.float64),
                            sample_rate=sample_rate, frame_rate=frame_rate,
                            f0_min_hz=target_hz / 2.2, f0_max_hz=min(target_hz * 2.2,
                                                                     sample_rate / 4))
    voiced = f0_hz[(confidence >= MIN_CONFIDENCE) & (f0_hz > 0)]
    if voiced.size == 0:
        return None
    return float(100.0 * (np.median(hz_to_midi(voiced.astype(np.float64))) - pitch))


def log_spectrum_db(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Power spectrogram in dB, floored at −80 dB below full scale: [frames, bins]."""
    audio = np.pad(audio, (0, max(0, n_fft - len(audio))))
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2
    return np.maximum(10.0 * np.log10(power + 1e-20), LSD_FLOOR_DB + 10.0 * np.log10(n_fft))


def log_spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of the RMS difference of the two log spectra, in dB."""
    diff = log_spectrum_db(a) - log_spectrum_db(b)
    return float(np.mean(np.sqrt(np.mean(diff ** 2, axis=-1))))


def evaluate(model: GANSynth, *, name: str, pitches: Sequence[int] | None = None,
             notes_per_pitch: int = 4, seed: int = 0, batch_size: int = 8,
             progress: Progress | None = None) -> Evaluation:
    """Generate ``notes_per_pitch`` notes (the same latents for every pitch) at each pitch
    and measure them.

    Args:
        model: The model.
        name: Its name, for the report.
        pitches: Pitches to test (default: all the model's).
        notes_per_pitch: Latents per pitch (at least 2 for a diversity figure).
        seed: Seed of the latents.
        batch_size: Notes per generator call.
        progress: Called with the share done.
    """
    if notes_per_pitch < 1:
        raise ValueError(f"need at least one note per pitch: got {notes_per_pitch}")
    pitches = list(model.config.pitches if pitches is None else pitches)
    model.pitch_labels(pitches)  # unknown pitches fail before any work
    rng = np.random.default_rng(seed)
    z = random_z(notes_per_pitch, model.config.latent_vector_size, rng)
    rate = model.config.sample_rate
    results = []
    for k, pitch in enumerate(pitches):
        notes = synthesize(model, z, [pitch] * notes_per_pitch, batch_size=batch_size)
        cents = [median_f0_cents(note, sample_rate=rate, pitch=pitch) for note in notes]
        distances = [log_spectral_distance(a, b) for a, b in itertools.combinations(notes, 2)]
        results.append(PitchResult(pitch, cents, float(np.mean(distances)) if distances
                                   else None))
        if progress is not None:
            progress((k + 1) / len(pitches))
    hits = sum(r.hits for r in results)
    diversities = [r.diversity_db for r in results if r.diversity_db is not None]
    return Evaluation(model=name, notes_per_pitch=notes_per_pitch, seed=seed,
                      pitch_accuracy=hits / (len(pitches) * notes_per_pitch),
                      diversity_db=float(np.mean(diversities)) if diversities else None,
                      per_pitch=results)
