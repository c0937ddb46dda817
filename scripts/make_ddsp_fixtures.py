#!/usr/bin/env python3
"""Make tests/ddsp/fixtures/ with the real ddsp package (reference environment only).

Builds DDSP's solo-instrument autoencoder (``models/solo_instrument.gin``) at toy size,
sets every trainable variable to random values unlike its initial ones (kernels, biases,
LayerNorm gammas and betas, the GRU's input and recurrent biases drawn separately, the
reverb's response), runs it on fixed features, and saves what a DDSP training folder holds
(``ckpt-1.index``/``.data-00000-of-00001``, ``checkpoint``, ``operative_config-0.gin``,
``dataset_statistics.pkl``) plus ``expected.npz``: the inputs, the decoder's raw outputs,
the scaled controls, the harmonic signal, a fixed noise signal, the full output computed
with that noise (ddsp's own noise is random), and ddsp's ``compute_loudness`` of that
output and of a copy fading over 100 dB (``loudness_audio``), at n_fft 512 and 2048.

The reference environment (never needed by tests or CI; see
``shared/reference/dependencies.md`` §4):

    python3.11 -m venv /tmp/ddspref
    /tmp/ddspref/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 gin-config \\
        tensorflow-probability==0.25.0 scipy matplotlib scikit-learn
    /tmp/ddspref/bin/pip install --no-deps ddsp==3.7.0
    /tmp/ddspref/bin/pip install librosa    # compute_loudness's A-weighting
    TF_USE_LEGACY_KERAS=1 /tmp/ddspref/bin/python scripts/make_ddsp_fixtures.py

ddsp.training imports a few packages only its data and evaluation code use (tfds,
note_seq, cloud storage, hypertune); they are replaced by stubs here. librosa is real:
``compute_loudness`` takes its A-weighting from it (the script stops if it is missing).
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
for _name in ("tensorflow_datasets", "hypertune", "google.cloud.storage", "google.cloud",
              "note_seq", "note_seq.sequences_lib", "apache_beam", "mir_eval", "crepe",
              "pydub", "cloudml_hypertune"):
    try:
        __import__(_name)
    except Exception:  # noqa: BLE001 - any missing optional package gets a stub
        sys.modules[_name] = mock.MagicMock()

import ddsp
import ddsp.training
import gin
import librosa  # noqa: F401 - must be the real one: compute_loudness A-weights with it
import numpy as np
import tensorflow as tf

OUT = Path(__file__).resolve().parents[1] / "tests" / "ddsp" / "fixtures"
N_FRAMES, HOP, SR = 64, 64, 16000
N_SAMPLES = N_FRAMES * HOP
BINDINGS = [
    "RnnFcDecoder.rnn_channels = 16",
    "RnnFcDecoder.ch = 12",
    "RnnFcDecoder.layers_per_stack = 2",
    ("RnnFcDecoder.output_splits = (('amps', 1), ('harmonic_distribution', 8), "
     "('noise_magnitudes', 9))"),
    f"Harmonic.n_samples = {N_SAMPLES}",
    f"FilteredNoise.n_samples = {N_SAMPLES}",
    f"F0LoudnessPreprocessor.time_steps = {N_FRAMES}",
    "Reverb.reverb_length = 300",
    "F0LoudnessPreprocessor.compute_loudness = False",
    # The accurate phase accumulation DDSP offers for inference (the course sets it too).
    "Harmonic.use_angular_cumsum = True",
]


def randomise(model: tf.keras.Model, rng: np.random.Generator) -> None:
    """Give every trainable variable random values far from its initial ones.

    Kernels ~ N(0, 1/fan_in), biases and LayerNorm betas ~ N(0, 0.5²) (the GRU's (2, 3 ×
    units) bias draws its input and recurrent rows separately), gammas ~ U(0.5, 1.5), and
    the reverb a random response decaying over 60 taps.
    """
    for variable in model.trainable_variables:
        kind = variable.name.split("/")[-1].split(":")[0]
        shape = tuple(variable.shape)
        if kind in ("kernel", "recurrent_kernel"):
            value = rng.normal(0, 1 / np.sqrt(shape[0]), shape)
        elif kind in ("bias", "beta"):
            value = rng.normal(0, 0.5, shape)
        elif kind == "gamma":
            value = rng.uniform(0.5, 1.5, shape)
        elif kind == "ir":
            value = rng.normal(0, 0.05, shape) * np.exp(-np.arange(shape[-1]) / 60.0)
        else:
            raise ValueError(f"no rule to randomise {variable.name}")
        variable.assign(value.astype(np.float32))


def main() -> None:
    tf.random.set_seed(5)
    rng = np.random.default_rng(5)
    gin_dir = Path(ddsp.training.__file__).parent / "gin"
    gin.add_config_file_search_path(str(gin_dir))
    gin.parse_config_files_and_bindings(["models/solo_instrument.gin"], BINDINGS)
    model = ddsp.training.models.Autoencoder()
    t = np.arange(N_FRAMES) / 250.0
    f0_hz = (220.0 * 2 ** (np.sin(2 * np.pi * 2 * t) * 0.5 + t * 4 / 12)).astype(np.float32)
    loudness_db = (-40 + 30 * np.sin(np.pi * t / t[-1])).astype(np.float32)
    features = {"f0_hz": f0_hz[None], "loudness_db": loudness_db[None],
                "audio": np.zeros((1, N_SAMPLES), np.float32)}
    model(features, training=False)  # builds the variables
    randomise(model, rng)
    reverb_layer = next(layer for layer in model.processor_group.submodules
                        if isinstance(layer, ddsp.effects.Reverb))
    outputs = model(features, training=False)
    harmonic_controls = outputs["harmonic"]["controls"]
    noise_magnitudes = outputs["filtered_noise"]["controls"]["magnitudes"]
    noise = rng.uniform(-1, 1, (1, N_SAMPLES)).astype(np.float32)
    filtered = ddsp.core.frequency_filter(noise, noise_magnitudes, window_size=257)
    audio = reverb_layer(outputs["harmonic"]["signal"] + filtered).numpy()[0]
    fade = (10.0 ** np.linspace(0, -5, N_SAMPLES)).astype(np.float32)  # 0 dB → −100 dB
    loudness_audio = np.stack([audio, audio * fade])
    ddsp_loudness = {f"ddsp_loudness_db_{n_fft}": ddsp.spectral_ops.compute_loudness(
        loudness_audio, sample_rate=SR, frame_rate=250, n_fft=n_fft).numpy()
        for n_fft in (512, 2048)}

    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("ckpt-*"):
        old.unlink()
    tf.train.Checkpoint(model=model).save(str(OUT / "ckpt"))
    (OUT / "operative_config-0.gin").write_text(gin.operative_config_str())
    from sklearn.preprocessing import QuantileTransformer

    loudness_train = rng.normal(-30, 8, (2000, 1))
    quantile = QuantileTransformer(n_quantiles=101, output_distribution="normal")
    quantile.fit(loudness_train)
    with open(OUT / "dataset_statistics.pkl", "wb") as f:
        pickle.dump({"mean_pitch": 64.5, "mean_loudness": -30.0, "std_loudness": 8.0,
                     "quantile_transform": quantile}, f)
    np.savez_compressed(
        OUT / "expected.npz", f0_hz=f0_hz, loudness_db=loudness_db,
        raw_amps=outputs["amps"].numpy()[0],
        raw_harmonic_distribution=outputs["harmonic_distribution"].numpy()[0],
        raw_noise_magnitudes=outputs["noise_magnitudes"].numpy()[0],
        amplitudes=harmonic_controls["amplitudes"].numpy()[0],
        harmonic_distribution=harmonic_controls["harmonic_distribution"].numpy()[0],
        noise_magnitudes=noise_magnitudes.numpy()[0],
        harmonic=outputs["harmonic"]["signal"].numpy()[0], noise=noise[0],
        filtered_noise=filtered.numpy()[0], audio=audio,
        loudness_quantiles=quantile.quantiles_[:, 0], loudness_audio=loudness_audio,
        **ddsp_loudness,
    )
    for name, shape in tf.train.list_variables(str(OUT / "ckpt-1")):
        print(name, shape)


if __name__ == "__main__":
    main()
