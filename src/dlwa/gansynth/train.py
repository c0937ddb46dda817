"""Train GANSynth on a folder of notes (``dlwa train gansynth``), as Magenta's GANSynth does.

**Losses** (Magenta's ``gansynth/lib/model.py`` with tfgan's losses): WGAN-GP. The
discriminator minimises ``mean D(fake) - mean D(real)`` + 10 · gradient penalty (the norm of
``∂D/∂x`` at random points between real and fake, pulled to 1) + 0.001 · ``mean D(real)²``
(the real-score penalty) + ``discriminator_ac_loss_weight`` · the pitch classifier's cross
entropy on the real notes. The generator minimises ``-mean D(fake)`` +
``generator_ac_loss_weight`` · the classifier's cross entropy on its own notes for the pitches
it was asked for. Both weights are 10, as in Magenta's configs. Adam, learning rate 8e-4,
betas (0, 0.99), one discriminator and one generator step per batch. The generator that is
saved is the exponential moving average (decay 0.999) of the trained one, as Magenta's,
with TensorFlow's warm-up counted per block (:func:`ema_decays`), so that short runs save
trained blocks rather than averages still full of their initial weights.

**Schedule** (Magenta's ``compute_progress``): for each resolution a *stable* phase at that
resolution, then a *transition* phase in which the next block fades in (``progress`` goes
from ``k`` to ``k + 1``), the real notes blended between the two resolutions the same way;
the last resolution's stable phase runs to the end. All phases have the same number of
images, sized from a total budget; the last gets twice as many (Magenta's ``mel_prog_hires``
gives its last stage 11 M − 10.4 M = 0.6 M images more than the others' 0.8 M). See
:class:`Schedule`. By default the budget is ``DEFAULT_PASSES`` passes over the data per phase.

**Data**: :func:`dlwa.gansynth.data.load_notes` once, every note turned into its spectrogram
once and normalised with a normaliser fitted on all of them (Magenta's computed
``specgrams_simple_normalizer``: each channel's minimum and maximum map to ∓0.8; the
pre-specified normaliser keeps Magenta's numbers), kept in memory at the final resolution;
a batch is notes drawn uniformly with their pitch labels, box-downscaled to the resolution
being trained. The generator's pitches are drawn from the data's pitch distribution.

**Output** (``--out``): a dlwa checkpoint of kind ``gansynth`` holding the *generator* (its
moving average) and the normaliser, no discriminator. The discriminator is only needed to
train and is as large as the generator; Magenta's full ``all_instruments`` generator alone is
29 MB in float32, so a whole-model checkpoint (58 MB at that size) could never meet the
25 MB limit, while generator-only checkpoints of the ``small`` preset do. The discriminator,
the training generator and both optimisers live in ``train_state.pt`` (for ``--resume``),
which a shipped model leaves out. Also written: ``train_log.jsonl`` (one JSON line every
``log_every`` steps) and ``preview/<images>_<pitch>.wav`` (fixed z and pitches, at every save).
A checkpoint saved before the schedule's end has ``training.complete`` false: its highest
blocks are not trained yet.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from dlwa.checkpoints import CheckpointError, save_checkpoint
from dlwa.gansynth.data import Chop, Label, NoteSet, load_notes
from dlwa.gansynth.model import (
    KIND,
    NORMALIZERS,
    GANSynth,
    GANSynthConfig,
    downscale,
    generator_alpha,
    harmonic_maps,
    upscale,
)
from dlwa.training import (
    OutputFolderError,
    check_output,
    check_same_config,
    fresh_output,
    save_state,
)
from dlwa.training.distributed import choose_device
from dlwa.training.logs import LOG_FOLDER, TrainLog

STATE_FILE = "train_state.pt"
LOG_FILE = "train_log.jsonl"
PREVIEW_DIR = "preview"
DEFAULT_PASSES = 10  # passes over the data per phase when no image budget is given
GP_EPSILON = 1.0e-10  # tfgan's wasserstein_gradient_penalty epsilon
PREVIEW_SEED = 1234

Log = Callable[[str], None]


def preset(name: str) -> GANSynthConfig:
    """A named model configuration for ``--config``; pitches come from the data.

    ``full`` is Magenta's ``mel_prog_hires`` (the released ``all_instruments``: 14.1 M
    parameters, a 29 MB generator); ``small`` keeps its data shape (mel, 16 kHz, 64,000
    samples, ``[128, 1024]`` spectrograms) with a latent of 128 and filters
    ``min(1024 / 2^block, 64)`` (64 up to block 4, then 32, 16, 8 at ``[128, 1024]``), which
    trains on a CPU (2 cores: about 0.02–0.24 s per step of 8 up to block 4, then 0.6, 1.5
    and 3.7 s) and saves a generator under 3 MB. Both fit their normaliser on the data.

    Raises:
        ValueError: an unknown name.
    """
    if name == "full":
        return GANSynthConfig(data_normalizer=NORMALIZERS[1])
    if name == "small":
        return GANSynthConfig(latent_vector_size=128, fmap_base=1024, fmap_max=64,
                              data_normalizer=NORMALIZERS[1])
    raise ValueError(f"unknown GANSynth config {name!r}; use small or full")


PRESETS: tuple[str, ...] = ("small", "full")


@dataclass
class TrainConfig:
    """Training settings (the model's own are in :class:`GANSynthConfig`).

    Attributes:
        images: total images (notes) shown to the discriminator; ``None`` sizes it from
            the data (``DEFAULT_PASSES`` passes per phase).
        batch_size: notes per step (Magenta: 8 at the final resolution).
        learning_rate: Adam's rate for both networks (Magenta: 8e-4).
        betas: Adam's betas (Magenta: 0 and 0.99).
        gradient_penalty_weight: WGAN-GP weight (10).
        real_score_penalty_weight: weight of ``mean D(real)²`` (0.001).
        generator_ac_loss_weight: pitch-classifier loss weight for the generator (10).
        discriminator_ac_loss_weight: pitch-classifier loss weight for the discriminator (10).
        ema_decay: decay of the generator's moving average, the saved generator (0.999).
        minutes: stop (and save) after this much wall-clock time; ``--resume`` continues.
        save_every: images between saves (checkpoint, state, preview); ``None``: 20 per run.
        log_every: steps between log lines.
        seed: random seed (weights, batches, z).
        n_threads: torch threads; ``None`` leaves torch's default.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when there is
            one). The batches and latents are drawn on the CPU, so a seed gives the same
            sequence on any device.
        smoke_test: one step of batch 2 in every phase, to check data and pipeline quickly.
        schedule: ``"magenta"`` (equal phases from the first resolution) or ``"cpu"``
            (:func:`cpu_phase_weights`: four blocks from the start, most images at
            16 × 128, a short growth to the top).
        classifier_warmup: steps that train only the discriminator's pitch classifier on
            real notes before the GAN starts, so that the generator's pitch loss means
            something from its first step (Magenta: 0).
        harmonic_loss_weight: weight of :func:`harmonic_loss` in the generator's loss
            (Magenta: 0; it learns its pitches through the classifier alone).
        pitch_sampling: the generated notes' pitches, ``"data"`` (as the real notes'; Magenta)
            or ``"uniform"`` (:func:`draw_fake_labels`).
        progress_bar: show a tqdm bar with the ETA on stderr.
        force: replace the model or run in the output folder.
        logdir: TensorBoard folder (default ``<out>/logs``).
    """

    images: int | None = None
    batch_size: int = 8
    learning_rate: float = 8e-4
    betas: tuple[float, float] = (0.0, 0.99)
    gradient_penalty_weight: float = 10.0
    real_score_penalty_weight: float = 0.001
    generator_ac_loss_weight: float = 10.0
    discriminator_ac_loss_weight: float = 10.0
    ema_decay: float = 0.999
    minutes: float | None = None
    save_every: int | None = None
    log_every: int = 10
    seed: int = 0
    n_threads: int | None = None
    device: str = "auto"
    smoke_test: bool = False
    progress_bar: bool = True
    force: bool = False
    logdir: str | None = None
    schedule: str = "magenta"
    classifier_warmup: int = 0
    harmonic_loss_weight: float = 0.0
    pitch_sampling: str = "data"


@dataclass(frozen=True)
class DataOptions:
    """How :func:`load_notes` reads the folder (see :mod:`dlwa.gansynth.data`)."""

    label: Label = "name"
    chop: Chop = "fixed"
    hop_length: int | None = None
    tracker: str = "yin"
    instrument_sources: tuple[str, ...] | None = None
    strict: bool = True


# -- schedule ----------------------------------------------------------------------------


# Share of the images each phase gets in the ``cpu`` schedule (7 resolutions): S1 T2 S2 T3
# S3 T4 S4 T5 S5 T6 S6 T7 S7. Blocks 1-4 start together (a VALID 2 x 16 input upscaled
# three times trains in well under a second per step), and most of the run stays at
# 16 x 128, where a step costs a tenth of one at 128 x 1024: pitch is already set there
# (real notes cut to 16 x 128 and blown up again keep their pitch: 53 of 60 within 50
# cents), and on two CPU cores the pitch conditioning needs thousands of steps to take hold.
CPU_START_BLOCKS = 4
CPU_START_WEIGHT = 80.0
CPU_GROWTH_WEIGHTS = ((4.0, 8.0), (2.4, 1.6), (0.8, 0.4))  # (transition, stable) per block
SCHEDULES: tuple[str, ...] = ("magenta", "cpu")
PITCH_SAMPLINGS: tuple[str, ...] = ("data", "uniform")


def cpu_phase_weights(num_resolutions: int) -> list[float]:
    """The ``cpu`` schedule's phase weights (the module's comment says why)."""
    start = min(CPU_START_BLOCKS, num_resolutions)
    weights = [0.0] * (2 * start - 2) + [CPU_START_WEIGHT]
    for index in range(num_resolutions - start):
        weights += CPU_GROWTH_WEIGHTS[min(index, len(CPU_GROWTH_WEIGHTS) - 1)]
    return weights


@dataclass(frozen=True)
class Schedule:
    """A progressive schedule in images: stable, transition, stable, …, stable.

    Phase ``2k`` (``k = 0 … R - 2``) trains ``k + 1`` blocks at ``progress = k``; phase
    ``2k + 1`` trains ``k + 2`` blocks while ``progress`` rises linearly from ``k`` to
    ``k + 1``; the last phase trains all ``R`` blocks at ``progress = R - 1`` until
    ``total_images``. Magenta's phases all have the same length (``stable_images``,
    ``transition_images``); ``phase_images``, when given, sets each of the ``2R - 1``
    phases' lengths instead (0 skips a phase; the last runs to ``total_images``).
    """

    num_resolutions: int
    stable_images: int
    transition_images: int
    total_images: int
    phase_images: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.phase_images and len(self.phase_images) != 2 * self.num_resolutions - 1:
            raise ValueError(f"phase_images needs {2 * self.num_resolutions - 1} phases for "
                             f"{self.num_resolutions} resolutions, got {len(self.phase_images)}")

    @classmethod
    def sized(cls, num_resolutions: int, total_images: int, batch_size: int) -> Schedule:
        """Equal phases in ``total_images``, the last one twice as long (at least a batch each).

        Raises:
            ValueError: a count that is not positive.
        """
        _check_counts(num_resolutions, total_images, batch_size)
        n_phases = 2 * num_resolutions - 1
        phase = max(batch_size, total_images // (n_phases + 1))
        return cls(num_resolutions, phase, phase, max(total_images, n_phases * phase))

    @classmethod
    def weighted(cls, num_resolutions: int, total_images: int, batch_size: int,
                 weights: Sequence[float]) -> Schedule:
        """Phases sharing ``total_images`` in proportion to ``weights`` (one per phase), each
        phase with a positive weight rounded to whole batches (at least one).

        Raises:
            ValueError: a count that is not positive, or weights that do not fit.
        """
        _check_counts(num_resolutions, total_images, batch_size)
        if len(weights) != 2 * num_resolutions - 1 or min(weights) < 0 or weights[-1] <= 0:
            raise ValueError(f"need {2 * num_resolutions - 1} phase weights, none negative and "
                             f"the last positive, got {list(weights)}")
        scale = total_images / sum(weights)
        phases = tuple(0 if w == 0 else batch_size * max(1, round(w * scale / batch_size))
                       for w in weights)
        return cls(num_resolutions, 0, 0, sum(phases), phases)

    @property
    def phase_lengths(self) -> tuple[int, ...]:
        """Images in each of the ``2R - 1`` phases, the last running to ``total_images``."""
        lengths = self._lengths
        return (*lengths[:-1], self.total_images - sum(lengths[:-1]))

    @property
    def _lengths(self) -> tuple[int, ...]:
        if self.phase_images:
            return self.phase_images
        uniform = (self.stable_images, self.transition_images) * (self.num_resolutions - 1)
        return (*uniform, max(0, self.total_images - sum(uniform)))

    def _phase_start(self, index: int) -> int:
        return sum(self._lengths[:index])

    @property
    def final_start(self) -> int:
        """Images after which all blocks train at full progress."""
        return self._phase_start(2 * self.num_resolutions - 2)

    def at(self, images: int) -> tuple[int, float]:
        """``(num_blocks, progress)`` after ``images`` images."""
        start = 0
        for index, length in enumerate(self._lengths[:-1]):
            if max(0, images) < start + length:
                k, transition = divmod(index, 2)
                if not transition:
                    return k + 1, float(k)
                return k + 2, k + (images - start) / length
            start += length
        return self.num_resolutions, float(self.num_resolutions - 1)

    def block_start(self, block_id: int) -> int:
        """Images after which block ``block_id`` (1-based) starts training: 0 for block 1,
        else the start of the transition that fades it in."""
        if block_id <= 1:
            return 0
        return self._phase_start(2 * block_id - 3)

    def phase(self, images: int) -> str:
        """``"stable <res>"`` or ``"transition <res>"`` (resolution = blocks, 1-based)."""
        num_blocks, progress = self.at(images)
        kind = "stable" if progress == num_blocks - 1 else "transition"
        return f"{kind} {num_blocks}/{self.num_resolutions}"

    def work(self, images: int, cost: Callable[[int], float]) -> float:
        """Cost of the first ``images`` images, ``cost(num_blocks)`` per image (for the ETA)."""
        total, start = 0.0, 0
        lengths = self._lengths
        for index, length in enumerate(lengths):
            end = self.total_images if index == len(lengths) - 1 else start + length
            blocks = index // 2 + 1 + index % 2
            total += max(0, min(images, end) - start) * cost(blocks)
            start = end
        return total + max(0, images - start) * cost(self.num_resolutions)


def _check_counts(num_resolutions: int, total_images: int, batch_size: int) -> None:
    if num_resolutions < 1 or total_images < 1 or batch_size < 1:
        raise ValueError(f"need a positive number of resolutions, images and batch size, "
                         f"got {num_resolutions}, {total_images}, {batch_size}")


def step_cost(config: GANSynthConfig, num_blocks: int) -> float:
    """Relative cost of one image with ``num_blocks`` blocks, for the ETA: Σ pixels · filters
    over the blocks in use. On a CPU the time per step follows the activations' size more
    than the multiply-adds (measured for ``small``: 0.6, 1.5, 3.7 s per step of 8 with 5, 6,
    7 blocks; this model says 1 : 2.2 : 4.7)."""
    h, w = config.start_height, config.start_width
    return float(sum(h * w * 4 ** (b - 1) * config.num_filters(b)
                     for b in range(1, num_blocks + 1)))


# -- data --------------------------------------------------------------------------------


def notes_to_specgrams(notes: NoteSet, model: GANSynth, *, fit: bool, batch: int = 32
                       ) -> torch.Tensor:
    """All notes → normalised spectrograms ``[n, 2, n_time, n_freq]`` (float32).

    With ``fit`` the model's normaliser is first fitted on these notes (a simple or
    per-frequency normaliser) or set to Magenta's numbers (the pre-specified one).
    """
    transform = model.config.transform()
    specgrams = torch.cat([
        transform.audio_to_specgram(torch.from_numpy(notes.audio[i:i + batch]).float())
        for i in range(0, len(notes), batch)])
    if fit:
        if model.config.data_normalizer == NORMALIZERS[0]:
            model.normalizer.set_prespecified()
        else:
            model.normalizer.fit(specgrams)
    for i in range(0, len(specgrams), batch):
        specgrams[i:i + batch] = model.normalizer.normalize(specgrams[i:i + batch])
    return specgrams


def blend_real(images: torch.Tensor, num_blocks: int, progress: float) -> torch.Tensor:
    """Real images at block ``num_blocks``' resolution blended across resolutions as the
    generator's output is (Magenta's ``blend_images``)."""
    out: torch.Tensor | None = None
    for block_id in range(1, num_blocks + 1):
        alpha = generator_alpha(block_id, progress)
        if alpha > 0.0:
            factor = 2 ** (num_blocks - block_id)
            image = upscale(downscale(images, factor), factor) * alpha
            out = image if out is None else out + image
    assert out is not None
    return out


# -- the harmonic loss --------------------------------------------------------------------


# How sharply partial_frequency weights a note's loud frames: e^(2 · 4) between the loudest
# and the quietest of a normalised log magnitude in [-1, 1].
PARTIAL_WEIGHT_SHARPNESS = 4.0


def partial_frequency(images: torch.Tensor) -> torch.Tensor:
    """Each frequency bin's instantaneous frequency averaged over time, weighted by the
    bin's loudness in each frame: normalised ``[batch, 2, time, width]`` → ``[batch, width]``.

    A steady partial has one instantaneous frequency, set by its frequency (within
    ``sample_rate / hop``), so in-tune notes of one pitch share these values at its
    harmonics whatever the instrument. A plain time average would mostly measure the
    frames where the bin is silent, whose phase is noise. The weights are not
    differentiated: the loss moves the frequency, not the loudness.
    """
    weights = torch.exp(PARTIAL_WEIGHT_SHARPNESS * images[:, 0].detach().float())
    weighted = (images[:, 1].float() * weights).sum(1) / weights.sum(1)
    return weighted.to(images.dtype)


@dataclass(frozen=True)
class HarmonicTargets:
    """Per frequency width (each resolution's): the pitches' harmonic maps and the real
    notes' :func:`partial_frequency`, both ``[n_pitches, width]``."""

    maps: dict[int, torch.Tensor]
    if_profiles: dict[int, torch.Tensor]


def harmonic_targets(config: GANSynthConfig, specgrams: torch.Tensor, labels: torch.Tensor
                     ) -> HarmonicTargets:
    """The targets of :func:`harmonic_loss` at every resolution, from the normalised real
    notes ``specgrams`` ``[n, 2, time, freq]`` and their pitch classes ``labels``.

    A pitch without notes gets an IF profile of zeros (the loss then only asks for energy
    at its harmonics)."""
    maps, profiles = {}, {}
    for level in range(config.num_resolutions):
        factor = 2 ** (config.num_resolutions - 1 - level)
        width = config.final_resolution[1] // factor
        maps[width] = harmonic_maps(config, width).to(specgrams.device)
        sums = torch.zeros(config.n_pitches, width, device=specgrams.device)
        counts = torch.zeros(config.n_pitches, device=specgrams.device)
        for i in range(0, len(specgrams), 64):
            mean_if = partial_frequency(downscale(specgrams[i:i + 64], factor))  # [n, width]
            sums.index_add_(0, labels[i:i + 64], mean_if)
            counts.index_add_(0, labels[i:i + 64], torch.ones(len(mean_if),
                                                               device=specgrams.device))
        profiles[width] = sums / counts.clamp(min=1)[:, None]
    return HarmonicTargets(maps, profiles)


def harmonic_loss(images: torch.Tensor, one_hot: torch.Tensor, targets: HarmonicTargets
                  ) -> torch.Tensor:
    """How far notes are from having the asked-for pitch at its harmonics.

    Two terms over the frequency bins that :func:`harmonic_maps` marks for the pitch (the
    notes' time average): minus the contrast of the normalised log magnitude there against
    the other bins (real notes: about 0.12 with their own pitch, 0 with another), plus the
    mean distance of the :func:`partial_frequency` there from the real notes' of that pitch
    (it sets where in its band a partial lies, so the pitch to within cents; it does not
    depend on the instrument). The generator learns its pitches from this directly; the
    discriminator's classifier also reads timbre, which goes with pitch range in
    instrument data, and a CPU-length run satisfied it with the wrong pitches.

    Args:
        images: Normalised spectrograms [batch, 2, time, width] at one of the resolutions.
        one_hot: The pitches asked for [batch, n_pitches].
        targets: :func:`harmonic_targets` of the training notes.
    """
    width = images.shape[-1]
    dtype = images.dtype
    where = one_hot.to(dtype) @ targets.maps[width].to(dtype)  # [batch, width]
    marked = where.sum(-1).clamp(min=1e-6)
    profile = images[:, 0].mean(1)
    inside = (profile * where).sum(-1) / marked
    outside = (profile * (1 - where)).sum(-1) / (1 - where).sum(-1).clamp(min=1e-6)
    target_if = one_hot.to(dtype) @ targets.if_profiles[width].to(dtype)
    if_error = (partial_frequency(images) - target_if).abs()
    return (outside - inside + (if_error * where).sum(-1) / marked).mean()


# -- one step ----------------------------------------------------------------------------


def ema_decays(schedule: Schedule, images: int, batch_size: int, decay: float, *,
               n_blocks: int | None = None) -> list[float]:
    """The moving average's decay for each generator block after ``images`` images.

    TensorFlow's ``ExponentialMovingAverage(decay, num_updates)`` warm-up,
    ``min(decay, (1 + n) / (10 + n))``, with ``n`` the steps since *that block* started
    training: a block's average follows it closely at first. A fixed 0.999 remembers about
    1000 steps, so in a short run (a few hundred steps per phase) the saved generator's
    newest blocks would still be mostly their random initial weights. ``n_blocks`` (default:
    the schedule's) pads the list with 1.0 for blocks the schedule never grows to
    (``GANSynthConfig.grown_blocks``): they never train, so their averages stay.
    """
    out = []
    for block_id in range(1, schedule.num_resolutions + 1):
        n = max(0, images - schedule.block_start(block_id)) // batch_size
        out.append(min(decay, (1.0 + n) / (10.0 + n)))
    return out + [1.0] * ((n_blocks or schedule.num_resolutions) - len(out))


def training_step(model: GANSynth, ema: torch.nn.Module, opt_g: torch.optim.Optimizer,
                  opt_d: torch.optim.Optimizer, real: torch.Tensor, labels: torch.Tensor,
                  fake_labels: torch.Tensor, *, num_blocks: int, progress: float,
                  cfg: TrainConfig, generator: torch.Generator | None = None,
                  block_decays: Sequence[float] | None = None,
                  targets: HarmonicTargets | None = None) -> dict[str, float]:
    """One discriminator and one generator step; returns the losses.

    Args:
        model: Generator and discriminator to train.
        ema: The generator's moving average, updated after the generator step.
        opt_g: Adam over the generator.
        opt_d: Adam over the discriminator.
        real: Normalised real spectrograms at the final resolution [batch, 2, time, freq].
        labels: Their pitch classes [batch].
        fake_labels: Pitch classes for the generated notes [batch].
        num_blocks: Blocks in use.
        progress: Magenta's progress.
        cfg: Loss weights and the EMA decay.
        generator: Random source for z and the penalty's mixing weights.
        block_decays: The moving average's decay per block (:func:`ema_decays`); ``None``:
            ``cfg.ema_decay`` for all.
        targets: For :func:`harmonic_loss` (needed when ``cfg.harmonic_loss_weight > 0``).
    """
    config = model.config
    gen, disc = model.generator, model.discriminator
    batch = real.shape[0]
    level_factor = 2 ** (config.num_resolutions - num_blocks)
    real = blend_real(downscale(real, level_factor), num_blocks, progress)
    one_hot = F.one_hot(fake_labels, config.n_pitches).float()
    stage = {"num_blocks": num_blocks, "progress": progress}

    def z() -> torch.Tensor:  # drawn on the CPU, so a seed gives the same run anywhere
        return torch.randn(batch, config.latent_vector_size, generator=generator).to(real.device)

    # Discriminator.
    disc.requires_grad_(True)
    with torch.no_grad():
        fake = gen(z(), one_hot, full_resolution=False, **stage)
    real_logits, real_classes = disc(real, **stage)
    fake_logits, _ = disc(fake, **stage)
    mix = torch.rand(batch, 1, 1, 1, generator=generator).to(real.device)
    between = (mix * real + (1.0 - mix) * fake).requires_grad_(True)
    between_logits, _ = disc(between, **stage)
    (grad,) = torch.autograd.grad(between_logits.sum(), between, create_graph=True)
    grad_norm = torch.sqrt(grad.pow(2).sum(dim=(1, 2, 3)) + GP_EPSILON)
    penalty = (grad_norm - 1.0).pow(2).mean()
    wasserstein = fake_logits.mean() - real_logits.mean()
    real_score = real_logits.pow(2).mean()
    real_ac = F.cross_entropy(real_classes, labels)
    d_loss = (wasserstein + cfg.gradient_penalty_weight * penalty
              + cfg.real_score_penalty_weight * real_score
              + cfg.discriminator_ac_loss_weight * real_ac)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    # Generator.
    disc.requires_grad_(False)
    fake = gen(z(), one_hot, full_resolution=False, **stage)
    fake_logits, fake_classes = disc(fake, **stage)
    fake_ac = F.cross_entropy(fake_classes, fake_labels)
    g_loss = -fake_logits.mean() + cfg.generator_ac_loss_weight * fake_ac
    harmonic = torch.zeros(())
    if cfg.harmonic_loss_weight > 0:
        if targets is None:
            raise ValueError("harmonic_loss_weight > 0 needs the harmonic targets")
        harmonic = harmonic_loss(fake, one_hot, targets)
        g_loss = g_loss + cfg.harmonic_loss_weight * harmonic
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    disc.requires_grad_(True)
    decays = block_decays or [cfg.ema_decay] * len(gen.blocks)
    with torch.no_grad():
        for decay, average_block, block in zip(decays, ema.blocks, gen.blocks, strict=True):
            for average, param in zip(average_block.parameters(), block.parameters(),
                                      strict=True):
                average.lerp_(param, 1.0 - decay)
    values = {"d_loss": d_loss, "g_loss": g_loss, "wasserstein": wasserstein,
              "gradient_penalty": penalty, "real_score": real_score, "real_ac": real_ac,
              "fake_ac": fake_ac, "harmonic": harmonic}
    return {name: float(value.detach()) for name, value in values.items()}


def warm_up_classifier(model: GANSynth, opt_d: torch.optim.Optimizer, specgrams: torch.Tensor,
                       labels: torch.Tensor, *, steps: int, batch_size: int, num_blocks: int,
                       progress: float, rng: np.random.Generator, log: Log = print
                       ) -> float:
    """Train the discriminator on its pitch classification of real notes alone.

    The generator learns its pitches only through this classifier's loss, which is noise
    until the classifier knows real pitches: on two CPU cores that took about 2,000 GAN
    steps, while these steps cost a third of one. Returns the last cross entropy.
    """
    level_factor = 2 ** (model.config.num_resolutions - num_blocks)
    loss = torch.zeros(())
    recent: list[float] = []
    for step in range(1, steps + 1):
        index = torch.from_numpy(rng.integers(0, len(specgrams), size=batch_size)).to(
            specgrams.device)
        real = blend_real(downscale(specgrams[index], level_factor), num_blocks, progress)
        _, classes = model.discriminator(real, num_blocks=num_blocks, progress=progress)
        loss = F.cross_entropy(classes, labels[index])
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        recent.append(float(loss.detach()))
        if step % 100 == 0 or step == steps:
            log(f"pitch classifier warm-up {step}/{steps}: cross entropy "
                f"{np.mean(recent):.3f}")
            recent = []
    return float(loss.detach())


def draw_fake_labels(labels: torch.Tensor, rng: np.random.Generator, batch_size: int,
                     sampling: str) -> torch.Tensor:
    """Pitch classes for a batch of generated notes.

    ``"data"`` (Magenta): as often as the real notes have them, so a pitch with few notes
    (the low bass notes of instrument sets) is rarely asked for. ``"uniform"``: every pitch
    the data has, equally often.
    """
    if sampling not in PITCH_SAMPLINGS:
        raise ValueError(f"pitch sampling must be one of {', '.join(PITCH_SAMPLINGS)}, "
                         f"got {sampling!r}")
    pool = torch.unique(labels) if sampling == "uniform" else labels
    return pool[torch.from_numpy(rng.integers(0, len(pool), size=batch_size)).to(pool.device)]


# -- the saved model ---------------------------------------------------------------------


def _export_state(model: GANSynth, ema: torch.nn.Module) -> dict[str, torch.Tensor]:
    state = {f"generator.{k}": v.detach().cpu().clone() for k, v in ema.state_dict().items()}
    state.update({f"normalizer.{k}": v.cpu().clone()
                  for k, v in model.normalizer.state_dict().items()})
    return state


def preview_pitches(pitches: Sequence[int], count: int = 4) -> list[int]:
    """Up to ``count`` of the model's pitches, spread over its range."""
    ordered = sorted(pitches)
    if len(ordered) <= count:
        return ordered
    return [ordered[round(i * (len(ordered) - 1) / (count - 1))] for i in range(count)]


@torch.no_grad()
def preview_audio(model: GANSynth, ema: torch.nn.Module, z: torch.Tensor,
                  pitches: Sequence[int], *, num_blocks: int, progress: float) -> np.ndarray:
    """Notes from the moving-average generator at the current stage, [n, audio_length]."""
    device = next(ema.parameters()).device
    one_hot = model.one_hot(pitches).to(device)
    images = ema(z.to(device), one_hot, num_blocks=num_blocks, progress=progress)
    audio = model.config.transform().specgram_to_audio(model.normalizer.denormalize(images))
    return np.nan_to_num(audio.cpu().numpy().astype(np.float32), nan=0.0, posinf=0.0,
                         neginf=0.0)


# -- fine-tuning -------------------------------------------------------------------------


@dataclass
class StartingPoint:
    """A trained model to fine-tune from (:func:`starting_point`).

    Attributes:
        path: Its checkpoint folder.
        config: Its config (the new run's).
        ema: The saved (moving-average) generator's weights.
        model: Generator, discriminator and normaliser from its ``train_state.pt``; ``None``
            for a bare checkpoint (the discriminator then starts anew).
        normalizer: Its normaliser's statistics.
    """

    path: Path
    config: GANSynthConfig
    ema: dict[str, torch.Tensor]
    model: dict[str, torch.Tensor] | None
    normalizer: dict[str, torch.Tensor]

    def load_into(self, model: GANSynth) -> None:
        """Copy the weights into ``model`` (raw generator = the average without a state)."""
        if self.model is not None:
            model.load_state_dict(self.model)
            return
        model.generator.load_state_dict(self.ema)
        model.normalizer.load_state_dict(self.normalizer)

    def describe(self) -> str:
        """One line for the log."""
        what = ("generator and discriminator" if self.model is not None else
                "generator only (no train_state.pt: a new discriminator)")
        return f"fine-tuning {self.path} at its top block: {what}"


def starting_point(name_or_path: str | os.PathLike[str]) -> StartingPoint:
    """Read a trained GANSynth (a name in ``checkpoints/`` or a folder) to fine-tune from.

    Raises:
        CheckpointError: not found, or not a GANSynth checkpoint (one line).
    """
    from dlwa.gansynth.model import load_model

    loaded, checkpoint = load_model(name_or_path)
    if loaded.progress is not None and loaded.progress < loaded.config.blocks - 1:
        raise CheckpointError(f"{checkpoint.path}: a run stopped while still growing (at "
                              f"progress {loaded.progress:g}); --resume it instead")
    ema = {k: v.clone() for k, v in loaded.generator.state_dict().items()}
    normalizer = {k: v.clone() for k, v in loaded.normalizer.state_dict().items()}
    model = None
    state_path = checkpoint.path / STATE_FILE
    if state_path.is_file():
        state = torch.load(state_path, weights_only=False, map_location="cpu")
        saved = state.get("model_config")
        if isinstance(saved, dict) and GANSynthConfig.from_dict(saved) == loaded.config:
            model = state["model"]
    return StartingPoint(checkpoint.path, loaded.config, ema, model, normalizer)


# -- training ----------------------------------------------------------------------------


def train(data_folder: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
          model_config: GANSynthConfig | str | None = None,
          train_config: TrainConfig | None = None, data: DataOptions | None = None,
          resume: bool = False, harmonic_map: bool = False,
          init_from: str | os.PathLike[str] | None = None, grown_blocks: int | None = None,
          log: Log = print) -> Path:
    """Train GANSynth on ``data_folder`` and write a checkpoint to ``out_dir``.

    Args:
        data_folder: An NSynth-style folder or any folder of audio (:func:`load_notes`).
        out_dir: New or empty folder; with ``resume`` one holding an unfinished run.
        model_config: A preset name (``"small"``, ``"full"``; the pitches are the data's)
            or a config (its pitches are the model's: notes outside them are problems).
            ``None``: ``"small"``, or the resumed run's own.
        train_config: Training settings.
        data: How to read the folder.
        resume: Continue the run in ``out_dir`` (same model configuration).
        harmonic_map: Give a preset's generator the harmonic map input
            (``GANSynthConfig.harmonic_map``); a given or resumed config keeps its own.
        init_from: Fine-tune: start from this trained model (a checkpoint name such as
            ``all_instruments``, or a checkpoint or run folder) with its config, pitches and
            normaliser, and train every image at its top block (``config.blocks``;
            ``cfg.schedule`` does not apply). A run folder's ``train_state.pt`` also gives
            the discriminator and the generator's raw weights; a bare checkpoint starts a new
            discriminator.
        grown_blocks: Sets ``GANSynthConfig.grown_blocks`` of a new run's config (a
            preset's, a given one's or ``init_from``'s; 0: all blocks); ``None`` keeps the
            config's own.
        log: Called with each progress line.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        OutputFolderError: ``out_dir`` cannot be used (nothing is written then).
        DataError: the folder's problems, one line each.
        CheckpointError: ``init_from`` is not a GANSynth model, or ``grown_blocks`` is not
            one its config can have.
        ValueError: ``init_from`` with ``resume`` or a ``model_config``.
    """
    cfg = train_config or TrainConfig()
    data = data or DataOptions()
    device = choose_device(cfg.device)  # before anything is written
    start: StartingPoint | None = None
    if init_from is not None:
        if resume or model_config is not None:
            raise ValueError("--init-from starts a new run from a model's own config: leave "
                             "out --resume and --config")
        start = starting_point(init_from)
        model_config = start.config
    out = check_output(out_dir, kind=KIND, state_file=STATE_FILE, resume=resume,
                       force=cfg.force)
    if cfg.n_threads is not None:
        torch.set_num_threads(cfg.n_threads)
    state: dict[str, Any] | None = None
    if resume:
        state = torch.load(out / STATE_FILE, weights_only=False, map_location="cpu")
        saved = GANSynthConfig.from_dict(state["model_config"])
        if isinstance(model_config, GANSynthConfig):
            check_same_config(saved.to_dict(), model_config.to_dict(), where=out)
        elif isinstance(model_config, str):
            asked = replace(preset(model_config), pitches=saved.pitches,
                            mel_bands=saved.mel_bands, harmonic_map=saved.harmonic_map,
                            grown_blocks=saved.grown_blocks)
            check_same_config(saved.to_dict(), asked.to_dict(), where=out)
        if cfg.images is not None and cfg.images != state["train"]["images"]:
            raise OutputFolderError(
                f"--resume: {out} holds a run of {state['train']['images']} images, not "
                f"{cfg.images}: leave out --images to continue it")
        model_config = saved
        log(f"resuming {out} at {state['images']:,} images")
    # A preset takes the data's pitches; a given (or resumed) config keeps its own.
    fixed_pitches = isinstance(model_config, GANSynthConfig)
    if model_config is None or isinstance(model_config, str):
        model_config = replace(preset(model_config or "small"), harmonic_map=harmonic_map)
    if grown_blocks is not None and state is None:  # checked as a saved config is
        model_config = GANSynthConfig.from_dict({**model_config.to_dict(),
                                                 "grown_blocks": grown_blocks})

    def data_progress(stage: str, done: int, total: int) -> None:
        if done == total:
            log(f"{stage}: {done}/{total}")

    with fresh_output(out, resume=resume, force=cfg.force):
        notes = load_notes(
            data_folder, sample_rate=model_config.sample_rate,
            n_samples=model_config.audio_length,
            pitches=model_config.pitches if fixed_pitches else None, label=data.label,
            chop=data.chop, hop_length=data.hop_length, tracker=data.tracker,
            instrument_sources=data.instrument_sources, strict=data.strict,
            progress=data_progress)
    if not fixed_pitches:
        model_config = replace(model_config, pitches=tuple(notes.pitches))
    config: GANSynthConfig = model_config
    log(notes.summary())
    missing = sorted(set(config.pitches) - set(notes.pitches))
    if missing:
        what = ("is not trained on them here (what it knew of them may drift)" if start is not None
                else "will not learn them")
        log(f"warning: no notes of pitch {', '.join(map(str, missing))}: the model {what}")

    torch.manual_seed(cfg.seed)
    model = GANSynth(config)
    if state is not None:
        model.load_state_dict(state["model"])
    elif start is not None:
        start.load_into(model)
        log(start.describe())
    log(f"converting {len(notes)} notes to spectrograms {config.final_resolution}")
    specgrams = notes_to_specgrams(notes, model, fit=state is None and start is None)
    labels = model.pitch_labels(notes.pitch).to(device)
    specgrams = specgrams.to(device)
    model.to(device)
    targets = (harmonic_targets(config, specgrams, labels) if cfg.harmonic_loss_weight > 0
               else None)

    batch_size = 2 if cfg.smoke_test else cfg.batch_size
    if state is not None:
        schedule = Schedule(**state["schedule"])
        batch_size = int(state["train"]["batch_size"])
    elif cfg.smoke_test:
        schedule = Schedule.sized(config.blocks, 2 * config.blocks * batch_size, batch_size)
    else:  # the schedule grows to config.blocks (grown_blocks, or all)
        images = cfg.images or (2 * config.blocks * DEFAULT_PASSES * len(notes))
        if start is not None:  # already grown: every image at the top
            images = cfg.images or 2 * DEFAULT_PASSES * len(notes)
            weights = [0.0] * (2 * config.blocks - 2) + [1.0]
        elif cfg.schedule == "cpu":
            weights = cpu_phase_weights(config.blocks)
        else:
            weights = []
        schedule = (Schedule.weighted(config.blocks, images, batch_size, weights)
                    if weights else Schedule.sized(config.blocks, images, batch_size))
    save_every = (schedule.total_images if cfg.smoke_test else
                  cfg.save_every or max(batch_size, schedule.total_images // 20))

    ema = copy.deepcopy(model.generator).requires_grad_(False)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=cfg.learning_rate,
                             betas=cfg.betas)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=cfg.learning_rate,
                             betas=cfg.betas)
    rng = np.random.default_rng(cfg.seed)
    torch_rng = torch.Generator().manual_seed(cfg.seed)
    images, step = 0, 0
    if start is not None:
        ema.load_state_dict(start.ema)
    if state is not None:
        ema.load_state_dict(state["ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        rng.bit_generator.state = state["rng"]
        torch_rng.set_state(state["torch_rng"])
        images, step = int(state["images"]), int(state["step"])
    n_g = sum(p.numel() for p in model.generator.parameters())
    n_d = sum(p.numel() for p in model.discriminator.parameters())
    log(f"model: generator {n_g:,} parameters ({4 * n_g / 1e6:.1f} MB saved), discriminator "
        f"{n_d:,}; {schedule.total_images:,} images of batch {batch_size} in "
        f"phases of {', '.join(f'{n:,}' for n in schedule.phase_lengths)}, on {device}")

    preview_z = torch.randn(len(preview_pitches(config.pitches)), config.latent_vector_size,
                            generator=torch.Generator().manual_seed(PREVIEW_SEED))
    training_info = {"data": os.fspath(data_folder), "n_notes": len(notes),
                     "batch_size": batch_size, "total_images": schedule.total_images}
    init_record = (os.fspath(start.path) if start is not None else
                   state["train"].get("init_from") if state is not None else None)
    if init_record is not None:  # a fine-tuning run, new or resumed
        training_info["init_from"] = init_record
    train_record = {**asdict(cfg), "images": schedule.total_images, "batch_size": batch_size}
    if "init_from" in training_info:
        train_record["init_from"] = training_info["init_from"]

    def save() -> None:
        num_blocks, progress = schedule.at(images)
        complete = images >= schedule.total_images
        save_checkpoint(out, KIND, config.to_dict(), _export_state(model, ema),
                        sample_rate=config.sample_rate,
                        training={**training_info, "images": images, "steps": step,
                                  "progress": progress, "complete": complete,
                                  "date": time.strftime("%Y-%m-%d")})
        save_state({"model": model.state_dict(), "ema": ema.state_dict(),
                    "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                    "images": images, "step": step, "rng": rng.bit_generator.state,
                    "torch_rng": torch_rng.get_state(), "model_config": config.to_dict(),
                    "schedule": asdict(schedule), "train": train_record}, out / STATE_FILE)
        pitches = preview_pitches(config.pitches)
        audio = preview_audio(model, ema, preview_z, pitches, num_blocks=num_blocks,
                              progress=progress)
        _write_preview(out / PREVIEW_DIR, images, pitches, audio, config.sample_rate)
        for pitch, note in zip(pitches[:2], audio[:2], strict=False):
            tb.audio(f"notes/pitch_{pitch}", step, note, config.sample_rate)
        tb.flush()

    tb = TrainLog(cfg.logdir or out / LOG_FOLDER)
    if state is None:
        if cfg.classifier_warmup > 0 and not cfg.smoke_test:
            num_blocks, progress = schedule.at(0)
            log(f"warming up the pitch classifier: {cfg.classifier_warmup} steps at "
                f"{num_blocks} blocks")
            warm_up_classifier(model, opt_d, specgrams, labels, steps=cfg.classifier_warmup,
                               batch_size=batch_size, num_blocks=num_blocks,
                               progress=progress, rng=rng, log=log)
        save()
    cost = functools.partial(step_cost, config)
    total_work = schedule.work(schedule.total_images, cost)
    bar = _progress_bar(cfg.progress_bar, 100.0 * schedule.work(images, cost) / total_work)
    start = time.monotonic()
    last_save = images
    recent: list[dict[str, float]] = []
    try:
        while images < schedule.total_images:
            num_blocks, progress = schedule.at(images)
            index = torch.from_numpy(rng.integers(0, len(specgrams), size=batch_size)).to(device)
            fake_labels = draw_fake_labels(labels, rng, batch_size, cfg.pitch_sampling)
            losses = training_step(model, ema, opt_g, opt_d, specgrams[index], labels[index],
                                   fake_labels, num_blocks=num_blocks,
                                   progress=progress, cfg=cfg, generator=torch_rng,
                                   block_decays=ema_decays(schedule, images, batch_size,
                                                           cfg.ema_decay,
                                                           n_blocks=config.num_resolutions),
                                   targets=targets)
            images += batch_size
            step += 1
            recent.append(losses)
            if bar is not None:
                bar.update(100.0 * schedule.work(images, cost) / total_work - bar.n)
            if step % cfg.log_every == 0 or images >= schedule.total_images:
                mean = {k: float(np.mean([r[k] for r in recent])) for k in recent[0]}
                recent = []
                line = {"step": step, "images": images, "phase": schedule.phase(images),
                        "num_blocks": num_blocks, "progress": round(progress, 4), **mean}
                _append_log(out / LOG_FILE, line)
                tb.scalars(step, {f"loss/{k}": v for k, v in mean.items()}
                           | {"learning_rate": cfg.learning_rate, "images": images,
                              "progress": progress})
                message = (f"{images:,}/{schedule.total_images:,} images, "
                           f"{schedule.phase(images)}: D {mean['d_loss']:.3f} "
                           f"G {mean['g_loss']:.3f}")
                if bar is not None:
                    bar.set_postfix_str(message, refresh=False)
                else:
                    log(message)
            if images - last_save >= save_every:
                save()
                last_save = images
            if cfg.minutes is not None and time.monotonic() - start > 60.0 * cfg.minutes:
                log(f"time limit of {cfg.minutes:g} min reached at {images:,} images: "
                    "saved; add --resume to continue")
                break
    except KeyboardInterrupt:
        save()
        log(f"interrupted at {images:,} images: saved; run the same command with --resume "
            "to continue")
        raise
    finally:
        if bar is not None:
            bar.close()
    if images != last_save:
        save()
    tb.close()
    log(f"wrote {out} ({images:,}/{schedule.total_images:,} images"
        f"{'' if images >= schedule.total_images else ', not finished'})")
    return out


def _progress_bar(enabled: bool, initial: float) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=100.0, initial=initial, file=sys.stderr, desc="gansynth", unit="%",
                bar_format="{desc} {percentage:3.0f}% |{bar}| [{elapsed}<{remaining}]{postfix}")


def _append_log(path: Path, line: dict[str, Any]) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def _write_preview(folder: Path, images: int, pitches: Sequence[int], audio: np.ndarray,
                   sample_rate: int) -> None:
    from dlwa.audio.io import save_audio

    folder.mkdir(parents=True, exist_ok=True)
    for pitch, note in zip(pitches, audio, strict=True):
        peak = float(np.max(np.abs(note))) if note.size else 0.0
        if peak > 0.9 or not math.isfinite(peak):
            note = note * (0.9 / peak) if peak > 0 and math.isfinite(peak) else note * 0
        save_audio(folder / f"{images:09d}_{pitch}.wav", note, sample_rate=sample_rate)
