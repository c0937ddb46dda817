"""DDSP's solo-instrument model: f0 and loudness → RNN-FC decoder → harmonic + noise + reverb.

The decoder mirrors ``ddsp.training.decoders.RnnFcDecoder`` (``solo_instrument.gin``): one
fully connected stack per input (Dense → LayerNorm → leaky ReLU, ``layers_per_stack``
times; loudness first), their outputs concatenated into a GRU, then the stacks' outputs and
the GRU output, in that order, into an output stack, and a final Dense split into harmonic amplitude, harmonic
distribution and noise magnitudes. Inputs are scaled as ``F0LoudnessPreprocessor`` does:
``f0_scaled = midi(f0) / 127`` and ``ld_scaled = loudness_db / 120 + 1``.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlwa.audio.conversions import hz_to_midi
from dlwa.checkpoints import (
    CONFIG_FILE,
    CheckpointError,
    config_from_dict,
    find_checkpoint,
    load_module,
    save_checkpoint,
    setting,
)
from dlwa.ddsp.synths import FilteredNoise, Harmonic, Reverb

KIND = "ddsp"
LOUDNESS_RANGE_DB = 120.0
F0_RANGE_MIDI = 127.0
LAYER_NORM_EPS = 1e-3  # Keras LayerNormalization's default, as in DDSP


@dataclass
class DDSPConfig:
    """Hyper-parameters of the solo-instrument model.

    The defaults are DDSP's ``solo_instrument.gin`` (16 kHz, 250 frames/s, GRU 512,
    stacks of 3 × 512, 60 harmonics, 65 noise bands, 48000-sample reverb); dlwa's shipped
    checkpoints use :meth:`small`. Each field declares the range a checkpoint's config
    must keep to (:func:`dlwa.checkpoints.setting`); ``frame_rate`` must divide
    ``sample_rate``.
    """

    sample_rate: int = setting(16000, ge=1000, le=384000)
    frame_rate: int = setting(250, ge=1, le=1000)
    rnn_channels: int = setting(512, ge=1, le=4096)
    ch: int = setting(512, ge=1, le=4096)
    layers_per_stack: int = setting(3, ge=1, le=16)
    n_harmonics: int = setting(60, ge=1, le=1024)
    n_noise_bands: int = setting(65, ge=2, le=4096)
    reverb: bool = True
    reverb_length: int = setting(48000, ge=1, le=480000)

    def cross_checks(self) -> Iterator[tuple[str, str, Any]]:
        """Rules tying fields together: ``(field, expectation, value)`` for each broken one."""
        if self.sample_rate % self.frame_rate:
            expected = (f"a divisor of sample_rate {self.sample_rate} (a whole number of "
                        "samples per frame, e.g. 250)")
            yield "frame_rate", expected, self.frame_rate

    @property
    def hop_length(self) -> int:
        """Samples per frame."""
        return self.sample_rate // self.frame_rate

    @classmethod
    def small(cls, **overrides: Any) -> DDSPConfig:
        """The size dlwa trains on a CPU: GRU 256, stacks of 3 × 128, 48 harmonics."""
        params: dict[str, Any] = {"rnn_channels": 256, "ch": 128, "n_harmonics": 48,
                                      "reverb_length": 16000}
        params.update(overrides)
        return cls(**params)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DDSPConfig:
        """Build from a saved dict, every field checked.

        Raises:
            CheckpointError: an unknown or missing key, or a value of the wrong type or range.
        """
        return config_from_dict(cls, data)


def fc_stack(in_channels: int, ch: int, layers: int) -> nn.Sequential:
    """``layers`` × (Linear → LayerNorm → leaky ReLU)."""
    modules: list[nn.Module] = []
    for i in range(layers):
        modules += [nn.Linear(in_channels if i == 0 else ch, ch),
                    nn.LayerNorm(ch, eps=LAYER_NORM_EPS), nn.LeakyReLU(0.2)]
    return nn.Sequential(*modules)


class RnnFcDecoder(nn.Module):
    """f0 and loudness [batch, n_frames, 1] each → raw synth controls.

    Args:
        config: the model's config.
    """

    def __init__(self, config: DDSPConfig) -> None:
        super().__init__()
        self.config = config
        self.f0_stack = fc_stack(1, config.ch, config.layers_per_stack)
        self.ld_stack = fc_stack(1, config.ch, config.layers_per_stack)
        self.rnn = nn.GRU(2 * config.ch, config.rnn_channels, batch_first=True)
        self.out_stack = fc_stack(2 * config.ch + config.rnn_channels, config.ch,
                                  config.layers_per_stack)
        self.splits = (1, config.n_harmonics, config.n_noise_bands)
        self.dense_out = nn.Linear(config.ch, sum(self.splits))

    def forward(
        self, f0_scaled: torch.Tensor, ld_scaled: torch.Tensor,
        state: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Raw controls and the GRU state.

        Args:
            f0_scaled: [batch, n_frames, 1].
            ld_scaled: [batch, n_frames, 1].
            state: GRU state [1, batch, rnn_channels] from the previous chunk, or None.

        Returns:
            ``({"amplitudes", "harmonic_distribution", "noise_magnitudes"}, state)``.
        """
        stacks = [self.ld_stack(ld_scaled), self.f0_stack(f0_scaled)]
        x = torch.cat(stacks, dim=-1)
        rnn_out, state = self.rnn(x, state)
        x = self.out_stack(torch.cat([*stacks, rnn_out], dim=-1))
        amps, dist, noise = torch.split(self.dense_out(x), self.splits, dim=-1)
        return {"amplitudes": amps, "harmonic_distribution": dist, "noise_magnitudes": noise}, state


def scale_inputs(f0_hz: torch.Tensor, loudness_db: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``F0LoudnessPreprocessor``: [batch, n_frames] Hz and dB → scaled [batch, n_frames, 1]."""
    f0_scaled = hz_to_midi(f0_hz) / F0_RANGE_MIDI
    ld_scaled = loudness_db / LOUDNESS_RANGE_DB + 1.0
    return f0_scaled[..., None], ld_scaled[..., None]


class DDSPModel(nn.Module):
    """The solo-instrument autoencoder without encoder: features in, audio out.

    Args:
        config: hyper-parameters.
    """

    def __init__(self, config: DDSPConfig) -> None:
        super().__init__()
        self.config = config
        self.decoder = RnnFcDecoder(config)
        self.harmonic = Harmonic(sample_rate=config.sample_rate)
        self.noise = FilteredNoise()
        self.reverb = Reverb(reverb_length=config.reverb_length) if config.reverb else None

    def controls(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor,
                 state: torch.Tensor | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Scaled synth controls for f0 and loudness [batch, n_frames]."""
        raw, state = self.decoder(*scale_inputs(f0_hz, loudness_db), state)
        harmonic = self.harmonic.get_controls(raw["amplitudes"], raw["harmonic_distribution"],
                                              f0_hz[..., None])
        noise = self.noise.get_controls(raw["noise_magnitudes"])
        return {**harmonic, "noise_magnitudes": noise["magnitudes"]}, state

    def forward(
        self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, *,
        generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Audio [batch, n_frames · hop_length] from f0 (Hz) and loudness (dB) [batch, n_frames].

        ``noise`` [batch, n_samples] replaces the noise synth's random source.
        """
        n_samples = f0_hz.shape[-1] * self.config.hop_length
        c, _ = self.controls(f0_hz, loudness_db)
        harmonic, _ = self.harmonic.get_signal(c["amplitudes"], c["harmonic_distribution"],
                                               c["f0_hz"], n_samples=n_samples)
        filtered = self.noise.get_signal(c["noise_magnitudes"], n_samples=n_samples,
                                         generator=generator, noise=noise)
        audio = harmonic + filtered
        if self.reverb is not None:
            audio = self.reverb(audio)
        return audio


def quantize_decoder(model: DDSPModel) -> DDSPModel:
    """Int8 dynamic quantization of the decoder's GRU and Linear layers (inference only).

    Weights become int8 and activations are quantized on the fly; on a CPU the decoder
    runs about 3x faster. The synths stay float. Returns ``model``, changed in place.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        model.decoder = torch.ao.quantization.quantize_dynamic(
            model.decoder, {nn.GRU, nn.Linear}, dtype=torch.qint8)
    return model


def n_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


STATISTICS_FILE = "dataset_statistics.json"


@dataclass
class DatasetStatistics:
    """What ``dataset_statistics.json`` may hold (:func:`dlwa.ddsp.data.dataset_statistics`).

    Auto adjust needs the mean pitch and the loudness quantiles; the rest is informative.
    Only used to check a loaded file: the statistics stay a dict.
    """

    mean_pitch_midi: float = setting(60.0, ge=0, le=127)
    loudness_quantiles_db: tuple[float, ...] = setting((), ge=-300, le=100, min_items=2)
    pitch_quantiles_midi: tuple[float, ...] | None = setting(None, required=False, ge=-100,
                                                             le=200)
    mean_loudness_db: float | None = setting(None, required=False, ge=-300, le=100)
    voiced_fraction: float | None = setting(None, required=False, ge=0, le=1)
    n_frames: int | None = setting(None, required=False, ge=0)
    imported: bool | None = setting(None, required=False)

    def cross_checks(self) -> Iterator[tuple[str, str, Any]]:
        """The loudness quantiles must not decrease."""
        q = self.loudness_quantiles_db
        if any(b < a for a, b in itertools.pairwise(q)):
            yield "loudness_quantiles_db", "non-decreasing (they are quantiles)", list(q)


@dataclass
class LoadedModel:
    """A DDSP model ready for inference, with what auto-adjust needs.

    Attributes:
        model: the network, in eval mode.
        statistics: dataset statistics (see :func:`dlwa.ddsp.data.dataset_statistics`),
            or None when the checkpoint has none (auto-adjust is then skipped).
        name: the checkpoint's name.
        tracker: the pitch tracker the model was trained with.
    """

    model: DDSPModel
    statistics: dict[str, Any] | None
    name: str
    tracker: str


def save_model(directory: str | os.PathLike[str], model: DDSPModel, *,
               statistics: dict[str, Any] | None, training: dict[str, Any]) -> Path:
    """Write a dlwa checkpoint (config, weights, dataset statistics)."""
    extras = {STATISTICS_FILE: statistics} if statistics is not None else {}
    return save_checkpoint(directory, KIND, model.config.to_dict(),
                           {k: v.detach().contiguous() for k, v in model.state_dict().items()},
                           sample_rate=model.config.sample_rate, training=training,
                           extras=extras)


def load_model(name_or_path: str | os.PathLike[str], *,
               base_dir: str | os.PathLike[str] | None = None,
               quantize: bool = False) -> LoadedModel:
    """Load a DDSP checkpoint by name (``violin`` finds ``checkpoints/ddsp_violin``) or path.

    ``quantize`` makes the decoder int8 (see :func:`quantize_decoder`).

    Raises:
        CheckpointError: not found, not a DDSP checkpoint, or any part of it (config,
            weights, dataset statistics, tracker) malformed; one line naming the file.
    """
    text = os.fspath(name_or_path)
    path = find_checkpoint(text, base_dir=base_dir, kind=KIND, prefix="ddsp_")
    model, checkpoint = load_module(path, kind=KIND, config_class=DDSPConfig, build=DDSPModel)
    statistics = None
    if STATISTICS_FILE in checkpoint.extras:
        statistics = checkpoint.read_extra(STATISTICS_FILE)
        config_from_dict(DatasetStatistics, statistics, where=path / STATISTICS_FILE, prefix="")
    tracker = _saved_tracker(checkpoint.training, where=path / CONFIG_FILE)
    model = quantize_decoder(model.eval()) if quantize else model.eval()
    return LoadedModel(model=model, statistics=statistics, name=checkpoint.name,
                       tracker=tracker)


def _saved_tracker(training: dict[str, Any], *, where: Path) -> str:
    """The pitch tracker a checkpoint was trained with (``training.tracker``), checked."""
    from dlwa.ddsp.features import DEFAULT_TRACKER, PITCH_TRACKERS

    tracker = training.get("tracker", DEFAULT_TRACKER)
    if tracker not in PITCH_TRACKERS or not isinstance(tracker, str):
        names = ", ".join(f'"{name}"' for name in PITCH_TRACKERS)
        raise CheckpointError(f"{where}: training.tracker must be one of {names}, "
                              f"got {json.dumps(tracker)[:40]}")
    return tracker
