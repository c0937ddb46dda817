"""Audio files: round trips, the float WAV Pd writes, resampling on load, clear failures."""

import struct

import numpy as np
import pytest

from dlwa.audio import (
    AudioError,
    AudioFileError,
    audio_info,
    load_audio,
    resampled_length,
    save_audio,
    sine,
)

SR = 16000


def write_extensible_float_wav(path, frames, sample_rate):
    """A 32-bit float WAVE_FORMAT_EXTENSIBLE file laid out as Pd's writesf~ writes it."""
    n_channels = frames.shape[1]
    data = frames.astype("<f4").tobytes()
    guid_ieee_float = struct.pack("<IHH8s", 3, 0, 0x10, bytes.fromhex("800000aa00389b71"))
    fmt = struct.pack(
        "<HHIIHHHHI16s",
        0xFFFE,
        n_channels,
        sample_rate,
        sample_rate * 4 * n_channels,
        4 * n_channels,
        32,
        22,
        32,
        0,
        guid_ieee_float,
    )
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


@pytest.mark.parametrize(
    ("name", "subtype", "tolerance"),
    [
        ("a.wav", "PCM_16", 1 / 32768),
        ("a.wav", "PCM_24", 1 / 2**23),
        ("a.wav", "FLOAT", 0.0),
        ("a.flac", "PCM_16", 1 / 32768),
        ("a.flac", "PCM_24", 1 / 2**23),
    ],
)
def test_round_trip(tmp_path, name, subtype, tolerance):
    x = sine(440.0, duration_s=0.1, sample_rate=SR, amplitude=0.7)
    path = save_audio(tmp_path / name, x, sample_rate=SR, subtype=subtype)
    y, sample_rate = load_audio(path)
    assert sample_rate == SR and y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() <= tolerance
    info = audio_info(path)
    assert (info.sample_rate, info.n_channels, info.n_samples) == (SR, 1, 1600)
    assert info.duration_s == pytest.approx(0.1) and info.subtype == subtype


def test_ogg_round_trip(tmp_path):
    x = sine(440.0, duration_s=0.5, sample_rate=SR, amplitude=0.5)
    y, _ = load_audio(save_audio(tmp_path / "a.ogg", x, sample_rate=SR))
    assert y.shape == x.shape
    assert np.corrcoef(x[800:-800], y[800:-800])[0, 1] > 0.99


def test_stereo_channels_first_and_mono_mix(tmp_path):
    left = sine(440.0, duration_s=0.1, sample_rate=SR, amplitude=0.5)
    stereo = np.stack([left, np.zeros_like(left)])
    path = save_audio(tmp_path / "s.wav", stereo, sample_rate=SR, subtype="FLOAT")
    y, _ = load_audio(path, mono=False)
    assert y.shape == (2, 1600) and y.flags.c_contiguous
    np.testing.assert_array_equal(y, stereo)
    mono, _ = load_audio(path)
    np.testing.assert_allclose(mono, left / 2, atol=1e-7)
    single, _ = load_audio(save_audio(tmp_path / "m.wav", left, sample_rate=SR), mono=False)
    assert single.shape == (1, 1600)


def test_reads_pd_style_extensible_float_wav(tmp_path):
    frames = np.stack([np.linspace(-1, 1, 480), np.linspace(1, -1, 480)], axis=1).astype(np.float32)
    frames[10, 0] = 1.5  # float files may exceed full scale; nothing is clipped
    path = tmp_path / "pd.wav"
    write_extensible_float_wav(path, frames, 48000)
    info = audio_info(path)
    assert (info.sample_rate, info.n_channels, info.n_samples, info.subtype) == (
        48000,
        2,
        480,
        "FLOAT",
    )
    y, sample_rate = load_audio(path, mono=False)
    assert sample_rate == 48000
    np.testing.assert_array_equal(y, frames.T)


def test_resampling_on_load(tmp_path):
    x = sine(1000.0, duration_s=0.3, sample_rate=44100, amplitude=0.5)
    path = save_audio(tmp_path / "hi.wav", x, sample_rate=44100, subtype="FLOAT")
    y, sample_rate = load_audio(path, sample_rate=SR)
    assert sample_rate == SR
    assert y.shape == (resampled_length(len(x), orig_sample_rate=44100, sample_rate=SR),)
    reference = sine(1000.0, duration_s=0.3, sample_rate=SR, amplitude=0.5)
    np.testing.assert_allclose(y[500:-500], reference[500:-500], atol=2e-3)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such audio file: .*nothing.wav"):
        load_audio(tmp_path / "nothing.wav")
    with pytest.raises(FileNotFoundError):
        audio_info(tmp_path / "nothing.wav")


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioFileError, match="is a folder, not an audio file"):
        load_audio(tmp_path)


@pytest.mark.parametrize(
    "content", [b"", b"not audio at all" * 10, b"RIFF\x00\x00\x00\x00WAVEfmt "]
)
def test_unreadable_file(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(
        AudioFileError,
        match=r"cannot read .*broken.wav as audio .*supported formats are WAV, FLAC, OGG",
    ):
        load_audio(path)
    with pytest.raises(AudioFileError):
        audio_info(path)


def test_empty_audio_file(tmp_path):
    path = tmp_path / "empty.wav"
    import soundfile as sf

    sf.write(str(path), np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(AudioFileError, match="holds no samples"):
        load_audio(path)


def test_save_errors(tmp_path):
    x = np.zeros(100, dtype=np.float32)
    with pytest.raises(
        AudioError, match=r"unsupported extension '.mp4'; use one of \['.flac', '.ogg', '.wav'\]"
    ):
        save_audio(tmp_path / "a.mp4", x, sample_rate=SR)
    with pytest.raises(AudioError, match=r"FLAC stores at most 24-bit PCM.*use 'PCM_24'"):
        save_audio(tmp_path / "a.flac", x, sample_rate=SR, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"subtype must be one of"):
        save_audio(tmp_path / "a.wav", x, sample_rate=SR, subtype="PCM_8")
    with pytest.raises(FileNotFoundError, match="folder .*missing does not exist"):
        save_audio(tmp_path / "missing" / "a.wav", x, sample_rate=SR)
    with pytest.raises(AudioError, match="floating dtype, got int16"):
        save_audio(tmp_path / "a.wav", x.astype(np.int16), sample_rate=SR)
    with pytest.raises(TypeError):
        save_audio(tmp_path / "a.wav", x, SR)  # sample_rate is keyword-only


def test_clipping_warns_for_pcm_only(tmp_path):
    x = np.array([0.0, 1.5, -0.2], dtype=np.float32)
    with pytest.warns(UserWarning, match=r"peaks at 1.500, beyond ±1: a.wav will clip"):
        save_audio(tmp_path / "a.wav", x, sample_rate=SR)
    y, _ = load_audio(save_audio(tmp_path / "f.wav", x, sample_rate=SR, subtype="FLOAT"))
    np.testing.assert_array_equal(y, x)
