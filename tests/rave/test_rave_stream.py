"""RaveStream plays exactly what nn~ would: the method called once per chunk on a fresh
copy of the model, inputs decimated by their ratio and outputs held by theirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa.rave.model import NNModel
from dlwa.rave.stream import RaveStream, chunk_unit, fit_chunk, stream_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rave"
RAVE = FIXTURES / "rave_small.ts"
TOY = FIXTURES / "toy_nn_tilde.ts"


def nn_tilde_reference(path: Path, method: str, x: np.ndarray, chunk: int,
                       attributes: dict[str, list] | None = None) -> np.ndarray:
    """nn~'s Backend::perform, chunk by chunk, on a freshly loaded copy of the model."""
    module = torch.jit.load(str(path))
    for name, values in (attributes or {}).items():
        getattr(module, f"set_{name}")(*values)
    c_in, r_in, _, r_out = getattr(module, f"{method}_params").tolist()
    out = []
    for start in range(0, x.shape[1], chunk):
        block = torch.from_numpy(x[:, start:start + chunk]).reshape(c_in, -1, r_in)[:, :, -1]
        with torch.no_grad():
            y = getattr(module, method)(block[None])
        out.append(y[0].repeat_interleave(r_out, dim=-1).numpy())
    return np.concatenate(out, axis=1)


def streamed(path: Path, method: str, x: np.ndarray, chunk: int,
             attributes: dict[str, list] | None = None) -> np.ndarray:
    model = NNModel(path)
    for name, values in (attributes or {}).items():
        model.set(name, values)
    stream = RaveStream(model, method, chunk=chunk)
    return np.concatenate([stream.process(x[:, s:s + chunk])
                           for s in range(0, x.shape[1], chunk)], axis=1)


def signal(channels: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 196 * t) * (1 + np.sin(2 * np.pi * 0.7 * t)) / 2
    return (tone + 0.05 * rng.standard_normal((channels, n))).astype(np.float32)


@pytest.mark.parametrize(("method", "chunk"), [("forward", 512), ("forward", 2048),
                                               ("encode", 1024), ("decode", 1024)])
def test_a_rave_export_streams_as_nn_tilde_calls_it(method: str, chunk: int) -> None:
    channels = 32 if method == "decode" else 1
    x = signal(channels, 8 * 1024)
    torch.manual_seed(3)  # RAVE samples its latent and its noise: the same draws for both
    expected = nn_tilde_reference(RAVE, method, x, chunk)
    torch.manual_seed(3)
    got = streamed(RAVE, method, x, chunk)
    assert got.shape == expected.shape and np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_a_rave_export_streams_as_nn_tilde_after_set() -> None:
    x = signal(1, 6 * 1024)
    attributes = {"learn_target": [True]}
    torch.manual_seed(4)
    expected = nn_tilde_reference(RAVE, "forward", x, 1024, attributes)
    torch.manual_seed(4)
    got = streamed(RAVE, "forward", x, 1024, attributes)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", ["forward", "envelope", "tone"])
def test_an_nn_tilde_package_model_streams_as_nn_tilde_calls_it(method: str) -> None:
    channels = 2 if method == "forward" else 1
    x = signal(channels, 8 * 512) if method != "tone" else np.full((1, 4096), 220, np.float32)
    attributes = {"gain": [0.5], "swap": [True], "harmonic": [2]}
    expected = nn_tilde_reference(TOY, method, x, 512, attributes)
    got = streamed(TOY, method, x, 512, attributes)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    if method == "tone":  # its phase carries over: one continuous 440 Hz sine
        t = np.arange(4096) / 16000
        np.testing.assert_allclose(got[0], 0.5 * np.sin(2 * np.pi * 440 * (t + 1 / 16000)),
                                   atol=1e-3)


def test_the_state_carries_over_chunks() -> None:
    """Two streams over the same input, one restarted half way, differ after the restart:
    the model's cached convolutions hold the past."""
    x = signal(1, 8 * 1024)
    torch.manual_seed(0)
    whole = streamed(RAVE, "forward", x, 1024)
    torch.manual_seed(0)
    first = streamed(RAVE, "forward", x[:, :4096], 1024)
    second = streamed(RAVE, "forward", x[:, 4096:], 1024)
    np.testing.assert_allclose(whole[:, :4096], first, atol=1e-5)
    assert np.abs(whole[:, 4096:] - second).max() > 1e-3


def test_chunks_are_whole_multiples_of_the_ratio_at_the_model_rate() -> None:
    assert chunk_unit(2048, 48000, 48000) == 2048
    assert chunk_unit(512, 16000, 48000) == 1536
    # 441 host samples are 160 model samples; 16 of those are 2560 = 5 x 512
    assert chunk_unit(512, 16000, 44100) == 441 * 16
    assert fit_chunk(None, 512, 16000, 48000) == (1536, None)
    assert fit_chunk(256, 512, 16000, 16000) == (
        512, "chunk 256 is smaller than the model's ratio 512: using 512")
    assert fit_chunk(2000, 512, 16000, 48000) == (
        3072, ("chunk 2000 is not a multiple of 1536 (the model's ratio 512 at 16000 Hz in "
               "48000 Hz): using 3072"))
    with pytest.raises(ValueError, match="chunk 256 is smaller than the model's ratio 512"):
        RaveStream(NNModel(RAVE), "forward", chunk=256)


@pytest.mark.parametrize("host_rate", [48000, 44100, 22050])
def test_at_another_rate_an_impulse_comes_out_after_the_reported_latency(host_rate: int
                                                                         ) -> None:
    model = NNModel(TOY)  # forward: gain 1, so the stream alone sets the delay
    stream = RaveStream(model, "forward", sample_rate=host_rate)
    n = 20 * stream.chunk
    x = np.zeros((2, n), np.float32)
    x[:, 5000] = 1.0
    y = np.concatenate([stream.process(x[:, s:s + stream.chunk])
                        for s in range(0, n, stream.chunk)], axis=1)
    assert stream.latency > 0
    assert int(np.argmax(np.abs(y[0]))) == 5000 + stream.latency
    # and a tone comes through in tune, aligned by stream_file
    t = np.arange(n) / host_rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = stream_file(RaveStream(model, "forward", sample_rate=host_rate), np.stack([tone, tone]))
    middle = slice(n // 4, 3 * n // 4)
    assert np.abs(out[0, middle] - tone[middle]).max() < 0.01


def test_a_wrong_chunk_length_or_model_is_refused() -> None:
    stream = RaveStream(NNModel(TOY), "forward", chunk=512)
    with pytest.raises(ValueError, match="a chunk of 256 samples; this stream takes 512"):
        stream.process(np.zeros((2, 256), np.float32))
    with pytest.raises(ValueError, match="rave_small.forward takes 1 and gives 1 channel"):
        stream.swap_model(NNModel(RAVE))
