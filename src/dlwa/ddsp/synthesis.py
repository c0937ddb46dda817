"""Decoder and synths over frame-wise f0 and loudness: all at once, or block by block.

:func:`synthesize` runs the model's ``forward`` on the whole signal; :func:`synthesize_blocks`
gives the same audio block by block in memory bounded by the block size, for inputs of
any length (``dlwa transfer ddsp`` on an hour of audio).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from dlwa.ddsp.model import DDSPModel, LoadedModel


def synthesize(model: LoadedModel, f0_hz: np.ndarray, loudness_db: np.ndarray) -> np.ndarray:
    """Decoder and synths: [n_frames] f0 (Hz) and loudness (dB) → audio [n_frames · hop].

    The whole signal at once (the model's ``forward``); :func:`synthesize_blocks` gives
    the same in bounded memory.
    """
    with torch.inference_mode():
        generator = torch.Generator().manual_seed(0)
        audio = model.model(torch.from_numpy(f0_hz.astype(np.float32))[None],
                            torch.from_numpy(loudness_db.astype(np.float32))[None],
                            generator=generator)
    return audio[0].numpy()


def synthesize_blocks(
    model: LoadedModel, f0_hz: np.ndarray, loudness_db: np.ndarray, *, block_frames: int,
) -> Iterator[np.ndarray]:
    """:func:`synthesize` block by block, in memory bounded by the block size.

    The decoder runs a few frames ahead of the synths, carrying the GRU state; the
    oscillators carry their phase; the noise comes from one generator, drawn in the same
    order; each block renders its frames with a few frames of context either side (for
    interpolation and the noise filters' reach) and the reverb tail is overlap-added into
    the next block. The blocks, concatenated, equal :func:`synthesize` up to float
    rounding; with the int8 decoder, which quantizes each block's activations with their
    own scale, nearly. Models set to ddsp's float32 phase accumulation render in one block.

    Args:
        model: the loaded model.
        f0_hz: [n_frames] Hz.
        loudness_db: [n_frames] dB.
        block_frames: frames per block.

    Yields:
        audio [block_frames · hop_length] float32 (the last block shorter).
    """
    net = model.model
    n_frames = len(f0_hz)
    if net.harmonic.phase_accumulation != "float64":
        block_frames = n_frames
    hop = net.config.hop_length
    reach = 2 + -(-net.noise.filter_size(net.config.n_noise_bands) // hop)
    window = _ControlWindow(net, f0_hz, loudness_db, block_frames=block_frames)
    phase = tail = None
    for first in range(0, n_frames, block_frames):
        last = min(n_frames, first + block_frames)
        start, stop = max(0, first - reach), min(n_frames, last + reach)
        window.extend(stop)
        window.drop(start)
        audio, phase, tail = _render_block(net, *window.get(start, stop), phase=phase,
                                           tail=tail, first=(first - start) * hop,
                                           last=(last - start) * hop)
        yield audio


@torch.inference_mode()
def _render_block(
    net: DDSPModel, controls: dict[str, torch.Tensor], noise: torch.Tensor, *,
    phase: torch.Tensor | None, tail: torch.Tensor | None, first: int, last: int,
) -> tuple[np.ndarray, torch.Tensor, torch.Tensor | None]:
    """Samples ``first … last`` of the synths over ``controls`` (with context frames)."""
    n_samples = noise.shape[-1]
    harmonic, phase = net.harmonic.get_signal(
        controls["amplitudes"], controls["harmonic_distribution"], controls["f0_hz"],
        n_samples=n_samples, initial_phase=phase, start=first, stop=last)
    filtered = net.noise.get_signal(controls["noise_magnitudes"], n_samples=n_samples,
                                    noise=noise)[:, first:last]
    audio = harmonic + filtered
    if net.reverb is not None:
        audio, tail = net.reverb.get_signal_block(
            audio, net.reverb.get_controls()["impulse_response"], tail=tail)
    return audio[0].numpy(), phase, tail


class _ControlWindow:
    """The decoder's controls and the noise for frames ``start … stop`` of a long signal."""

    def __init__(self, net: DDSPModel, f0_hz: np.ndarray, loudness_db: np.ndarray, *,
                 block_frames: int) -> None:
        self.net = net
        self.f0_hz = torch.from_numpy(np.asarray(f0_hz, dtype=np.float32))[None]
        self.loudness_db = torch.from_numpy(np.asarray(loudness_db, dtype=np.float32))[None]
        self.block_frames = block_frames
        self.generator = torch.Generator().manual_seed(0)  # as synthesize()
        self.state: torch.Tensor | None = None
        self.start = self.stop = 0
        self.controls: dict[str, torch.Tensor] = {}
        self.noise = torch.zeros(1, 0)

    @torch.inference_mode()
    def extend(self, stop: int) -> None:
        """Decode on, one block at a time, until frame ``stop``."""
        hop = self.net.config.hop_length
        while self.stop < stop:
            end = min(self.f0_hz.shape[-1], self.stop + self.block_frames)
            new, self.state = self.net.controls(self.f0_hz[:, self.stop:end],
                                                self.loudness_db[:, self.stop:end], self.state)
            self.controls = {name: torch.cat([self.controls[name], value], dim=1)
                             if self.controls else value for name, value in new.items()}
            noise = torch.rand(1, (end - self.stop) * hop, generator=self.generator) * 2 - 1
            self.noise = torch.cat([self.noise, noise], dim=-1)
            self.stop = end

    def drop(self, start: int) -> None:
        """Forget the frames before ``start``."""
        cut = start - self.start
        self.controls = {name: value[:, cut:] for name, value in self.controls.items()}
        self.noise = self.noise[:, cut * self.net.config.hop_length:]
        self.start = start

    def get(self, start: int, stop: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Controls [1, stop − start, ...] and noise [1, (stop − start) · hop_length]."""
        hop = self.net.config.hop_length
        a, b = start - self.start, stop - self.start
        return ({name: value[:, a:b] for name, value in self.controls.items()},
                self.noise[:, a * hop:b * hop])
