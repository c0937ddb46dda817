"""Test signals have the frequencies and levels they claim."""

import numpy as np
import pytest

from dlwa.audio import (
    AudioError,
    chirp,
    harmonic_tone,
    is_silent,
    noise,
    normalize_peak,
    rms_db,
    sine,
    vibrato_f0,
)

SR = 16000


def zero_crossing_hz(x, sample_rate):
    crossings = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    return (len(crossings) - 1) * sample_rate / (crossings[-1] - crossings[0])


def test_sine():
    x = sine(440.0, duration_s=0.5, sample_rate=SR, amplitude=0.3)
    assert x.shape == (8000,) and x.dtype == np.float32
    assert zero_crossing_hz(x, SR) == pytest.approx(440.0, rel=1e-3)
    assert np.abs(x).max() == pytest.approx(0.3, rel=1e-3)
    assert sine(1.0, duration_s=1.0, sample_rate=SR, phase=np.pi / 2)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["linear", "exponential"])
def test_chirp_sweeps_between_its_ends(method):
    x = chirp(200.0, 2000.0, duration_s=2.0, sample_rate=SR, method=method)
    assert x.shape == (32000,)
    assert zero_crossing_hz(x[:1600], SR) == pytest.approx(
        200.0 if method == "exponential" else 245.0, rel=0.1
    )
    assert zero_crossing_hz(x[-1600:], SR) == pytest.approx(
        1900.0 if method == "exponential" else 1955.0, rel=0.1
    )
    with pytest.raises(AudioError, match="method must be 'linear' or 'exponential'"):
        chirp(1.0, 2.0, duration_s=1.0, sample_rate=SR, method="cubic")


def test_exponential_chirp_needs_positive_frequencies():
    with pytest.raises(AudioError, match="use method='linear' to sweep from 0 Hz"):
        chirp(0.0, 1000.0, duration_s=1.0, sample_rate=SR)


def test_harmonic_tone_stays_below_nyquist_and_has_its_f0():
    x = harmonic_tone(1000.0, duration_s=1.0, sample_rate=SR, n_harmonics=20, amplitude=0.8)
    assert np.abs(x).max() == pytest.approx(0.8)
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    assert freqs[spectrum.argmax()] == pytest.approx(1000.0)
    peaks = freqs[spectrum > 0.01 * spectrum.max()]
    assert peaks.max() == pytest.approx(7000.0)  # harmonics 1..7 of 1 kHz fit under 8 kHz


def test_vibrato():
    f0 = vibrato_f0(440.0, duration_s=1.0, sample_rate=SR, vibrato_hz=5.0, vibrato_semitones=0.5)
    assert f0.max() == pytest.approx(440.0 * 2 ** (0.5 / 12), rel=1e-4)
    assert f0.min() == pytest.approx(440.0 * 2 ** (-0.5 / 12), rel=1e-4)
    x = harmonic_tone(440.0, duration_s=1.0, sample_rate=SR, vibrato_hz=5.0, vibrato_semitones=0.5)
    assert zero_crossing_hz(x, SR) == pytest.approx(440.0, rel=0.01)


def test_noise_is_reproducible():
    a = noise(duration_s=1.0, sample_rate=SR, amplitude=0.1, seed=3)
    np.testing.assert_array_equal(a, noise(duration_s=1.0, sample_rate=SR, amplitude=0.1, seed=3))
    assert not np.array_equal(a, noise(duration_s=1.0, sample_rate=SR, amplitude=0.1, seed=4))
    assert a.std() == pytest.approx(0.1, rel=0.05)


def test_levels_and_silence():
    assert rms_db(sine(440.0, duration_s=1.0, sample_rate=SR)) == pytest.approx(-3.0103, abs=1e-3)
    batch = np.stack(
        [sine(440.0, duration_s=0.1, sample_rate=SR, amplitude=a) for a in (1.0, 1e-4, 0.0)]
    )
    levels = rms_db(batch)
    assert levels.shape == (3,) and levels[2] == pytest.approx(-200.0)
    assert is_silent(batch).tolist() == [False, True, True]
    assert is_silent(batch[1], threshold_db=-90.0) is False


def test_normalize_peak():
    x = np.array([0.1, -0.4, 0.2], dtype=np.float32)
    y = normalize_peak(x, peak=0.8)
    np.testing.assert_allclose(y, [0.2, -0.8, 0.4], rtol=1e-6)
    assert y.dtype == np.float32
    silence = np.zeros(4, dtype=np.float32)
    np.testing.assert_array_equal(normalize_peak(silence), silence)
    with pytest.raises(AudioError, match="peak must be positive, e.g. 0.9"):
        normalize_peak(x, peak=0.0)


def test_bad_duration():
    with pytest.raises(AudioError, match=r"duration_s=0.0 gives no samples at 16000 Hz"):
        sine(440.0, duration_s=0.0, sample_rate=SR)


def test_decaying_tone_has_its_pitch_decays_and_respects_nyquist() -> None:
    from dlwa.audio.signals import decaying_tone

    sr = 16000
    tone = decaying_tone(440.0, duration_s=1.0, sample_rate=sr, harmonics=(1.0, 0.5), decay_s=0.2)
    assert tone.dtype == np.float32 and tone.shape == (sr,)
    assert np.max(np.abs(tone)) == pytest.approx(0.5, abs=1e-6)
    spectrum = np.abs(np.fft.rfft(tone[: sr // 4]))
    assert np.argmax(spectrum) * 4 == pytest.approx(440, abs=4)
    first, last = np.abs(tone[: sr // 4]).mean(), np.abs(tone[-sr // 4 :]).mean()
    assert last < 0.05 * first
    # 5 kHz fundamental at 16 kHz: the 2nd harmonic (10 kHz) is above Nyquist and left out.
    high = decaying_tone(5000.0, duration_s=0.25, sample_rate=sr, harmonics=(1.0, 1.0), decay_s=1)
    spectrum = np.abs(np.fft.rfft(high))
    freqs = np.fft.rfftfreq(len(high), 1 / sr)
    assert spectrum[freqs > 6000].max() < 1e-3 * spectrum.max()


def test_decaying_tone_reports_progress_per_harmonic() -> None:
    from dlwa.audio.signals import decaying_tone

    seen: list[float] = []
    decaying_tone(220.0, duration_s=0.1, sample_rate=8000, harmonics=(1, 0.5, 0.25, 0.1),
                  decay_s=0.5, progress=seen.append)
    assert seen == [0.25, 0.5, 0.75, 1.0]
