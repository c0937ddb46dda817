"""Make the GANSynth importer fixtures with Magenta itself (reference environment only).

Needs the separate reference environment of ../shared/reference/dependencies.md §3, never
dlwa's .venv:

    python3.11 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install tensorflow-cpu note-seq==0.0.5 tf-slim pygtrie \
        tensorflow-probability==0.25.0 dm-tree
    /tmp/refenv/bin/pip install --no-deps tf-keras==2.21.0 magenta==2.1.4 \
        tensorflow-gan==2.1.0 tensorflow-hub
    /tmp/refenv/bin/python scripts/make_gansynth_fixtures.py tests/gansynth/fixtures

(Magenta 2.1.4's GANSynth then runs with the shims in ``gansynth_reference_env.py``:
legacy Keras, stub ``tf.estimator``, ``inspect.getargspec``, a stub
``tensorflow_datasets``, and the course fork's ``nsynth_tfrecord`` dataset for the pitch set
from ``meta.json``.)

For each fixture it builds Magenta's GANSynth ``lib.model.Model`` at its final stage (for
``partial``, an earlier one) from flags shaped like ``mel_prog_hires`` (or ``prog_hires``)
but toy-sized, with non-default values for every flag the importer reads. Every variable
(generator, its ``ExponentialMovingAverage`` copies, discriminator, optimiser slots; biases
included) gets seeded random values, the EMA copies different ones from the raw weights.
It saves the model in Magenta's layout (``experiment.json``, ``stage_000NN/checkpoint``
with a relative path as the course's ``postprocess_model.py`` leaves it,
``model.ckpt-N.{index,data-*}``; the ``.meta`` graph is left out, as neither Magenta's
``load_from_path`` nor dlwa needs it), reloads it with ``Model.load_from_path`` and records
in ``<name>_expected.npz`` the fixed latents ``z``, the ``pitches`` (five: more than the
batch, so Magenta's padding runs too), the ``audio`` that ``generate_samples_from_z``
returns and Magenta's ``progress``.

- ``mel/``: ``mel_prog_hires``-like, 61 NSynth pitches (no ``meta.json``),
  ``specgrams_prespecified_normalizer`` with non-default constants, 8 kHz.
- ``linear/``: ``prog_hires``-like, a course-style custom model: ``meta.json`` with five
  pitches, ``specgrams_freq_normalizer`` (its statistics in ``assets/``), a linear
  ``to_rgb``, 5 × 5 kernels, time-limited training.
- ``partial/``: training stopped in stage 3 of 7 (block 3 of 4 fading in, progress 1.3),
  and an ``experiment.json`` holding only the non-default flags.

``mel_matrix_1024.npz`` summarises Magenta's linear↔mel matrices at the released models'
size (row and column sums, and the low corner where narrow bands are widened).

``tests/gansynth/test_gansynth_convert.py`` checks dlwa's importer against them.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gansynth_reference_env

gansynth_reference_env.install()

import numpy as np
import tensorflow.compat.v1 as tf
from magenta.models.gansynth.lib import flags as lib_flags
from magenta.models.gansynth.lib import model as lib_model
from magenta.models.gansynth.lib import train_util
from magenta.models.gansynth.lib.specgrams_helper import SpecgramsHelper

FIXTURES: dict[str, dict[str, Any]] = {
    "mel": {
        "hparams": {
            "data_type": "mel", "dataset_name": "nsynth_tfrecord",
            "train_progressive": True, "stable_stage_num_images": 200,
            "transition_stage_num_images": 100, "total_num_images": 1500,
            "batch_size_schedule": [3], "latent_vector_size": 20, "kernel_size": 3,
            "start_height": 2, "start_width": 4, "scale_mode": "ALL", "scale_base": 2,
            "num_resolutions": 4, "fmap_base": 48, "fmap_decay": 0.9, "fmap_max": 14,
            "to_rgb_activation": "tanh", "g_fn": "specgram", "d_fn": "specgram",
            "sample_rate": 8000, "audio_length": 300,
            "data_normalizer": "specgrams_prespecified_normalizer",
            "mag_normalizer_a": 0.3, "mag_normalizer_b": -0.5,
            "p_normalizer_a": 0.9, "p_normalizer_b": 0.05,
        },
        "global_step": 1500, "train_time": 0.0, "meta_pitches": None,
        "pitches": [24, 60, 84, 33, 71],
    },
    "linear": {
        "hparams": {
            "data_type": "linear", "dataset_name": "nsynth_tfrecord",
            "train_progressive": True, "stable_stage_num_images": 300,
            "transition_stage_num_images": 300, "total_num_images": 3000,
            "train_time_limit": 3600.0, "train_time_stage_multiplier": 1.5,
            "batch_size_schedule": [2, 4], "latent_vector_size": 12, "kernel_size": 5,
            "start_height": 1, "start_width": 2, "scale_mode": "ALL", "scale_base": 2,
            "num_resolutions": 5, "fmap_base": 80, "fmap_decay": 1.0, "fmap_max": 10,
            "to_rgb_activation": "linear", "g_fn": "specgram", "d_fn": "specgram",
            "sample_rate": 16000, "audio_length": 290,
            "data_normalizer": "specgrams_freq_normalizer",
            "train_instrument_sources": [0], "train_min_pitch": 24, "train_max_pitch": 84,
        },
        # Past the time limit, but fewer images than the last stage's end: only the time
        # says the model finished.
        "global_step": 2100, "train_time": 3700.0,
        "meta_pitches": [47, 32, 72, 40, 60, 32],
        "pitches": [32, 72, 47, 60, 40],
    },
    "partial": {
        # An experiment.json with only these keys (Magenta's set_flags fills in the rest),
        # and training stopped in stage 3 of 7, fading in block 3 of 4 (progress 1.3).
        "hparams": {
            "data_type": "linear", "dataset_name": "nsynth_tfrecord",
            "stable_stage_num_images": 100, "transition_stage_num_images": 100,
            "total_num_images": 1000, "latent_vector_size": 8, "start_height": 2,
            "start_width": 2, "num_resolutions": 4, "fmap_base": 32, "fmap_max": 8,
            "audio_length": 150, "mag_normalizer_a": 0.25, "mag_normalizer_b": 0.25,
        },
        "stage": 3, "global_step": 330, "train_time": 0.0, "meta_pitches": None,
        "pitches": [60, 24, 84, 61, 45], "full_experiment": False,
    },
}


def make_flags(hparams: dict[str, Any], root: Path) -> lib_flags.Flags:
    """Flags as ``gansynth_train`` makes them: config, then defaults (``set_flags``)."""
    flags = lib_flags.Flags()
    flags.load(hparams)
    flags["train_root_dir"] = str(root)
    lib_model.set_flags(flags)
    return flags


def write_meta(root: Path, pitches: list[int]) -> None:
    """A course-style ``meta.json`` (make_dataset.py): one entry per note."""
    meta = {f"fixture_{i}_{p}": {"instrument_str": "fixture", "pitch": p,
                                 "instrument_source": 0, "instrument_family": 0,
                                 "qualities": [0] * 10}
            for i, p in enumerate(pitches)}
    (root / "meta.json").write_text(json.dumps(meta, indent=1))


def write_freq_normalizer(root: Path, n_freq: int, rng: np.random.RandomState) -> None:
    """``assets/specgrams_freq_normalizer.npz``: [n_freq, (m_a, m_b, p_a, p_b)]."""
    stats = np.stack([rng.uniform(0.2, 0.3, n_freq), rng.uniform(0.35, 0.7, n_freq),
                      rng.uniform(0.7, 0.9, n_freq), rng.uniform(-0.05, 0.05, n_freq)],
                     axis=1)
    assets = root / "assets"
    assets.mkdir()
    buffer = io.BytesIO()
    np.savez(buffer, normalizer=stats)
    (assets / "specgrams_freq_normalizer.npz").write_bytes(buffer.getvalue())
    (assets / "DONE_specgrams_freq_normalizer.npz").write_text("")


def fill_variables(session: tf.Session, seed: int, global_step: int, train_time: float,
                   linear_rgb: bool) -> None:
    """Seeded random values for every variable (the step and time as given)."""
    rng = np.random.RandomState(seed)
    for variable in tf.global_variables():
        name = variable.op.name
        shape = variable.shape.as_list()
        dtype = variable.dtype.base_dtype.as_numpy_dtype
        if name == "global_step":
            value = np.asarray(global_step, dtype)
        elif not np.issubdtype(dtype, np.floating):
            continue
        elif name.startswith("Variable") and not shape:  # Magenta's train_time
            value = np.asarray(train_time, dtype)
        elif name.endswith(("/bias", "/bias/ExponentialMovingAverage")):
            value = rng.normal(0.0, 0.3, shape)
        elif "/to_rgb/" in name and linear_rgb:
            value = rng.normal(0.0, 0.35, shape)  # keeps an untanh'd output in range
        else:
            value = rng.normal(0.0, 1.0, shape)
        session.run(variable.assign(np.asarray(value, dtype)))


def build(name: str, spec: dict[str, Any], out: Path, seed: int) -> None:
    root = out / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    hparams = spec["hparams"]
    if spec["meta_pitches"] is not None:
        write_meta(root, spec["meta_pitches"])
    flags = make_flags(hparams, root)  # Magenta reads meta.json and assets/ from here
    stage_id = spec.get("stage", train_util.get_total_num_stages(**flags) - 1)
    batch_size = train_util.get_batch_size(stage_id, **flags)
    if flags["data_normalizer"] == "specgrams_freq_normalizer":
        n_freq = flags["start_width"] * 2 ** (flags["num_resolutions"] - 1)
        write_freq_normalizer(root, n_freq, np.random.RandomState(seed + 100))
    stage_dir = root / f"stage_{stage_id:05d}"
    stage_dir.mkdir()
    with tf.Graph().as_default():
        model = lib_model.Model(stage_id, batch_size, flags)
        for variable in tf.global_variables():
            print(f"  {variable.op.name} {variable.shape.as_list()}")
        fill_variables(model.sess, seed, spec["global_step"], spec["train_time"],
                       flags["to_rgb_activation"] == "linear")
        saver = tf.train.Saver(save_relative_paths=True)
        saver.save(model.sess, str(stage_dir / "model.ckpt"),
                   global_step=spec["global_step"], write_meta_graph=False)
        model.sess.close()
    # experiment.json as gansynth_train writes it (all flags), minus what the course's
    # postprocess_model.py removes.
    experiment = dict(make_flags(hparams, root)) if spec.get("full_experiment", True) else hparams
    experiment.pop("train_root_dir", None)
    experiment.pop("train_meta_path", None)
    (root / "experiment.json").write_text(json.dumps(experiment, indent=1, sort_keys=True))
    record(root, spec["pitches"], seed)


def record(root: Path, pitches: list[int], seed: int) -> None:
    """Reload with Magenta's own loader and record what it generates."""
    with tf.Graph().as_default():
        model = lib_model.Model.load_from_path(str(root))
        rng = np.random.RandomState(seed + 1000)
        z = rng.normal(size=[len(pitches), model.config["latent_vector_size"]])
        z = z.astype(np.float32)  # what the placeholder holds
        progress = model.sess.run(model.progress)
        audio = model.generate_samples_from_z(z, pitches,
                                              max_audio_length=model.config["audio_length"])
        model.sess.close()
    print(f"{root.name}: stage {model.stage_id}, progress {progress}, batch "
          f"{model.batch_size}, pitches {sorted(model.pitch_counts)}, audio {audio.shape}, "
          f"peak {np.abs(audio).max():.3g}")
    np.savez_compressed(root.parent / f"{root.name}_expected.npz", z=z,
                        pitches=np.asarray(pitches, np.int64),
                        audio=np.asarray(audio, np.float32),
                        progress=np.float32(progress))


def record_mel_matrix(out: Path) -> None:
    """Magenta's mel matrices for the released models' shape ([128, 1024] at 16 kHz), in
    summary: every row and column sum, and the low corner where bands are widened."""
    helper = SpecgramsHelper(audio_length=64000, spec_shape=(128, 1024), overlap=0.75,
                             sample_rate=16000, mel_downscale=1)
    l2m, m2l = helper._linear_to_mel_matrix(), helper._mel_to_linear_matrix()
    np.savez_compressed(out / "mel_matrix_1024.npz", l2m_col_sums=l2m.sum(axis=0),
                        l2m_row_sums=l2m.sum(axis=1), m2l_col_sums=m2l.sum(axis=0),
                        m2l_row_sums=m2l.sum(axis=1), l2m_corner=l2m[:48, :48],
                        m2l_corner=m2l[:48, :48])


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/gansynth/fixtures").resolve()
    out.mkdir(parents=True, exist_ok=True)
    for seed, (name, spec) in enumerate(FIXTURES.items()):
        print(name)
        build(name, spec, out, seed)
    record_mel_matrix(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
