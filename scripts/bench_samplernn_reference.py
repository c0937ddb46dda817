"""Time PRiSM SampleRNN's own generation on the CPU (reference environment only).

The reference figure for dlwa's SampleRNN: PRiSM's TF2 SampleRNN
(``rncm-prism/prism-samplernn``) generating as its ``generate.py`` does, with random weights,
for two configurations (``CONFIGS``): the course's ``lstm-linear-skip`` size and dlwa's
default size. For each, the model is built with PRiSM's ``train.create_model`` on
``[1, big_frame + seq_len, 1]`` codes as ``train.py`` builds it (Keras' own random
initialisation), saved with ``save_weights`` and loaded for each batch size (number of
sequences) with PRiSM's ``generate.create_inference_model``, as ``generate.py`` loads a
checkpoint. The timed loop is ``generate.generate``'s: from ``big_frame_size`` samples of
``q_zero``, ``model(samples[i], training=False, temperature=temperature)`` big frame by big
frame (``SampleRNN.call`` -> the ``tf.function`` ``SampleRNN.inference_step``, which runs the
tiers and samples every code with ``SampleRNN.sample``), temperature 0.95 through
``generate.get_temperature``, then the same ``tf.concat``. ``generate.generate`` itself is
not called because it rebuilds the model (and so retraces ``inference_step``) on every
call, takes whole seconds only and writes WAV files.

One warm-up generation (the first ``inference_step`` trace) comes first, then the median of
``--runs`` generations, RNN states reset before each. The figure is seconds of compute per
second of generated 16 kHz audio; at batch 8 it is wall time / seconds generated / 8, the
cost of one sequence's second of audio. Prints a markdown table and the machine line.

Needs the reference environment of ``make_samplernn_fixtures.py`` (never dlwa's .venv) and
PRiSM's source exported as described there:

    TF_USE_LEGACY_KERAS=1 /tmp/refenv_srn/bin/python scripts/bench_samplernn_reference.py \\
        --prism-src /tmp/prism_src [--runs 3] [--seconds 0.5] [--seconds-dlwa 2] [--threads N]

``--seconds`` is the audio generated per run (default 0.5, rounded down to whole big frames
of 64 samples); ``--seconds-course`` / ``--seconds-dlwa`` override it for one configuration.
``--threads`` sets TensorFlow's intra- and inter-op threads (default: TensorFlow's own, all
cores). ``--configs`` and ``--batches`` pick a subset.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from samplernn_reference_env import stub_unused_modules

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SAMPLE_RATE = 16000
TEMPERATURE = [0.95]  # generate.py's SAMPLING_TEMPERATURE
BATCHES = (1, 8)
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "course": ("course lstm-linear-skip",
               {"seq_len": 1024, "frame_sizes": [16, 64], "dim": 1024, "rnn_type": "lstm",
                "num_rnn_layers": 4, "q_type": "linear", "q_levels": 256, "emb_size": 256,
                "skip_conn": True}),
    "dlwa": ("dlwa default size",
             {"seq_len": 512, "frame_sizes": [16, 64], "dim": 256, "rnn_type": "gru",
              "num_rnn_layers": 2, "q_type": "mu-law", "q_levels": 256, "emb_size": 256}),
}


def save_random_checkpoint(config: dict[str, Any], root: Path) -> str:
    """PRiSM's model with random weights, built as train.py builds it; the checkpoint path."""
    import numpy as np
    import train as prism_train

    model = prism_train.create_model(1, config)
    init = np.zeros((1, model.big_frame_size + model.seq_len, 1), dtype="int32")
    model(init)
    path = str(root / "model.ckpt-1")
    model.save_weights(path)
    return path


def generate_frames(model, temperature, num_frames: int):
    """generate.generate's loop: ``num_frames`` big frames from q_zero; [batch, n, 1] codes."""
    import numpy as np
    import tensorflow as tf

    q_zero = model.q_levels // 2
    samples = []
    init_samples = np.full((model.batch_size, model.big_frame_size, 1), q_zero)
    samples.append(tf.constant(init_samples, dtype=tf.int32))
    for i in range(num_frames):
        frame_samples = model(samples[i], training=False, temperature=temperature)
        samples.append(frame_samples)
    samples = tf.concat(samples, axis=1)
    return samples[:, model.big_frame_size:, :]


def time_config(ckpt: str, config: dict[str, Any], batch: int, seconds: float,
                runs: int) -> dict[str, Any]:
    import generate as prism_generate

    start = time.perf_counter()
    model = prism_generate.create_inference_model(ckpt, batch, config)
    load_s = time.perf_counter() - start
    temperature = prism_generate.get_temperature(TEMPERATURE, batch)
    num_frames = max(1, round(seconds * SAMPLE_RATE) // model.big_frame_size)
    generated_s = num_frames * model.big_frame_size / SAMPLE_RATE

    model.reset_rnn_states()
    start = time.perf_counter()
    generate_frames(model, temperature, 1)  # warm-up: traces inference_step
    warmup_s = time.perf_counter() - start
    times = []
    for _ in range(runs):
        model.reset_rnn_states()
        start = time.perf_counter()
        out = generate_frames(model, temperature, num_frames)
        times.append(time.perf_counter() - start)
    traces = model.inference_step.experimental_get_tracing_count()
    assert traces == 1, f"inference_step traced {traces} times"
    codes = out.numpy()
    assert codes.shape == (batch, num_frames * model.big_frame_size, 1), codes.shape
    assert codes.min() >= 0 and codes.max() < model.q_levels
    median = statistics.median(times)
    return {"batch": batch, "generated_s": generated_s, "load_s": load_s,
            "warmup_s": warmup_s, "median_s": median,
            "rtf": median / generated_s / batch, "min_rtf": min(times) / generated_s / batch}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prism-src", type=Path, default=Path("/tmp/prism_src"),
                        help="folder with PRiSM's train.py, generate.py and samplernn/")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5,
                        help="audio generated per run, seconds (default 0.5)")
    for key in CONFIGS:
        parser.add_argument(f"--seconds-{key}", type=float, default=None,
                            help=f"override --seconds for {CONFIGS[key][0]!r}")
    parser.add_argument("--threads", type=int, default=None,
                        help="TF intra- and inter-op threads (default: TF's own, all cores)")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    args = parser.parse_args()

    stub_unused_modules()
    sys.path.insert(0, str(args.prism_src.resolve()))
    import tensorflow as tf

    assert tf.keras.__name__.startswith("tf_keras"), "needs tf-keras 2.x (TF_USE_LEGACY_KERAS=1)"
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        threads = f"{args.threads} (intra- and inter-op)"
    else:
        threads = f"TensorFlow default (all {os.cpu_count()} cores)"
    tf.keras.utils.set_random_seed(0)

    rows = []
    for key in args.configs:
        label, config = CONFIGS[key]
        seconds = getattr(args, f"seconds_{key}") or args.seconds
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = save_random_checkpoint(config, Path(tmp))
            for batch in args.batches:
                result = time_config(ckpt, config, batch, seconds, args.runs)
                rows.append((label, result))
                print(f"# {label}, batch {batch}: {result['rtf']:.2f} s per second of audio",
                      file=sys.stderr, flush=True)

    print("| config | batch | audio generated (s) | median wall (s) "
          "| s compute / s audio (per sequence) | min | warm-up (s) |")
    print("|---|---|---|---|---|---|---|")
    for label, r in rows:
        print(f"| {label} | {r['batch']} | {r['generated_s']:.3f} x {r['batch']} "
              f"| {r['median_s']:.3f} | {r['rtf']:.2f} | {r['min_rtf']:.2f} "
              f"| {r['warmup_s']:.1f} |")
    print()
    print(f"PRiSM SampleRNN generate.py loop (SampleRNN.inference_step), random weights, "
          f"{SAMPLE_RATE} Hz, temperature {TEMPERATURE[0]}, median of {args.runs} runs after "
          f"one warm-up; threads: {threads}.")
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores, {platform.machine()}; "
          f"TensorFlow {tf.__version__} (tf-keras {metadata.version('tf-keras')}), "
          f"Python {platform.python_version()}; load avg (1 min) {os.getloadavg()[0]:.2f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
