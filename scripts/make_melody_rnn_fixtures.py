"""Make the MelodyRNN importer fixtures with Magenta itself (reference environment only).

Needs the separate reference environment of ../shared/reference/dependencies.md §3, never
dlwa's .venv:

    python3.11 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install tensorflow-cpu note-seq==0.0.5 tf-slim pygtrie \
        tensorflow-probability==0.25.0 dm-tree
    /tmp/refenv/bin/pip install --no-deps tf-keras==2.21.0 magenta==2.1.4
    TF_USE_LEGACY_KERAS=1 /tmp/refenv/bin/python scripts/make_melody_rnn_fixtures.py \
        tests/fixtures/melody_rnn

For each of basic_rnn, lookback_rnn and attention_rnn it builds Magenta's generation graph
at toy size (layers [16, 12]), fills every variable with seeded random values (biases
included, so nothing is left at an easy zero), saves a checkpoint, lets
``MelodyRnnSequenceGenerator.create_bundle_file`` write ``<config>.mag``, reloads that
bundle through Magenta's own generator, and records in ``<config>.npz`` the encoder's
inputs and the network's softmax for two fixed melodies (``events_<i>``, ``inputs_<i>``,
``softmax_<i>``). ``tests/melody_rnn/test_convert.py`` checks dlwa's importer against them.
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()

import note_seq
from magenta.models.melody_rnn import melody_rnn_model
from magenta.models.melody_rnn import melody_rnn_sequence_generator as seq_gen
from magenta.models.shared import (
    events_rnn_graph,
    sequence_generator_bundle,
)

CONFIGS = ("basic_rnn", "lookback_rnn", "attention_rnn")
LAYER_SIZES = [16, 12]
MELODIES = (
    # A phrase with rests, note-offs, held notes and an exact one-bar repeat (lookbacks).
    [60, -2, 62, -2, 64, -1, 65, -2, 67, -2, -2, -2, 65, 64, 62, -1] * 3
    + [72, -2, 71, -2, 69, -1, -2, 67, 55, -2, 59, 83, 48, -1, -2, -2] * 2,
    # Sparse and wide, starting with silence.
    [-2, -2, -2, 50, -2, -2, -1, -2, 81, -2, 77, -2, -1, 74, 74, 74] * 5,
)


def build_bundle(name: str, out: Path, seed: int) -> None:
    config = copy.deepcopy(melody_rnn_model.default_configs[name])
    config.hparams.rnn_layer_sizes = LAYER_SIZES
    config.hparams.batch_size = 1
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = os.path.join(tmp, "model.ckpt")
        with tf.Graph().as_default():
            events_rnn_graph.get_build_graph_fn("generate", config)()
            rng = np.random.RandomState(seed)
            with tf.Session() as session:
                session.run(tf.global_variables_initializer())
                for variable in tf.global_variables():
                    dtype = variable.dtype.base_dtype.as_numpy_dtype
                    if np.issubdtype(dtype, np.floating):
                        value = rng.normal(0.0, 0.4, variable.shape.as_list()).astype(dtype)
                        session.run(variable.assign(value))
                    print(f"  {variable.name} {variable.shape.as_list()}")
                tf.train.Saver().save(session, checkpoint)
        generator = seq_gen.MelodyRnnSequenceGenerator(
            model=melody_rnn_model.MelodyRnnModel(config), details=config.details,
            steps_per_quarter=4, checkpoint=checkpoint)
        generator.create_bundle_file(str(out / f"{name}.mag"), "dlwa importer test fixture")
    record_outputs(name, config, out)


def record_outputs(name: str, config: object, out: Path) -> None:
    bundle = sequence_generator_bundle.read_bundle_file(str(out / f"{name}.mag"))
    generator = seq_gen.get_generator_map()[name](checkpoint=None, bundle=bundle)
    generator.initialize()
    model = generator._model
    graph = model._session.graph
    encoder = model._config.encoder_decoder
    inputs_t = graph.get_collection("inputs")[0]
    softmax_t = graph.get_collection("softmax")[0]
    temperature_t = graph.get_collection("temperature")[0]
    record = {}
    for i, events in enumerate(MELODIES):
        melody = note_seq.Melody(events)
        inputs = np.array(encoder.get_inputs_batch([melody], full_length=True), np.float32)
        softmax = model._session.run(
            softmax_t, {inputs_t: inputs, temperature_t: 1.0})
        record[f"events_{i}"] = np.array(list(melody), dtype=np.int64)
        record[f"inputs_{i}"] = inputs[0]
        record[f"softmax_{i}"] = np.asarray(softmax, np.float32)[0]
    np.savez_compressed(out / f"{name}.npz", **record)
    print(f"wrote {out / name}.mag and .npz")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/melody_rnn")
    out.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(CONFIGS):
        print(name)
        build_bundle(name, out, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
