"""Torch functions keep the device and dtype they are given (CUDA part skipped without a GPU)."""

import numpy as np
import pytest
import torch

from dlwa.audio import (
    LogMelSpectrogram,
    MultiScaleSpectralLoss,
    a_weighted_loudness,
    mu_law_decode,
    mu_law_encode,
    resample_torch,
    sine,
)

torch.set_num_threads(1)
DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
    ),
]


@pytest.mark.parametrize("device", DEVICES)
def test_torch_paths_run_on_device_and_match_cpu(device):
    x_cpu = torch.from_numpy(sine(440.0, duration_s=0.25, sample_rate=16000, amplitude=0.5))[None]
    x = x_cpu.to(device)
    mel = LogMelSpectrogram(sample_rate=16000, n_fft=512, hop_length=128, n_mels=40).to(device)
    assert mel(x).device.type == device
    np.testing.assert_allclose(mel(x).cpu().numpy(), mel.cpu()(x_cpu).numpy(), atol=1e-3)
    loss = MultiScaleSpectralLoss().to(device)
    assert loss(x, x * 0.5).device.type == device
    loudness = a_weighted_loudness(x, sample_rate=16000)
    assert loudness.device.type == device
    np.testing.assert_allclose(
        loudness.cpu().numpy(), a_weighted_loudness(x_cpu, sample_rate=16000).numpy(), atol=1e-3
    )
    assert resample_torch(x, orig_sample_rate=16000, sample_rate=22050).device.type == device
    codes = mu_law_encode(x)
    assert codes.device.type == device and mu_law_decode(codes).device.type == device


def test_float64_stays_float64():
    x = torch.from_numpy(sine(440.0, duration_s=0.1, sample_rate=16000).astype(np.float64))
    assert a_weighted_loudness(x, sample_rate=16000).dtype == torch.float64
    assert resample_torch(x, orig_sample_rate=16000, sample_rate=8000).dtype == torch.float64
