"""File I/O, resampling and the data layer import without torch (it costs seconds)."""

import subprocess
import sys

import dlwa.audio


def run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_light_imports_do_not_load_torch():
    out = run(
        "import sys, numpy as np\n"
        "import dlwa.audio as A, dlwa.data\n"
        "x = A.sine(440.0, duration_s=0.1, sample_rate=16000)\n"
        "A.resample(x, orig_sample_rate=16000, sample_rate=8000); A.mu_law_encode(x); A.midi_to_hz(60.0)\n"
        "A.frame(x, frame_length=64, hop_length=16); A.mel_filterbank(sample_rate=16000, n_fft=256, n_mels=20)\n"
        "print('torch' in sys.modules)\n"
    )
    assert out.strip() == "False"


def test_torch_names_load_on_first_use():
    out = run(
        "import sys, dlwa.audio as A\n"
        "stft = A.stft\n"
        "print('torch' in sys.modules, stft.__module__, A.LogMelSpectrogram.__name__)\n"
    )
    assert out.split() == ["True", "dlwa.audio.spectral", "LogMelSpectrogram"]


def test_every_exported_name_resolves():
    for name in dlwa.audio.__all__:
        assert getattr(dlwa.audio, name) is not None, name
    assert callable(dlwa.audio.resample)  # the function, not the module of the same name
