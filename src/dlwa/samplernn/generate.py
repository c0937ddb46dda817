"""Generate audio with SampleRNN: batched sequences, temperatures, seeds that continue.

Generation walks through time frame by frame. At each big frame the big tier takes one
step over the last ``big_frame`` samples, at each frame the frame tier takes one step,
and inside a frame the sample MLP draws one code after another. The tiers keep their RNN
state between steps. The per-sample loop runs in a compiled kernel
(:mod:`dlwa.samplernn._fast`, built with the package) over the MLP's weights; without
it, a torch loop gives the same codes, slowly.

A seed is fed through the same walk with its own samples in place of drawn ones, so the
tiers' state holds the seed when the first new sample is drawn: the output continues it.
Without a seed, a tenth of a second of quiet noise is the seed (``PRIMER_S``): from digital
silence the shipped guitar model stays silent at every temperature.
Temperatures are one per sequence or an envelope over time (:mod:`dlwa.samplernn.envelope`).
Random draws come from a numpy generator (one uniform number per sample), so a seed
number gives the same audio every time, with the kernel or without.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dlwa.samplernn.model import SampleRNN, dequantize, quantize, silence_code

Progress = Callable[[int, int], None]
PRIMER_S = 0.1
PRIMER_RMS = 0.05
"""Without a seed, generation continues 0.1 s of quiet noise (not part of the output):
started from digital silence, a model that has heard silences keeps producing it."""


class GenerationStopped(Exception):
    """``interrupt`` asked generation to stop."""


@dataclass
class MLPWeights:
    """The sample MLP as contiguous float32 arrays, what the kernel reads."""

    tables: np.ndarray  # [frame_size, q_levels, dim]
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    wo: np.ndarray
    bo: np.ndarray

    @classmethod
    def of(cls, model: SampleRNN) -> MLPWeights:
        mlp = model.sample_mlp
        with torch.no_grad():
            def a(t: torch.Tensor) -> np.ndarray:
                return np.ascontiguousarray(t.detach().cpu().float().numpy())
            return cls(a(mlp.tables()), a(mlp.hidden1.weight), a(mlp.hidden1.bias),
                       a(mlp.hidden2.weight), a(mlp.hidden2.bias), a(mlp.outputs.weight),
                       a(mlp.outputs.bias))


@contextlib.contextmanager
def _without_onednn() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a notice about TF32 on Intel GPUs, not for us
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def _kernel():
    try:
        from dlwa.samplernn import _fast
    except ImportError:  # built without a C compiler: the torch loop
        return None
    return _fast


class Generator:
    """A loaded model ready to generate ``batch_size`` sequences at a time.

    Args:
        model: The model (put in eval mode).
        batch_size: Sequences generated together.
        use_kernel: Use the compiled per-sample loop when it is built.
    """

    def __init__(self, model: SampleRNN, batch_size: int = 1, *, use_kernel: bool = True
                 ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.model = model.eval()
        self.config = model.config
        self.batch_size = batch_size
        self.weights = MLPWeights.of(model)
        self.kernel = _kernel() if use_kernel else None

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def generate(self, n_samples: int, *, temperature: float | Sequence[float] | np.ndarray
                 = 1.0, seed: np.ndarray | None = None, rng: np.random.Generator | None = None,
                 progress: Progress | None = None,
                 interrupt: Callable[[], bool] | None = None) -> np.ndarray:
        """``n_samples`` new samples per sequence, float32 [batch, n_samples].

        Args:
            n_samples: New samples per sequence.
            temperature: One number for all; one per sequence [batch]; or per sample
                [batch, n_samples] (an envelope).
            seed: Audio [m] or [batch, m] at the model's rate the output continues
                (default: 0.1 s of quiet noise drawn from ``rng``).
            rng: Source of the uniform draws (a fresh one when None).
            progress: Called with (new samples done, n_samples) about ten times a second
                of audio.
            interrupt: Called between frames; True stops (raises GenerationStopped).
        """
        codes = self.generate_codes(n_samples, temperature=temperature, seed=seed, rng=rng,
                                    progress=progress, interrupt=interrupt)
        return dequantize(codes, self.config)

    def generate_codes(self, n_samples: int, *, temperature: float | Sequence[float]
                       | np.ndarray = 1.0, seed: np.ndarray | None = None,
                       rng: np.random.Generator | None = None,
                       progress: Progress | None = None,
                       interrupt: Callable[[], bool] | None = None) -> np.ndarray:
        """As :meth:`generate`, the codes [batch, n_samples] (int64).

        torch runs on one thread meanwhile: the frame tiers' steps are small, and a second
        thread only waits on the first (on a busy 2-core machine, 250 times slower). oneDNN
        is off too: its RNN repacks the weights at every call, which for one step at a time
        made the course's LSTM 1024 five times slower.
        """
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with _without_onednn():
                return self._generate_codes(n_samples, temperature=temperature, seed=seed,
                                            rng=rng, progress=progress, interrupt=interrupt)
        finally:
            torch.set_num_threads(threads)

    def _generate_codes(self, n_samples: int, *, temperature: float | Sequence[float]
                        | np.ndarray, seed: np.ndarray | None,
                        rng: np.random.Generator | None, progress: Progress | None,
                        interrupt: Callable[[], bool] | None) -> np.ndarray:
        cfg, batch = self.config, self.batch_size
        fs, big = cfg.frame_size, cfg.big_frame_size
        rng = rng or np.random.default_rng()
        temps = _temperatures(temperature, batch, n_samples)
        if seed is None:  # not digital silence: from it the models never wake up
            seed = PRIMER_RMS * rng.standard_normal(
                (batch, round(PRIMER_S * cfg.sample_rate))).astype(np.float32)
        seed_codes = self._seed_codes(seed)
        # Silence, then the seed, aligned so that the first new sample starts a big frame.
        n_known = big + seed_codes.shape[1]
        pad = (-n_known) % big
        n_known += pad
        total = n_known + n_samples + (-n_samples) % big
        history = np.full((batch, total), silence_code(cfg), dtype=np.int64)
        history[:, n_known - seed_codes.shape[1]:n_known] = seed_codes
        uniforms = rng.random((batch, total - n_known))
        temp_all = np.ones((batch, total - n_known))
        temp_all[:, :n_samples] = temps
        big_state = frame_state = None
        report_every = max(big, (cfg.sample_rate // 10) // big * big)
        with torch.inference_mode():
            for start in range(big, total, big):
                if interrupt is not None and interrupt():
                    raise GenerationStopped
                frames = torch.from_numpy(history[:, start - big:start]).float()
                big_out, big_state = self.model.big_frame_rnn.step(frames, None, big_state)
                for j in range(big // fs):
                    t0 = start + j * fs
                    frame = torch.from_numpy(history[:, t0 - fs:t0]).float()
                    frame_out, frame_state = self.model.frame_rnn.step(
                        frame, big_out[:, j], frame_state)
                    if t0 + fs <= n_known:
                        continue  # the seed: its samples are known
                    first = max(t0, n_known)
                    self._sample_frame(history, frame_out[:, first - t0:].contiguous().numpy(),
                                       first, t0 + fs, uniforms[:, first - n_known:
                                                                t0 + fs - n_known],
                                       temp_all[:, first - n_known:t0 + fs - n_known])
                done = min(start + big - n_known, n_samples)
                if progress is not None and done > 0 and (done % report_every == 0
                                                          or done == n_samples):
                    progress(done, n_samples)
        return history[:, n_known:n_known + n_samples]

    def _seed_codes(self, seed: np.ndarray | None) -> np.ndarray:
        if seed is None:
            return np.zeros((self.batch_size, 0), dtype=np.int64)
        seed = np.asarray(seed, dtype=np.float32)
        if seed.ndim == 1:
            seed = np.broadcast_to(seed, (self.batch_size, seed.shape[0]))
        if seed.shape[0] != self.batch_size:
            raise ValueError(f"the seed holds {seed.shape[0]} sequences for a batch of "
                             f"{self.batch_size}")
        return quantize(seed, self.config)

    def _sample_frame(self, history: np.ndarray, conditioning: np.ndarray, first: int,
                      stop: int, uniforms: np.ndarray, temperatures: np.ndarray) -> None:
        """Draw history[:, first:stop], one sample after another."""
        fs = self.config.frame_size
        w = self.weights
        if self.kernel is not None:
            self.kernel.sample_frame(w.tables, w.w1, w.b1, w.w2, w.b2, w.wo, w.bo,
                                     np.ascontiguousarray(conditioning, dtype=np.float32),
                                     history, first, stop,
                                     np.ascontiguousarray(uniforms, dtype=np.float64),
                                     np.ascontiguousarray(temperatures, dtype=np.float64))
            return
        tables = torch.from_numpy(w.tables)
        mlp = self.model.sample_mlp
        for i, t in enumerate(range(first, stop)):
            codes = torch.from_numpy(history[:, t - fs:t])
            x = torch.from_numpy(conditioning[:, i]).clone()
            for k in range(fs):
                x += tables[k][codes[:, k]]
            logits = mlp.head(x).double().numpy()
            history[:, t] = draw(logits, temperatures[:, i], uniforms[:, i])


def draw(logits: np.ndarray, temperature: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """One code per row of ``logits`` [batch, q]: the inverse CDF of softmax(logits / T) at
    ``uniform`` (what the kernel computes, in float64)."""
    scaled = logits / np.maximum(temperature, 1e-6)[:, None]
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    p = np.exp(scaled)
    cdf = np.cumsum(p, axis=1)
    target = uniform * cdf[:, -1]
    codes = (cdf <= target[:, None]).sum(axis=1)
    return np.minimum(codes, logits.shape[1] - 1)


def _temperatures(temperature: float | Sequence[float] | np.ndarray, batch: int,
                  n_samples: int) -> np.ndarray:
    t = np.asarray(temperature, dtype=np.float64)
    if t.ndim == 0:
        t = np.full((batch, n_samples), float(t))
    elif t.ndim == 1:
        if len(t) != batch:
            raise ValueError(f"{len(t)} temperatures for {batch} sequences")
        t = np.repeat(t[:, None], n_samples, axis=1)
    elif t.shape != (batch, n_samples):
        raise ValueError(f"temperatures of shape {t.shape}, expected ({batch}, {n_samples})")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("temperatures must be positive numbers")
    return t


def duration_samples(seconds: float, sample_rate: int) -> int:
    """Samples in ``seconds`` (at least one)."""
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be a positive number of seconds, got {seconds}")
    return max(1, round(seconds * sample_rate))


def score(model: SampleRNN, audio: np.ndarray) -> tuple[float, int]:
    """Teacher-forced negative log-likelihood of ``audio`` (at the model's rate): ``(total
    nats, samples scored)``. The audio is walked in ``seq_len`` subsequences with the
    state carried, as in training; the last partial subsequence is scored too."""
    cfg = model.config
    codes = quantize(np.asarray(audio, dtype=np.float32), cfg)[None]
    n = codes.shape[1]
    padded = np.concatenate([codes, np.full((1, (-n) % cfg.seq_len), silence_code(cfg))], 1)
    pad = np.full((1, cfg.big_frame_size), silence_code(cfg), dtype=np.int64)
    history = np.concatenate([pad, padded], 1)
    total, state = 0.0, None
    model.eval()
    with torch.inference_mode():
        for start in range(0, padded.shape[1], cfg.seq_len):
            x = torch.from_numpy(history[:, start:start + cfg.big_frame_size + cfg.seq_len])
            logits, state = model(x, state)
            target = x[:, cfg.big_frame_size:]
            nll = torch.nn.functional.cross_entropy(logits[0], target[0], reduction="none")
            keep = min(cfg.seq_len, n - start)
            total += float(nll[:keep].sum())
    return total, n


def unigram_bits(codes: np.ndarray, q_levels: int) -> float:
    """Entropy (bits) of the codes' own histogram: what a model that ignores the past
    could reach at best, the floor any SampleRNN should beat."""
    counts = np.bincount(np.asarray(codes).reshape(-1), minlength=q_levels).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())
