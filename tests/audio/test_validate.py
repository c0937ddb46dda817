"""The shared audio validator: each failure names the problem and a fix."""

import numpy as np
import pytest
import torch

from dlwa.audio import AudioError, check_audio, check_sample_rate
from dlwa.audio.validate import check_positive_int


def test_valid_audio_is_returned_unchanged():
    x = np.zeros(16, dtype=np.float32)
    assert check_audio(x) is x
    t = torch.zeros(2, 16)
    assert check_audio(t) is t


def test_audio_error_is_a_value_error():
    assert issubclass(AudioError, ValueError)


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        ([0.0, 1.0], r"numpy array or torch tensor, got list; wrap it with np\.asarray"),
        (
            np.zeros(4, dtype=np.int16),
            r"floating dtype, got int16; .*astype\(np\.float32\) / 32768",
        ),
        (torch.zeros(4, dtype=torch.int32), r"floating dtype, got int32"),
        (
            np.zeros((1, 2, 3), dtype=np.float32),
            r"1-D \[n_samples\] or 2-D \[batch, n_samples\], got shape \(1, 2, 3\)",
        ),
        (np.zeros((), dtype=np.float32), r"got shape \(\)"),
        (
            np.zeros(0, dtype=np.float32),
            r"at least 1 sample\(s\) on its last axis, got shape \(0,\)",
        ),
        (np.zeros((0, 5), dtype=np.float32), r"at least 1 sample"),
        (np.array([0.0, np.nan], dtype=np.float32), r"NaN or infinite values; .*nan_to_num"),
        (torch.tensor([0.0, float("inf")]), r"NaN or infinite"),
    ],
)
def test_bad_audio_is_rejected_with_its_reason(audio, message):
    with pytest.raises(AudioError, match=message):
        check_audio(audio)


def test_name_and_rank_appear_in_message():
    with pytest.raises(AudioError, match=r"^target must be 1-D \[n_samples\], got shape \(2, 3\)"):
        check_audio(np.zeros((2, 3), dtype=np.float32), name="target", ndim=1)


def test_min_samples():
    with pytest.raises(AudioError, match="at least 512 sample"):
        check_audio(np.zeros(100, dtype=np.float32), min_samples=512)


@pytest.mark.parametrize("bad", [0, -16000, 16000.5, True, float("nan"), "16000", None])
def test_bad_sample_rates(bad):
    with pytest.raises(AudioError, match=r"positive whole number of Hz such as 16000"):
        check_sample_rate(bad)


def test_good_sample_rate_becomes_int():
    assert check_sample_rate(44100.0) == 44100
    assert isinstance(check_sample_rate(np.int64(48000)), int)


@pytest.mark.parametrize("bad", [0, -1, 2.0, None, False])
def test_positive_int(bad):
    with pytest.raises(AudioError, match=r"n_fft must be a positive integer such as 1024, got"):
        check_positive_int(bad, name="n_fft", example=1024)
