#!/usr/bin/env python3
"""Make docs/gansynth/: sound examples and spectrograms of the shipped all_instruments model.

- ``notes_<pitch>.wav``: three latents (seed 0) played at C3, C4 and C5, one after the other;
- ``interpolation.wav`` and ``interpolation.png``: five notes at C4 from z0 to z1 by slerp
  (t = 0, 0.25, 0.5, 0.75, 1), with their log-magnitude spectrograms side by side;
- ``hallucination.wav``: ``hallucinate`` with 4 notes, 3 steps, 0.5 s spacing at C4;
- ``ganspace_grid.png`` and ``ganspace_component0.wav``: with the checkpoint's GANSpace,
  ``synthesize_noz`` at C4 over the first two components from −2 to +2 standard deviations
  (5 × 5, as the GANSpaceSynth paper's figure), and the middle row as sound;
- ``hallu_path.wav``: a HALLU path of 6 random steps with 4 points between each, rendered
  as ``halluseq``'s ``hallucinate_noz`` does.

Needs matplotlib (any version)::

    python scripts/make_gansynth_docs.py [--model all_instruments]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dlwa.audio.io import save_audio
from dlwa.gansynth.ganspace import PCA_FILE, GANSpace, synthesize_edited
from dlwa.gansynth.generate import (
    NoteShape,
    combine_notes,
    hallucinate,
    random_z,
    slerp_z,
    synthesize,
)
from dlwa.gansynth.model import load_model

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gansynth"
GAP_S = 0.25


def spectrogram_db(audio: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(audio.astype(np.float32))
    spec = torch.stft(x, 1024, 256, window=torch.hann_window(1024), return_complex=True).abs()
    return (20 * torch.log10(spec + 1e-5)).numpy()


def in_a_row(notes: np.ndarray, rate: int) -> np.ndarray:
    gap = np.zeros(round(GAP_S * rate), np.float32)
    peak = np.abs(notes).max()
    return np.concatenate([x for note in notes for x in (note / peak * 0.8, gap)])


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all_instruments")
    args = parser.parse_args()
    model, checkpoint = load_model(args.model)
    rate = model.config.sample_rate
    OUT.mkdir(parents=True, exist_ok=True)
    z = random_z(3, model.config.latent_vector_size, np.random.default_rng(0))
    for pitch in (48, 60, 72):
        notes = synthesize(model, z, [pitch] * 3)
        save_audio(OUT / f"notes_{pitch}.wav", in_a_row(notes, rate), sample_rate=rate)

    amounts = (0.0, 0.25, 0.5, 0.75, 1.0)
    path = np.stack([slerp_z(z[0], z[1], t) for t in amounts])
    notes = synthesize(model, path, [60] * len(amounts))
    save_audio(OUT / "interpolation.wav", in_a_row(notes, rate), sample_rate=rate)
    fig, axes = plt.subplots(1, len(amounts), figsize=(15, 3.6), sharey=True)
    for ax, t, note in zip(axes, amounts, notes):
        ax.imshow(spectrogram_db(note), origin="lower", aspect="auto", vmin=-60, vmax=40,
                  extent=(0, len(note) / rate, 0, rate / 2000), cmap="magma")
        ax.set_title(f"t = {t:g}")
        ax.set_xlabel("s")
    axes[0].set_ylabel("kHz")
    fig.suptitle(f"{checkpoint.name}: slerp from z0 to z1 at MIDI 60 (C4)")
    fig.tight_layout()
    fig.savefig(OUT / "interpolation.png", dpi=80)

    pca_file = Path(checkpoint.path) / PCA_FILE
    if pca_file.is_file():
        space = GANSpace.load(pca_file)
        steps = (-2.0, -1.0, 0.0, 1.0, 2.0)
        grid = [[a0, a1] for a1 in steps for a0 in steps]
        notes = synthesize_edited(model, space, [60] * len(grid), np.array(grid))
        fig, axes = plt.subplots(5, 5, figsize=(12, 9), sharex=True, sharey=True)
        for ax, (a0, a1), note in zip(axes[::-1].reshape(-1), grid, notes):
            ax.imshow(spectrogram_db(note), origin="lower", aspect="auto", vmin=-60, vmax=40,
                      extent=(0, len(note) / rate, 0, rate / 2000), cmap="magma")
            ax.set_title(f"{a0:+g}, {a1:+g}", fontsize=9)
        fig.suptitle(f"{checkpoint.name}: synthesize_noz at C4, component 0 (across) and 1 "
                     "(up) from -2 to +2 standard deviations")
        fig.tight_layout()
        fig.savefig(OUT / "ganspace_grid.png", dpi=60)
        save_audio(OUT / "ganspace_component0.wav",
                   in_a_row(notes[10:15], rate), sample_rate=rate)
        # A HALLU path: 6 random steps, 4 points between each, as hallucinate_noz renders it.
        from dlwa.pd.halluseq import path_points

        steps = [np.random.default_rng(10 + i).standard_normal(8) * 1.5 for i in range(6)]
        points = path_points(steps, 4, space.n_components)
        path_notes = synthesize_edited(model, space, [60] * len(points), points)
        path_audio = combine_notes(path_notes, sample_rate=rate, spacing=0.3,
                                   shape=NoteShape(0.0, 0.2, 0.4, 0.6))
        save_audio(OUT / "hallu_path.wav", path_audio, sample_rate=rate)

    audio = hallucinate(model, note_count=4, steps=3, spacing=0.5,
                        shape=NoteShape(0.0, 0.1, 0.6, 0.8), pitch=60,
                        rng=np.random.default_rng(1))
    save_audio(OUT / "hallucination.wav", audio, sample_rate=rate)
    print(f"wrote {sorted(p.name for p in OUT.iterdir())} to {OUT}")


if __name__ == "__main__":
    main()
