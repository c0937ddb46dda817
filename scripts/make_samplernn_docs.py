"""Sound examples and figures of docs/samplernn.md, made with the shipped guitar model.

Writes docs/samplernn/*.wav (4 s each at the model's 16 kHz: temperatures 0.8, 1.0 and 1.2,
an envelope, and the continuation of a held-out guitar phrase) and prints the held-out bits
per sample beside the mu-law unigram entropy of the same audio (the last tenth of each
stem, the part training held out)::

    .venv/bin/python scripts/make_samplernn_docs.py --data out/samplernn_data/guitar
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from dlwa.audio.io import load_audio, save_audio
from dlwa.samplernn.envelope import parse_temperature, temperature_track
from dlwa.samplernn.generate import Generator, score, unigram_bits
from dlwa.samplernn.model import load_model, quantize

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "samplernn"
SECONDS = 4.0


def held_out(data: Path, rate: int) -> list[np.ndarray]:
    """The last tenth of each recording (what training held out: fewer than 10 files)."""
    parts = []
    for path in sorted(data.glob("*.wav")):
        audio, _ = load_audio(path, sample_rate=rate)
        parts.append(audio[round(len(audio) * 0.9):])
    return parts


def write_picture(paths: list[Path]) -> None:
    """docs/images/samplernn_examples.png: the examples' spectrograms, one above another."""
    from PIL import Image

    from dlwa.training.logs import spectrogram_image

    rows = [spectrogram_image(load_audio(p)[0], n_fft=512, hop=128) for p in paths]
    gap = np.full((6, rows[0].shape[1], 3), 255, dtype=np.uint8)
    stacked = np.concatenate([x for row in rows for x in (row, gap)][:-1])
    Image.fromarray(stacked).save(ROOT / "docs" / "images" / "samplernn_examples.png")
    print("wrote docs/images/samplernn_examples.png (top to bottom: " +
          ", ".join(p.stem for p in paths) + ")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("out/samplernn_data/guitar"))
    args = parser.parse_args()
    model, checkpoint = load_model("guitar")
    rate = model.config.sample_rate
    OUT.mkdir(parents=True, exist_ok=True)
    n = round(SECONDS * rate)
    temps = {"temperature_0.8": 0.8, "temperature_1.0": 1.0, "temperature_1.2": 1.2,
             "envelope": parse_temperature("Env([0.7,1.05],[4],[-2])")}
    generator = Generator(model, batch_size=len(temps))
    track = np.stack([temperature_track(t, n, rate) for t in temps.values()])
    audio = generator.generate(n, temperature=track, rng=np.random.default_rng(7))
    for name, row in zip(temps, audio, strict=True):
        save_audio(OUT / f"{name}.wav", row, sample_rate=rate)
        print(f"wrote docs/samplernn/{name}.wav")
    parts = held_out(args.data, rate)
    seed = parts[0][rate * 2:rate * 3]  # one second of a held-out phrase
    continued = Generator(model).generate(n - len(seed), temperature=0.95, seed=seed,
                                          rng=np.random.default_rng(7))[0]
    save_audio(OUT / "seeded.wav", np.concatenate([seed, continued]), sample_rate=rate)
    print("wrote docs/samplernn/seeded.wav (1 s of held-out guitar, then the model)")
    write_picture([OUT / f"{name}.wav" for name in (*temps, "seeded")])
    total = count = 0
    for part in parts:
        nats, samples = score(model, part)
        total, count = total + nats, count + samples
    codes = np.concatenate([quantize(p, model.config) for p in parts])
    figures = {"model": checkpoint.name, "held_out_seconds": round(count / rate, 1),
               "bits_per_sample": round(total / count / math.log(2), 3),
               "unigram_bits_per_sample": round(unigram_bits(codes, model.config.q_levels), 3),
               "training": checkpoint.training}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
