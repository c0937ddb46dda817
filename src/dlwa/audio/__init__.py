"""Shared DSP for every dlwa model: I/O, resampling, loudness, spectra, mu-law, conversions.

Pure functions; numpy in and out where that is natural (I/O, resampling, test signals),
torch where models need gradients (spectra, losses); elementwise helpers, loudness and
mu-law take either and return the kind they were given. Vocabulary: ``sample_rate`` (Hz,
always a keyword, never defaulted), ``n_fft``, ``hop_length``, ``frame_rate`` (frames/s),
``n_samples``, ``n_frames``, ``f0_hz``, ``loudness_db``, ``pitch_midi``, ``duration_s``.
Audio is [n_samples] or [batch, n_samples]; frame-wise features are [..., n_frames, ...].
See ``docs/audio.md``.

Importing ``dlwa.audio`` does not import torch: the torch-only names (spectra, loudness,
the nn.Module wrappers) load on first use, so file I/O, resampling and the data layer stay
quick to import (e.g. in a Pd object that only reads a file).
"""

import importlib
from typing import TYPE_CHECKING, Any

from dlwa.audio.conversions import (
    amplitude_to_db,
    db_to_amplitude,
    db_to_power,
    exp_sigmoid,
    hz_to_midi,
    midi_to_hz,
    power_to_db,
    safe_log,
)
from dlwa.audio.framing import frame, hop_length_for, n_frames_for, pad_for_frames
from dlwa.audio.io import AudioFileError, AudioInfo, audio_info, load_audio, save_audio
from dlwa.audio.mel import fft_frequencies, hz_to_mel, mel_filterbank, mel_to_hz
from dlwa.audio.mulaw import (
    linear_decode,
    linear_encode,
    mu_law_compress,
    mu_law_decode,
    mu_law_encode,
    mu_law_expand,
)
from dlwa.audio.resample import resample, resample_torch, resampled_length
from dlwa.audio.signals import (
    chirp,
    decaying_tone,
    harmonic_tone,
    is_silent,
    noise,
    normalize_peak,
    oscillator,
    rms_db,
    sine,
    vibrato_f0,
)
from dlwa.audio.validate import AudioError, check_audio, check_sample_rate, is_tensor

# Names whose modules import torch, loaded by __getattr__ on first use.
_TORCH_NAMES = {
    "a_weighted_loudness": "loudness",
    "a_weighting_db": "loudness",
    "hann_window": "spectral",
    "log_mel_spectrogram": "spectral",
    "magnitude_spectrogram": "spectral",
    "multiscale_spectral_loss": "spectral",
    "stft": "spectral",
    "LogMelSpectrogram": "transforms",
    "MultiScaleSpectralLoss": "transforms",
}

if TYPE_CHECKING:
    from dlwa.audio.loudness import a_weighted_loudness, a_weighting_db
    from dlwa.audio.spectral import (
        hann_window,
        log_mel_spectrogram,
        magnitude_spectrogram,
        multiscale_spectral_loss,
        stft,
    )
    from dlwa.audio.transforms import LogMelSpectrogram, MultiScaleSpectralLoss


def __getattr__(name: str) -> Any:
    module = _TORCH_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'dlwa.audio' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dlwa.audio.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AudioError",
    "AudioFileError",
    "AudioInfo",
    "LogMelSpectrogram",
    "MultiScaleSpectralLoss",
    "a_weighted_loudness",
    "a_weighting_db",
    "amplitude_to_db",
    "audio_info",
    "check_audio",
    "check_sample_rate",
    "chirp",
    "db_to_amplitude",
    "db_to_power",
    "decaying_tone",
    "exp_sigmoid",
    "fft_frequencies",
    "frame",
    "hann_window",
    "harmonic_tone",
    "hop_length_for",
    "hz_to_mel",
    "hz_to_midi",
    "is_silent",
    "is_tensor",
    "linear_decode",
    "linear_encode",
    "load_audio",
    "log_mel_spectrogram",
    "magnitude_spectrogram",
    "mel_filterbank",
    "mel_to_hz",
    "midi_to_hz",
    "mu_law_compress",
    "mu_law_decode",
    "mu_law_encode",
    "mu_law_expand",
    "multiscale_spectral_loss",
    "n_frames_for",
    "noise",
    "normalize_peak",
    "oscillator",
    "pad_for_frames",
    "power_to_db",
    "resample",
    "resample_torch",
    "resampled_length",
    "rms_db",
    "safe_log",
    "save_audio",
    "sine",
    "stft",
    "vibrato_f0",
]
