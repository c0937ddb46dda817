"""GANSynth speed: seconds per 4-second note, batch 1 and 8.

``notes``: :func:`dlwa.gansynth.generate.synthesize` (generator, denormalisation, mel →
linear IF, phase integration, inverse STFT) for the shipped ``all_instruments`` model and
for Magenta's full ``mel_prog_hires`` architecture (the released ``all_instruments``:
14.1 M parameters) with random weights, with torch's default threads (every core, as
TensorFlow uses for Magenta's own code in ``scripts/bench_gansynth_reference.py``). Each
figure is the median of several runs after a warm-up call. Each runs in float32 and with
the generator in bfloat16 (``precision``).

``arithmetic``: the generator's multiply-adds per note for both models, and the CPU's
matrix-product rate, about the most that convolutions computed as such can reach.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from dlwa.bench import Measurement, benchmark, median_seconds

if TYPE_CHECKING:
    from dlwa.gansynth.model import GANSynthConfig

BATCHES = (1, 8)
RUNS = {1: 8, 8: 3}


def _seconds_per_note(model: object, batch: int) -> float:
    from dlwa.gansynth.generate import random_z, synthesize

    config = model.config  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    z = random_z(batch, config.latent_vector_size, rng)
    pitches = [sorted(config.pitches)[len(config.pitches) // 2]] * batch
    return median_seconds(lambda: synthesize(model, z, pitches, batch_size=batch),
                          RUNS[batch]) / batch


@benchmark("gansynth")
def notes() -> list[Measurement]:
    import torch

    from dlwa.gansynth.model import PRECISIONS, GANSynthConfig, generator_model, load_model

    results = []
    default, checkpoint = load_model("all_instruments")
    full = generator_model(GANSynthConfig()).eval()
    for name, model in ((f"default ({checkpoint.name})", default),
                        ("Magenta all_instruments architecture, random weights", full)):
        params = sum(p.numel() for p in model.generator.parameters())
        for precision in PRECISIONS:
            model.precision = precision
            for batch in BATCHES:
                seconds = _seconds_per_note(model, batch)
                results.append(Measurement(
                    f"{name}, {precision}, batch {batch}", seconds, "s per note",
                    f"{model.config.audio_length / model.config.sample_rate:g}-s notes, "
                    f"{params / 1e6:.2f} M generator parameters, "
                    f"{torch.get_num_threads()} threads, median of {RUNS[batch]}"))
    return results


def generator_multiply_adds(config: GANSynthConfig) -> tuple[float, float]:
    """Multiply-adds of the generator's convolutions for one note, fully grown:
    ``(as plain convolutions, as dlwa computes them)``.

    Magenta convolves each block's 2× upscaled image; dlwa computes that first convolution
    as four ``(k//2 + 1)²`` kernels over the small image, padded by a pixel
    (``EqualizedConv2d.after_upscale``): about 4/9 of the plain count for 3 × 3 kernels.
    Only the top block's ``to_rgb`` runs.
    """
    from dlwa.gansynth.model import Generator

    generator = Generator(config)
    height, width = config.start_height, config.start_width
    plain = ours = 0.0
    for index, block in enumerate(generator.blocks[:config.blocks]):
        if index > 0:
            height, width = 2 * height, 2 * width
        for name, conv in (("conv0", block.conv0), ("conv1", block.conv1)):
            out_ch, in_ch, kh, kw = conv.weight.shape
            count = float(height * width * out_ch * in_ch * kh * kw)
            plain += count
            if name == "conv0" and index > 0 and kh == kw and kh % 2:  # four phases
                half = kh // 2
                border = (1 - half) // 2 - (-half) // 2
                count = float((height // 2 + border) * (width // 2 + border) * 4 * out_ch
                              * in_ch * (half + 1) ** 2)
            ours += count
    rgb = generator.blocks[config.blocks - 1].to_rgb.weight
    plain += height * width * rgb.numel()
    ours += height * width * rgb.numel()
    return plain, ours


@benchmark("gansynth")
def arithmetic() -> list[Measurement]:
    """What a note costs in multiply-adds, and how many this CPU does per second: a large
    matrix product (``torch.mm``, 2048², default threads), float32 and bfloat16."""
    import torch

    from dlwa.gansynth.model import GANSynthConfig, load_model

    results = []
    default, checkpoint = load_model("all_instruments")
    for name, config in ((f"default ({checkpoint.name})", default.config),
                         ("Magenta all_instruments architecture", GANSynthConfig())):
        plain, ours = generator_multiply_adds(config)
        results.append(Measurement(f"{name}: generator multiply-adds per note", ours / 1e9,
                                   "G", f"as dlwa computes them; {plain / 1e9:.2f} G as plain "
                                   "convolutions (Magenta)"))
    size = 2048
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        rate = size ** 3 / median_seconds(partial(torch.mm, a, b), 5) / 1e9
        results.append(Measurement(f"CPU matrix product, {str(dtype).removeprefix('torch.')}",
                                   rate, "G multiply-adds per s",
                                   f"torch.mm {size} × {size}, {torch.get_num_threads()} "
                                   "threads, median of 5"))
    return results


@benchmark("gansynth")
def ganspace_pca() -> list[Measurement]:
    """GANSpace: recording ``conv0`` and fitting the incremental PCA, per 1,000 latents."""
    from dlwa.gansynth.ganspace import fit
    from dlwa.gansynth.model import load_model

    model, checkpoint = load_model("all_instruments")
    samples = 4096
    fit(model, samples=512, n_components=64, batch_size=512)  # warm-up
    start = time.perf_counter()
    space = fit(model, samples=samples, n_components=64, batch_size=512)
    seconds = time.perf_counter() - start
    shape = "x".join(map(str, space.global_mean.shape))
    return [Measurement(f"GANSpace PCA of {checkpoint.name} conv0", 1000 * seconds / samples,
                        "s per 1,000 latents", f"{samples} latents, 64 components of a {shape} "
                        "layer, batches of 512 (scikit-learn IncrementalPCA)")]


@benchmark("gansynth")
def hallu_render() -> list[Measurement]:
    """A HALLU path of 16 steps (4 interpolated points between each: 76 notes), rendered
    as ``hallucinate_noz`` does, with the shipped model and its GANSpace."""
    from pathlib import Path

    from dlwa.gansynth.ganspace import PCA_FILE, GANSpace, synthesize_edited
    from dlwa.gansynth.generate import NoteShape, combine_notes
    from dlwa.gansynth.model import load_model
    from dlwa.pd.halluseq import path_points

    model, checkpoint = load_model("all_instruments")
    space = GANSpace.load(Path(checkpoint.path) / PCA_FILE)
    rng = np.random.default_rng(0)
    points = path_points([rng.standard_normal(8) for _ in range(16)], 4, space.n_components)
    pitch = sorted(model.config.pitches)[len(model.config.pitches) // 2]
    start = time.perf_counter()
    notes = synthesize_edited(model, space, [pitch] * len(points), points, batch_size=1)
    audio = combine_notes(notes, sample_rate=model.config.sample_rate, spacing=0.4,
                          shape=NoteShape(0.0, 0.5, 0.5, 0.5))
    seconds = time.perf_counter() - start
    return [Measurement("HALLU render, 16 steps", seconds, "s",
                        f"{len(points)} notes (4 between steps), {len(audio) / 16000:.1f} s "
                        f"of sound, batch 1, {checkpoint.name}")]
