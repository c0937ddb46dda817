"""The sound examples and pictures of docs/rave.md, made with the shipped ``guitar`` model.

    .venv/bin/python scripts/make_rave_docs.py

Streams ``pd_patches/rave-example.wav`` (held-out guitar: the last tenth of a song, never
trained on) through the model as ``dlwa stream rave`` does, then through encode → a change
of the first latent dimension → decode, and writes the wav files and two pictures:
spectrograms of the three, and the latent trajectories.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from dlwa.audio.io import load_audio, save_audio
from dlwa.rave.model import NNModel, find_model
from dlwa.rave.stream import RaveStream, stream_file

OUT = Path("docs/rave")
IMAGES = Path("docs/images")


def log_spectrogram(x: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    spec = torch.stft(torch.from_numpy(x), n_fft, hop, window=torch.hann_window(n_fft),
                      return_complex=True).abs().numpy()
    return 20 * np.log10(spec + 1e-5)


def spectral_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of log-magnitude spectrograms over three scales (dB)."""
    n = min(len(a), len(b))
    return float(np.mean([np.abs(log_spectrogram(a[:n], f, f // 4)
                                 - log_spectrogram(b[:n], f, f // 4)).mean()
                          for f in (256, 1024, 4096)]))


def main() -> None:
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    path = find_model("guitar")
    rate = NNModel(path).sample_rate
    x, _ = load_audio("pd_patches/rave-example.wav", sample_rate=rate)
    torch.manual_seed(0)
    forward = stream_file(RaveStream(NNModel(path), "forward"), x[None])[0]
    torch.manual_seed(0)
    z = stream_file(RaveStream(NNModel(path), "encode"), x[None])
    shifted = z.copy()
    shifted[0] += 2.0  # the first latent dimension, two units up
    torch.manual_seed(0)
    moved = stream_file(RaveStream(NNModel(path), "decode"), shifted)[0]
    save_audio(OUT / "guitar_forward.wav", forward, sample_rate=rate)
    save_audio(OUT / "guitar_z1_plus_2.wav", moved, sample_rate=rate)
    save_audio(OUT / "example_in.wav", x, sample_rate=rate)
    figures = {"spectral_distance_db": {
        "forward_vs_input": round(spectral_distance(x, forward), 2),
        "silence_vs_input": round(spectral_distance(x, np.zeros_like(x)), 2),
        "noise_at_input_level_vs_input": round(spectral_distance(
            x, np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
            * float(np.sqrt(np.mean(x ** 2)))), 2)},
        "latent_dimensions": int(z.shape[0])}
    (OUT / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps(figures))

    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    for ax, (title, sound) in zip(axes, [("input: held-out guitar", x),
                                         ("[rave~ guitar forward]", forward),
                                         ("encode, z1 + 2, decode", moved)], strict=True):
        spec = log_spectrogram(sound)
        ax.imshow(spec, origin="lower", aspect="auto", vmin=spec.max() - 80, vmax=spec.max(),
                  extent=(0, len(sound) / rate, 0, rate / 2000), cmap="magma")
        ax.set_title(title)
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(IMAGES / "rave_spectrograms.png", dpi=80)

    frames = z[:, ::512]
    fig, ax = plt.subplots(figsize=(10, 3))
    t = np.arange(frames.shape[1]) * 512 / rate
    for i, row in enumerate(frames[:8]):
        ax.plot(t, row, label=f"z{i + 1}")
    ax.set_xlabel("seconds")
    ax.set_title(f"the latent of the example ({z.shape[0]} dimensions, one frame per 512 "
                 "samples): what [rave~ guitar encode] sends out")
    ax.legend(loc="upper right", ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(IMAGES / "rave_latents.png", dpi=80)


if __name__ == "__main__":
    main()
