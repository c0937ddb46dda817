"""Make the PRiSM SampleRNN importer fixtures with PRiSM's own code (reference environment only).

Needs a separate reference environment, never dlwa's .venv, and PRiSM's source
(``rncm-prism/prism-samplernn``, fixtures made at commit f05a772f, 2021-11-24): a folder
holding its ``train.py``, ``callbacks.py``, ``generate.py``, ``dataset.py`` and
``samplernn/`` package (a checkout, or exported from a mirror with ``git show``)::

    python3.11 -m venv /tmp/refenv_srn
    /tmp/refenv_srn/bin/pip install tensorflow-cpu numpy
    /tmp/refenv_srn/bin/pip install --no-deps tf-keras==2.21.0
    mkdir -p /tmp/prism_src/samplernn
    for f in train.py callbacks.py generate.py dataset.py default.config.json \\
            $(git -C PRISM_REPO ls-tree --name-only HEAD samplernn/); do
        git -C PRISM_REPO show HEAD:$f > /tmp/prism_src/$f
    done
    TF_USE_LEGACY_KERAS=1 /tmp/refenv_srn/bin/python scripts/make_samplernn_fixtures.py \\
        --prism-src /tmp/prism_src tests/fixtures/samplernn

PRiSM is TF2 with Keras-2 layers, so ``tf.keras`` must be tf-keras 2.x
(``TF_USE_LEGACY_KERAS=1``; the script sets it too). PRiSM's modules import ``librosa``,
``soundfile`` and ``natsort`` at the top but nothing here calls them, so the script puts
empty stand-ins for them in ``sys.modules``; PRiSM's files are used unchanged.

For each fixture it builds the model with ``train.create_model(batch_size=2, config)``,
compiles it as ``train.py`` does (Adam, epsilon 1e-4; sparse cross-entropy from logits),
builds it on ``[2, 16 + 64, 1]`` codes as ``train.py`` does, gives every weight seeded
normal values (std 0.2; std 0.1 for rank-1 ones, the biases; the ``upsample`` filters,
embedding and all RNN biases included), resets the RNN states and saves the weights with
PRiSM's ``ModelCheckpointCallback`` (a ``tf.keras.callbacks.ModelCheckpoint`` with
``save_weights_only``, file path ``<rundir>/model.ckpt-{epoch}``) at the end of epoch 3:
``model.ckpt-3.index``, ``model.ckpt-3.data-00000-of-00001`` and ``checkpoint``. Beside
them: ``<name>.config.json`` (the config, as passed to ``train.py --config_file``; PRiSM
itself writes no config or args file into its run folder) and ``variables.json``
(``tf.train.list_variables`` of the checkpoint: ``[[name, shape], ...]``).

Then it runs PRiSM's training-mode forward ``model(x, training=True)`` on
``input_codes.npy`` (``[2, 80]``: 16 overlap + 64 codes) and, without resetting the
states, on ``input_codes_2.npy``, the next subsequence as PRiSM's ``dataset.get_subseq``
cuts it (its first 16 codes are the last 16 of the first). It saves ``logits.npy`` and
``probabilities.npy`` (softmax) for the first and ``probabilities_2.npy`` for the second
(``[2, 64, 256]`` float32; about 0.9 MB a folder, the 256 x 256 embedding the largest
part). Batch row 0 starts a file, so it begins with PRiSM's 16 zero samples of padding
(``dataset.pad_batch``); row 1 is from inside a file.
The codes are a smooth two-sine signal plus a little noise, quantized with PRiSM's
``samplernn.quantize`` for the fixture's ``q_type``.

Last, it reloads the checkpoint with PRiSM's ``generate.create_inference_model`` (the
path PRiSM generates from), reruns both forwards from reset states and checks it gets the
same probabilities.

- ``prism_gru_mulaw/``: GRU, 2 layers, mu-law, no ``skip_conn`` key (as PRiSM's
  ``default.config.json``).
- ``prism_lstm_linear_skip/``: LSTM, 2 layers, linear quantization, ``skip_conn: true``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from samplernn_reference_env import stub_unused_modules

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

BATCH_SIZE = 2
EPOCH = 3
FIXTURES: dict[str, dict[str, Any]] = {
    "prism_gru_mulaw": {
        "config": {"seq_len": 64, "frame_sizes": [4, 16], "dim": 24, "rnn_type": "gru",
                   "num_rnn_layers": 2, "q_type": "mu-law", "q_levels": 256,
                   "emb_size": 256},
        "seed": 1,
    },
    "prism_lstm_linear_skip": {
        "config": {"seq_len": 64, "frame_sizes": [4, 16], "dim": 24, "rnn_type": "lstm",
                   "num_rnn_layers": 2, "q_type": "linear", "q_levels": 256,
                   "emb_size": 256, "skip_conn": True},
        "seed": 2,
    },
}


def make_signal(rng, length: int, overlap: int):
    """[2, length] floats in (-1, 1): row 0 begins with ``overlap`` zeros (pad_batch)."""
    import numpy as np

    t = np.arange(length)
    rows = []
    for row in range(BATCH_SIZE):
        f1, f2 = rng.uniform(0.02, 0.06), rng.uniform(0.1, 0.2)
        p1, p2 = rng.uniform(0, 2 * np.pi, 2)
        x = 0.6 * np.sin(2 * np.pi * f1 * t + p1) + 0.25 * np.sin(2 * np.pi * f2 * t + p2)
        x += rng.normal(0.0, 0.03, length)
        rows.append(np.clip(x, -0.99, 0.99))
    signal = np.stack(rows).astype("float32")
    signal[0] = np.concatenate([np.zeros(overlap, "float32"), signal[0, :-overlap]])
    return signal


def fill_weights(model, rng) -> None:

    for weight in model.weights:
        shape = tuple(weight.shape)
        std = 0.1 if len(shape) == 1 else 0.2
        weight.assign(rng.normal(0.0, std, shape).astype(weight.dtype.as_numpy_dtype))


def softmax(logits):
    import numpy as np

    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def forward(model, codes):
    """PRiSM's training-mode forward on [2, 80] codes: logits [2, 64, q_levels]."""
    import numpy as np

    x = np.asarray(codes, "int32")[:, :, None]
    return model(x, training=True).numpy().astype("float32")


def build(name: str, spec: dict[str, Any], out: Path) -> None:
    import callbacks as prism_callbacks
    import generate as prism_generate
    import numpy as np
    import tensorflow as tf
    import train as prism_train
    from samplernn import quantize

    config = spec["config"]
    rng = np.random.default_rng(spec["seed"])
    root = out / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)

    # As train.py's main(): create, compile, build on [batch, overlap + seq_len, 1].
    model = prism_train.create_model(BATCH_SIZE, config)
    seq_len, overlap = model.seq_len, model.big_frame_size
    opt = prism_train.optimizer_factory["adam"](learning_rate=prism_train.LEARNING_RATE,
                                                momentum=prism_train.MOMENTUM)
    model.compile(optimizer=opt,
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    init_data = rng.integers(0, model.q_levels, (BATCH_SIZE, overlap + seq_len, 1))
    model(init_data)
    fill_weights(model, rng)
    model.reset_rnn_states()

    # PRiSM's checkpoint callback, saving at the end of (1-based) epoch EPOCH.
    checkpoint = prism_callbacks.ModelCheckpointCallback(
        dir=str(root), max_to_keep=prism_train.MAX_CHECKPOINTS, generate=False,
        generation_args={}, filepath=f"{root}/model.ckpt-{{epoch}}",
        monitor=prism_train.TRACKED_METRIC, save_weights_only=True, save_best_only=False,
        save_freq="epoch")
    checkpoint.set_model(model)
    checkpoint.on_epoch_begin(EPOCH - 1, {})
    checkpoint.on_epoch_end(EPOCH - 1, {"loss": 5.0, "accuracy": 0.1,
                                        "val_loss": 5.0, "val_accuracy": 0.1})
    prefix = root / f"model.ckpt-{EPOCH}"
    assert tf.train.latest_checkpoint(str(root)) == str(prefix), "checkpoint not written"
    (root / f"{name}.config.json").write_text(json.dumps(config, indent=4) + "\n")
    variables = [[n, list(s)] for n, s in tf.train.list_variables(str(prefix))]
    (root / "variables.json").write_text(json.dumps(variables, indent=1) + "\n")

    # Codes as get_subseq cuts them: x = batch[i-overlap : i+seq_len], i = overlap, +seq_len.
    signal = make_signal(rng, overlap + 2 * seq_len, overlap)
    codes = np.asarray(quantize(tf.constant(signal), config["q_type"], model.q_levels),
                       dtype="int64")
    x1 = codes[:, 0: overlap + seq_len]
    x2 = codes[:, seq_len: 2 * seq_len + overlap]
    assert x1.min() >= 0 and x1.max() < model.q_levels and len(np.unique(x1[1])) > 20

    model.reset_rnn_states()
    logits1 = forward(model, x1)
    logits2 = forward(model, x2)  # states carried over from the first subsequence
    probs1, probs2 = softmax(logits1), softmax(logits2)
    np.save(root / "input_codes.npy", x1)
    np.save(root / "input_codes_2.npy", x2)
    np.save(root / "logits.npy", logits1)
    np.save(root / "probabilities.npy", probs1.astype("float32"))
    np.save(root / "probabilities_2.npy", probs2.astype("float32"))

    # Reload with PRiSM's own loader and check it reproduces both subsequences.
    reloaded = prism_generate.create_inference_model(str(prefix), BATCH_SIZE, config)
    reloaded.reset_rnn_states()
    again1 = softmax(forward(reloaded, x1))
    again2 = softmax(forward(reloaded, x2))
    np.testing.assert_allclose(again1, probs1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(again2, probs2, rtol=1e-5, atol=1e-6)
    # The state must matter: the second subsequence from fresh states differs.
    reloaded.reset_rnn_states()
    fresh2 = softmax(forward(reloaded, x2))
    state_effect = float(np.abs(fresh2 - probs2).max())
    assert state_effect > 1e-4, "RNN state has no effect"

    print(f"{name}: {len(variables)} checkpoint entries; max prob "
          f"{probs1.max():.3f}, min {probs1.min():.2e} (uniform {1 / model.q_levels:.2e}); "
          f"state effect on 2nd subsequence {state_effect:.3e}")
    for n, s in variables:
        print(f"  {n} {s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("tests/fixtures/samplernn"))
    parser.add_argument("--prism-src", type=Path, default=Path("/tmp/prism_src"),
                        help="folder with PRiSM's train.py and samplernn/ package")
    args = parser.parse_args()
    out = args.out.resolve()
    stub_unused_modules()
    sys.path.insert(0, str(args.prism_src.resolve()))

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(0)
    assert tf.keras.__name__.startswith("tf_keras"), "needs tf-keras 2.x (TF_USE_LEGACY_KERAS=1)"
    for name, spec in FIXTURES.items():
        build(name, spec, out)


if __name__ == "__main__":
    main()
