#!/usr/bin/env python3
"""Make the live-DDSP sound examples and picture in docs/ddsp/.

Streams pd_patches/timbre_transfer-example.wav (a FluidR3 trumpet melody) at 48 kHz with
the default chunk through each shipped model, as [ddsp~] plays it, and writes the result
(the stream's delay removed, at 16 kHz) to docs/ddsp/live_trumpet_to_<model>.wav. The
picture, docs/ddsp/live_latency.png: a tone burst in, its zero-delay transfer and the live
stream (the reported latency marked), and the melody's pitch in and out. Needs matplotlib.

    python scripts/make_ddsp_live_docs.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dlwa.audio.io import load_audio, save_audio
from dlwa.audio.resample import resample
from dlwa.ddsp.features import compute_f0, compute_features
from dlwa.ddsp.model import load_model
from dlwa.ddsp.stream import DDSPStream, transfer_aligned

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "ddsp"
MODELS = ("violin", "flute", "sax")
RATE = 48000


def stream(model_name: str, audio: np.ndarray) -> tuple[np.ndarray, DDSPStream]:
    """The stream's output for ``audio`` (whole chunks), and the stream."""
    live = DDSPStream(load_model(model_name), sample_rate=RATE)
    n = len(audio) // live.chunk * live.chunk
    out = np.concatenate([live.process(audio[i:i + live.chunk])
                          for i in range(0, n, live.chunk)])
    return out, live


def envelope(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.convolve(x.astype(np.float64) ** 2, np.ones(96) / 96, "same"))


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    torch.set_num_threads(1)
    x16, _ = load_audio(ROOT / "pd_patches" / "timbre_transfer-example.wav")
    audio = resample(x16, orig_sample_rate=16000, sample_rate=RATE)
    pitch = {}
    for name in MODELS:
        out, live = stream(name, audio)
        played = resample(out[live.latency:], orig_sample_rate=RATE, sample_rate=16000)
        save_audio(OUT / f"live_trumpet_to_{name}.wav", played, sample_rate=16000)
        pitch[name] = compute_f0(played, sample_rate=16000)
        print(f"wrote live_trumpet_to_{name}.wav (latency {live.latency_ms:.2f} ms + ring)")

    t = np.arange(int(0.3 * RATE)) / RATE
    burst = np.concatenate([np.zeros(int(0.05 * RATE), np.float32),
                            (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)])
    out, live = stream("violin", np.concatenate([burst, np.zeros(RATE // 10, np.float32)]))
    aligned = transfer_aligned(load_model("violin"), burst, sample_rate=RATE)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7))
    ms = 1000 * np.arange(len(burst)) / RATE
    top.plot(ms, envelope(burst), label="tone burst in")
    top.plot(ms, envelope(aligned), label="zero-delay transfer (violin)")
    top.plot(ms, envelope(out[:len(burst)]), label="live stream (violin, chunk 384)")
    top.axvline(50, color="gray", lw=0.8)
    top.axvline(50 + live.latency_ms, color="gray", lw=0.8, ls="--")
    top.annotate(f"stream's latency {live.latency_ms:.1f} ms\n(+ 16 ms ring in Pd)",
                 (50 + live.latency_ms, 0.05), xytext=(90, 0.2),
                 arrowprops={"arrowstyle": "->"})
    top.set_xlim(0, 200)
    top.set_xlabel("ms")
    top.set_ylabel("RMS (2-ms window)")
    top.legend(loc="center right")
    features = compute_features(x16, sample_rate=16000)
    voiced = features["f0_confidence"] >= 0.5
    frames_s = np.arange(len(voiced)) / 250
    midi_in = np.where(voiced, 69 + 12 * np.log2(features["f0_hz"] / 440), np.nan)
    bottom.plot(frames_s, midi_in, "k", lw=2.5, label="trumpet in")
    for name in MODELS:
        f0, confidence = pitch[name]
        n = min(len(f0), len(frames_s))
        midi = np.where(confidence[:n] >= 0.5, 69 + 12 * np.log2(f0[:n] / 440), np.nan)
        bottom.plot(frames_s[:n], midi, lw=1, label=f"{name}, live")
    bottom.set_xlabel("s")
    bottom.set_ylabel("pitch (MIDI)")
    bottom.legend(loc="lower right", ncol=4)
    fig.tight_layout()
    fig.savefig(OUT / "live_latency.png", dpi=90)
    print("wrote live_latency.png")


if __name__ == "__main__":
    main()
