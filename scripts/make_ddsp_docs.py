#!/usr/bin/env python3
"""Make docs/ddsp/: sound examples and spectrograms of the shipped DDSP models.

Transfers pd_patches/timbre_transfer-example.wav (a FluidR3 trumpet melody, 5 s) to each
shipped model, resynthesises 5 s of a held-out clip per model, and draws log-magnitude
spectrograms. Needs matplotlib (any version) and the held-out renders:

    python scripts/make_ddsp_data.py --out out/ddsp_heldout --minutes 1 --seed 99 \\
        --instruments violin flute sax clarinet trumpet
    python scripts/make_ddsp_docs.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dlwa.audio.io import load_audio, save_audio
from dlwa.ddsp.model import load_model
from dlwa.ddsp.transfer import TransferParams, transfer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "ddsp"
MODELS = ("violin", "flute", "sax")
SR = 16000


def spectrogram_db(audio: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(audio.astype(np.float32))
    spec = torch.stft(x, 1024, 256, window=torch.hann_window(1024), return_complex=True).abs()
    return (20 * torch.log10(spec + 1e-5)).numpy()


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    example, rate = load_audio(ROOT / "pd_patches" / "timbre_transfer-example.wav")
    panels = [("input: FluidR3 trumpet (not trained on)", example)]
    save_audio(OUT / "input_trumpet.wav", example, sample_rate=rate)
    for name in MODELS:
        model = load_model(name)
        out, _ = transfer(example, sample_rate=rate, model=model, params=TransferParams(),
                          peak=0.9)
        save_audio(OUT / f"trumpet_to_{name}.wav", out, sample_rate=SR)
        panels.append((f"transferred to {name} (auto adjust on)", out))
        held_out = min((ROOT / "out" / "ddsp_heldout" / name).glob("*.wav"))
        clip, _ = load_audio(held_out, sample_rate=SR)
        clip = clip[: 5 * SR]
        resynth, _ = transfer(clip, sample_rate=SR, model=model,
                              params=TransferParams(adjust=False), peak=0.9)
        save_audio(OUT / f"{name}_heldout.wav", 0.9 * clip / np.abs(clip).max(), sample_rate=SR)
        save_audio(OUT / f"{name}_resynthesis.wav", resynth, sample_rate=SR)
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.5 * len(panels)), sharex=True)
    for ax, (title, audio) in zip(axes, panels):
        ax.imshow(spectrogram_db(audio), origin="lower", aspect="auto", cmap="magma",
                  vmin=-60, vmax=40, extent=(0, len(audio) / SR, 0, SR / 2000))
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(OUT / "transfer_spectrograms.png", dpi=64)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
