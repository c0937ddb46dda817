"""Making sounds with a trained GANSynth: latents, batched notes, hallucinations, note files.

Everything here is numpy in, numpy out, so the Pd object and the CLI share it:

- :func:`random_z`: latents drawn from N(0, I), as the generator saw them in training. They
  are *not* normalised to unit length: the generator pixel-normalises ``[z, one-hot pitch]``
  as one vector, so the size of ``z`` sets how much the pitch weighs against it, and a unit
  ``z`` (norm 1 against the one-hot's 1) would give the pitch far more weight than in
  training (norm about ``sqrt(256) = 16``).
- :func:`synthesize`: notes for any number of ``(z, pitch)`` pairs, in batches.
- :func:`hallucinate`: the course's "hallucination": random latents, ``steps`` slerped
  latents between each neighbouring pair, every note shaped by a trim/attack/sustain/release
  envelope and laid out ``spacing`` seconds apart (:func:`combine_notes`).
- :func:`write_notes`: ``<dir>/<pitch>_<i>.wav`` files for ``dlwa generate gansynth``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlwa.gansynth.model import GANSynth, generate, slerp

DEFAULT_BATCH_SIZE = 8
MAX_NOTES = 1000
"""Most notes one request may make (a hallucination of 1000 4-s notes is about an hour)."""
HALLUCINATION_PEAK = 0.5  # the course normalises the sum to this peak

Progress = Callable[[float], None]


def random_z(count: int, latent_size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` latents from N(0, I): float32 ``[count, latent_size]`` (see the module doc)."""
    return rng.standard_normal((count, latent_size)).astype(np.float32)


def slerp_z(z0: np.ndarray, z1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of two latents (``t`` = 0 gives ``z0``, 1 gives ``z1``)."""
    if z0.shape != z1.shape:
        raise ValueError(f"the two latents differ in size: {z0.size} and {z1.size} values")
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"the interpolation amount must be in 0…1: got {t:g}")
    out = slerp(torch.from_numpy(np.asarray(z0, np.float64)),
                torch.from_numpy(np.asarray(z1, np.float64)), float(t))
    return out.numpy().astype(np.float32)


def check_z(model: GANSynth, z: np.ndarray, what: str = "z") -> np.ndarray:
    """``z`` as float32 ``[n, latent]``; ValueError (one line) for a wrong size or a NaN."""
    size = model.config.latent_vector_size
    z = np.asarray(z, dtype=np.float32)
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != size:
        got = z.shape[-1] if z.ndim else 0
        raise ValueError(f"{what} has {got} values but this model's latents have {size} "
                         f"(randomize_z fills an array with them)")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{what} holds NaN or infinite values")
    return z


def check_pitches(model: GANSynth, pitches: Sequence[float]) -> list[int]:
    """The pitches as ints; ValueError naming the model's pitch set for any it lacks."""
    model.pitch_labels(list(pitches))
    return [int(p) for p in pitches]


@torch.no_grad()
def synthesize(model: GANSynth, z: np.ndarray, pitches: Sequence[int], *,
               batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
               ) -> np.ndarray:
    """Notes for ``(z[i], pitches[i])`` pairs, ``batch_size`` at a time.

    Args:
        model: A loaded GANSynth.
        z: ``[n, latent]`` latents (one per note).
        pitches: ``n`` MIDI pitches, each one the model was trained on.
        batch_size: Notes per generator call (memory and speed; the notes do not depend on it).
        progress: Called with the share done after each batch (may raise to stop).

    Returns:
        float32 ``[n, audio_length]`` at ``model.config.sample_rate``.

    Raises:
        ValueError: a wrong-size latent, an unknown pitch, or counts that differ.
    """
    z = check_z(model, z)
    pitches = check_pitches(model, pitches)
    if len(pitches) != len(z):
        raise ValueError(f"need one pitch per latent: {len(z)} latents, {len(pitches)} pitches")
    if not 1 <= batch_size <= 256:
        raise ValueError(f"batch size must be 1…256: got {batch_size}")
    out = np.empty((len(z), model.config.audio_length), dtype=np.float32)
    for start in range(0, len(z), batch_size):
        stop = min(start + batch_size, len(z))
        audio = generate(model, torch.from_numpy(z[start:stop]), pitches[start:stop])
        out[start:stop] = audio.numpy()
        if progress is not None:
            progress(stop / len(z))
    return out


@dataclass(frozen=True)
class NoteShape:
    """How each note of a hallucination is cut, in seconds (the course's defaults).

    The note starts ``start_trim`` into the generated audio, rises linearly for ``attack``,
    holds for ``sustain`` and falls linearly to silence over ``release``.
    """

    start_trim: float = 0.0
    attack: float = 0.5
    sustain: float = 0.5
    release: float = 0.5

    @property
    def seconds(self) -> float:
        """Length of a shaped note (attack + sustain + release)."""
        return self.attack + self.sustain + self.release

    def check(self, note_seconds: float) -> None:
        """ValueError unless every part is ≥ 0 and the shape fits in a generated note."""
        for name in ("start_trim", "attack", "sustain", "release"):
            value = getattr(self, name)
            if not value >= 0.0:
                raise ValueError(f"{name} must be 0 or more seconds: got {value:g}")
        if self.seconds <= 0.0:
            raise ValueError("attack + sustain + release must be more than 0 seconds")
        if self.start_trim + self.seconds > note_seconds + 1e-9:
            raise ValueError(
                f"start_trim + attack + sustain + release is {self.start_trim + self.seconds:g}"
                f" s: longer than the model's {note_seconds:g} s notes")

    def envelope(self, sample_rate: int) -> np.ndarray:
        """The attack/sustain/release gain curve, float32 ``[round(seconds · rate)]``."""
        parts = [round(x * sample_rate) for x in (self.attack, self.sustain, self.release)]
        attack = np.arange(1, parts[0] + 1, dtype=np.float32) / max(parts[0], 1)
        release = np.arange(parts[2], 0, -1, dtype=np.float32) / max(parts[2], 1)
        return np.concatenate([attack, np.ones(parts[1], np.float32), release])


def hallucination_z(rng: np.random.Generator, note_count: int, steps: int,
                    latent_size: int) -> np.ndarray:
    """``note_count`` random latents with ``steps`` slerped ones between each pair:
    ``note_count + (note_count - 1) · steps`` latents in playing order."""
    anchors = random_z(note_count, latent_size, rng)
    rows = [anchors[0]]
    for a, b in itertools.pairwise(anchors):
        rows += [slerp_z(a, b, (j + 1) / (steps + 1)) for j in range(steps)]
        rows.append(b)
    return np.stack(rows)


def combine_notes(notes: np.ndarray, *, sample_rate: int, spacing: float, shape: NoteShape
                  ) -> np.ndarray:
    """Lay shaped notes out ``spacing`` seconds apart and mix them (the course's
    ``combine_notes``, to the sample): each note is cut, enveloped and peak-normalised; the
    mix is normalised to a peak of 0.5.

    Returns:
        float32 audio of ``(n - 1) · round(spacing · rate) + round(shape.seconds · rate)``
        samples: exactly as long as the last note lasts.
    """
    if spacing < 0:
        raise ValueError(f"spacing must be 0 or more seconds: got {spacing:g}")
    shape.check(notes.shape[1] / sample_rate)
    envelope = shape.envelope(sample_rate)
    start = round(shape.start_trim * sample_rate)
    hop = round(spacing * sample_rate)
    length = (len(notes) - 1) * hop + len(envelope)
    out = np.zeros(length, dtype=np.float64)
    for i, note in enumerate(notes):
        cut = note[start:start + len(envelope)]
        shaped = cut * envelope[:len(cut)]
        peak = np.abs(shaped).max(initial=0.0)
        if peak > 0:
            out[i * hop:i * hop + len(shaped)] += shaped / peak
    peak = np.abs(out).max(initial=0.0)
    return (out * (HALLUCINATION_PEAK / peak) if peak > 0 else out).astype(np.float32)


def hallucinate(model: GANSynth, *, note_count: int, steps: int, spacing: float,
                shape: NoteShape, pitch: int, rng: np.random.Generator,
                batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
                ) -> np.ndarray:
    """A hallucination at ``model.config.sample_rate``: see :func:`hallucination_z` and
    :func:`combine_notes`.

    Raises:
        ValueError: counts out of range, an unknown pitch, or a shape longer than a note.
    """
    if not 1 <= note_count <= MAX_NOTES:
        raise ValueError(f"note_count must be 1…{MAX_NOTES}: got {note_count}")
    if steps < 0 or note_count + (note_count - 1) * steps > MAX_NOTES:
        raise ValueError(f"steps must be 0 or more with at most {MAX_NOTES} notes in all: "
                         f"got {note_count} notes and {steps} steps")
    config = model.config
    shape.check(config.audio_length / config.sample_rate)
    pitch = check_pitches(model, [pitch])[0]
    z = hallucination_z(rng, note_count, steps, config.latent_vector_size)
    notes = synthesize(model, z, [pitch] * len(z), batch_size=batch_size, progress=progress)
    return combine_notes(notes, sample_rate=config.sample_rate, spacing=spacing, shape=shape)


def note_path(out_dir: Path, pitch: int, index: int) -> Path:
    """``<out_dir>/<pitch>_<index>.wav``."""
    return out_dir / f"{pitch}_{index}.wav"


def write_notes(model: GANSynth, out_dir: str | os.PathLike[str], *, pitches: Sequence[int],
                z: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: Progress | None = None, edit: Any = None) -> list[Path]:
    """Write note ``i`` of each pitch, made from ``z[i]``, to ``<out_dir>/<pitch>_<i>.wav``.

    The same ``z`` row is used for every pitch, so note ``i`` is one "instrument" played at
    each pitch. Existing files are never overwritten: if any target exists, nothing is
    written.

    ``edit``: ``(space, amplitudes, absolute)`` steers every note along a
    :class:`~dlwa.gansynth.ganspace.GANSpace` (absolute: one note per pitch, no latent).

    Raises:
        ValueError: an unknown pitch, a wrong-size latent, or a target file that exists.
    """
    from dlwa.audio.io import save_audio

    z = check_z(model, z, "--z")
    pitches = check_pitches(model, pitches)
    out = Path(out_dir)
    targets = [(p, i, note_path(out, p, i)) for p in pitches for i in range(len(z))]
    existing = [str(path) for _, _, path in targets if path.exists()]
    if existing:
        raise ValueError(f"{len(existing)} of the notes exist already (e.g. {existing[0]}): "
                         "choose a new --out-dir; nothing was written")
    all_z = np.concatenate([z] * len(pitches))
    all_pitches = [p for p in pitches for _ in range(len(z))]
    if edit is None:
        notes = synthesize(model, all_z, all_pitches, batch_size=batch_size, progress=progress)
    else:
        from dlwa.gansynth.ganspace import synthesize_edited

        space, amplitudes, absolute = edit
        notes = synthesize_edited(model, space, all_pitches, np.asarray([amplitudes or [0.0]]),
                                  z=None if absolute else all_z, batch_size=batch_size)
    out.mkdir(parents=True, exist_ok=True)
    for (_, _, path), note in zip(targets, notes):
        # Float samples: a note louder than full scale is kept as made, never clipped.
        save_audio(path, note, sample_rate=model.config.sample_rate, subtype="FLOAT")
    return [path for _, _, path in targets]
