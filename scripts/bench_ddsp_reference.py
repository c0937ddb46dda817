#!/usr/bin/env python3
"""Time the ddsp package's solo-instrument model (reference environment only).

The same configuration as ``dlwa bench ddsp``'s ``decoder_full_size`` (``solo_instrument.gin``:
GRU 512, stacks 3 x 512, 60 harmonics, 65 bands, 48000-sample reverb), 4 s at 16 kHz,
one thread, ``tf.function``, best of 5. Run with the interpreter of the environment that
``scripts/make_ddsp_fixtures.py`` describes:

    TF_USE_LEGACY_KERAS=1 /tmp/ddspref/bin/python scripts/bench_ddsp_reference.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
for _name in ("tensorflow_datasets", "hypertune", "google.cloud.storage", "google.cloud",
              "note_seq", "note_seq.sequences_lib", "apache_beam", "mir_eval", "crepe",
              "pydub", "librosa", "cloudml_hypertune"):
    try:
        __import__(_name)
    except Exception:  # noqa: BLE001 - any missing optional package gets a stub
        sys.modules[_name] = mock.MagicMock()

import ddsp.training
import gin
import numpy as np
import tensorflow as tf


def best(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    gin.add_config_file_search_path(str(Path(ddsp.training.__file__).parent / "gin"))
    gin.parse_config_files_and_bindings(["models/solo_instrument.gin"],
                                        ["F0LoudnessPreprocessor.compute_loudness = False"])
    model = ddsp.training.models.Autoencoder()
    features = {"f0_hz": np.full((1, 1000), 330.0, np.float32),
                "loudness_db": np.full((1, 1000), -30.0, np.float32),
                "audio": np.zeros((1, 64000), np.float32)}
    full = tf.function(lambda f: model(f, training=False))
    full(features)
    decoder = tf.function(lambda f: model.decoder(model.preprocessor(f, training=False),
                                                  training=False))
    decoder(features)
    n_params = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    print(f"ddsp {ddsp.__version__}, TF {tf.__version__}, {n_params / 1e6:.2f} M parameters")
    print(f"decoder: {best(lambda: decoder(features)) / 4:.4f} s per s of audio")
    print(f"decoder + synths + reverb: {best(lambda: full(features)) / 4:.4f} s per s of audio")


if __name__ == "__main__":
    main()
