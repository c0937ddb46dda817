"""Time Magenta's own GANSynth generation on the CPU (reference environment only).

The reference figure for dlwa's GANSynth: Magenta 2.1.4's ``mel_prog_hires`` network (the
released ``all_instruments``: z of 256, 61 pitches, 7 resolutions up to [128, 1024], filters
``min(4096 / 2^block, 256)``) at its final stage with random weights (the released
checkpoints download from GCS), saved and reloaded with ``Model.load_from_path`` as the
course's worker does, then ``generate_samples_from_z`` timed per 4-second note at batch 1 and
batch 8: warm-up calls first, then the median of several runs. Prints one JSON line.

Needs the reference environment of ``make_gansynth_fixtures.py`` (never dlwa's .venv):

    /tmp/refenv/bin/python scripts/bench_gansynth_reference.py [--runs 5] [--threads N]

``--threads`` sets TensorFlow's intra- and inter-op threads (default: TensorFlow's own).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gansynth_reference_env

gansynth_reference_env.install()

import numpy as np
import tensorflow.compat.v1 as tf
from magenta.models.gansynth.configs import mel_prog_hires
from magenta.models.gansynth.lib import flags as lib_flags
from magenta.models.gansynth.lib import model as lib_model
from magenta.models.gansynth.lib import train_util

BATCHES = (1, 8)


def save_random_model(root: Path) -> None:
    """``mel_prog_hires`` at its last stage with random (initial) weights, Magenta's layout."""
    flags = lib_flags.Flags()
    flags.load(mel_prog_hires.hparams)
    flags["train_root_dir"] = str(root)
    flags["tfds_data_dir"] = str(root)  # the hparam mel_prog_hires training needs (unread)
    lib_model.set_flags(flags)
    stage_id = train_util.get_total_num_stages(**flags) - 1
    (root / f"stage_{stage_id:05d}").mkdir()
    # Written first, as gansynth_train does: building the model adds non-JSON entries.
    (root / "experiment.json").write_text(json.dumps(dict(flags)))
    with tf.Graph().as_default():
        model = lib_model.Model(stage_id, 1, flags)
        model.sess.run(tf.global_variables_initializer())
        step = tf.train.get_global_step()
        model.sess.run(step.assign(flags["total_num_images"]))
        tf.train.Saver().save(model.sess, str(root / f"stage_{stage_id:05d}" / "model.ckpt"),
                              global_step=flags["total_num_images"], write_meta_graph=False)
        model.sess.close()


def time_batch(root: Path, batch: int, runs: int, warmup: int) -> dict[str, float]:
    """Seconds per note for ``generate_samples_from_z`` at one batch size."""
    extra = lib_flags.Flags({"eval_batch_size": batch})
    with tf.Graph().as_default():
        start = time.perf_counter()
        model = lib_model.Model.load_from_path(str(root), extra)
        load_s = time.perf_counter() - start
        rng = np.random.default_rng(0)
        pitches = [60] * batch
        times = []
        for i in range(warmup + runs):
            z = rng.standard_normal((batch, model.config["latent_vector_size"]))
            start = time.perf_counter()
            audio = model.generate_samples_from_z(z, pitches)
            elapsed = time.perf_counter() - start
            if i >= warmup:
                times.append(elapsed)
        assert audio.shape == (batch, 64000)
        model.sess.close()
    median = statistics.median(times)
    return {"batch": batch, "load_s": round(load_s, 2), "median_s": round(median, 4),
            "seconds_per_note": round(median / batch, 4),
            "min_seconds_per_note": round(min(times) / batch, 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "all_instruments_random"
        root.mkdir()
        save_random_model(root)
        results = [time_batch(root, batch, args.runs, args.warmup) for batch in BATCHES]
    print(json.dumps({
        "benchmark": "magenta_gansynth_generate_samples_from_z",
        "model": "mel_prog_hires (all_instruments architecture, random weights)",
        "note_seconds": 4.0, "runs": args.runs, "warmup": args.warmup,
        "threads": args.threads, "tensorflow": tf.__version__,
        "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "load_avg_1min": round(os.getloadavg()[0], 2), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
