"""Exact frame-count arithmetic, shared by framing, STFT and loudness."""

import numpy as np
import pytest
import torch

from dlwa.audio import AudioError, frame, hop_length_for, n_frames_for, pad_for_frames, stft


@pytest.mark.parametrize("n_samples", [1, 63, 64, 65, 511, 512, 513, 64000])
@pytest.mark.parametrize("padding", ["center", "same", "valid"])
def test_frame_counts_agree_everywhere(n_samples, padding):
    n_fft, hop_length = 512, 64
    if padding == "valid" and n_samples < n_fft:
        with pytest.raises(AudioError, match="padding='valid' needs at least n_fft=512"):
            n_frames_for(n_samples, n_fft=n_fft, hop_length=hop_length, padding=padding)
        return
    expected = {
        "center": n_samples // hop_length + 1,
        "same": int(np.ceil(n_samples / hop_length)),
        "valid": 1 + (n_samples - n_fft) // hop_length,
    }[padding]
    assert n_frames_for(n_samples, n_fft=n_fft, hop_length=hop_length, padding=padding) == expected
    x = np.random.default_rng(0).standard_normal(n_samples).astype(np.float32)
    frames = frame(x, frame_length=n_fft, hop_length=hop_length, padding=padding)
    assert frames.shape == (expected, n_fft)
    frames_t = frame(
        torch.from_numpy(x), frame_length=n_fft, hop_length=hop_length, padding=padding
    )
    np.testing.assert_array_equal(frames_t.numpy(), frames)
    spec = stft(torch.from_numpy(x), n_fft=n_fft, hop_length=hop_length, padding=padding)
    assert spec.shape == (expected, n_fft // 2 + 1)


def test_ddsp_sizes():
    # 4 s at 16 kHz and 250 frames/s: 1000 frames with "same", 1001 with "center".
    hop = hop_length_for(sample_rate=16000, frame_rate=250)
    assert hop == 64
    assert n_frames_for(64000, n_fft=512, hop_length=hop, padding="same") == 1000
    assert n_frames_for(64000, n_fft=512, hop_length=hop, padding="center") == 1001


def test_center_frames_are_centred_on_their_sample():
    x = np.arange(1, 101, dtype=np.float32)
    frames = frame(x, frame_length=8, hop_length=10, padding="center")
    assert frames.shape == (11, 8)
    for k in range(10):
        assert frames[k, 4] == x[k * 10]  # frame k's middle sample is sample k·hop
    np.testing.assert_array_equal(frames[0, :4], 0.0)


def test_same_frames_start_at_k_hop():
    x = np.arange(1, 101, dtype=np.float32)
    frames = frame(x, frame_length=8, hop_length=10, padding="same")
    assert frames.shape == (10, 8)
    np.testing.assert_array_equal(frames[:, 0], x[::10])
    frames_t = frame(torch.from_numpy(x), frame_length=8, hop_length=10, padding="same")
    np.testing.assert_array_equal(frames_t.numpy(), frames)


def test_pad_for_frames_length():
    x = np.zeros((3, 1000), dtype=np.float32)
    padded = pad_for_frames(x, n_fft=256, hop_length=100, padding="center")
    n_frames = n_frames_for(1000, n_fft=256, hop_length=100, padding="center")
    assert padded.shape == (3, (n_frames - 1) * 100 + 256)


def test_hop_length_must_divide():
    with pytest.raises(
        AudioError, match=r"frame_rate=300 does not divide sample_rate=16000.*use one of \[50, 100"
    ):
        hop_length_for(sample_rate=16000, frame_rate=300)


def test_unknown_padding():
    with pytest.raises(
        AudioError, match=r"padding must be one of \('center', 'same', 'valid'\), got 'reflect'"
    ):
        n_frames_for(100, n_fft=16, hop_length=4, padding="reflect")
