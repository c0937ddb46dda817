"""Make Magenta 2.1.4's GANSynth importable on TensorFlow 2.21 (reference environment only).

Shared by ``make_gansynth_fixtures.py`` and ``bench_gansynth_reference.py``; never imported
by dlwa. The reference environment is described in ``make_gansynth_fixtures.py``.

:func:`install` must run before anything imports TensorFlow. It applies these shims:

1. ``TF_USE_LEGACY_KERAS=1``: Magenta's layers use ``tf.layers`` / ``conv2d``, which Keras 3
   refuses (``tf-keras`` is installed with ``--no-deps``).
2. A stub ``tf.estimator`` (and ``tf.compat.v1.estimator``): TF 2.16+ dropped the module,
   and ``tensorflow_gan`` subclasses ``tf.estimator.SessionRunHook`` at import time and names
   TPU estimator classes. The stub's ``SessionRunHook`` is TF1's
   ``tf.compat.v1.train.SessionRunHook``; every other name is an empty placeholder class.
3. ``inspect.getargspec``: removed in Python 3.11, called by ``tfgan.gan_loss``; an alias
   built on ``inspect.getfullargspec`` that returns the old ``(args, varargs, keywords,
   defaults)`` tuple (tfgan reads ``.keywords``).
4. A stub ``tensorflow_datasets``: upstream ``gansynth/lib/datasets.py`` imports it at the
   top, and ``Model.__init__`` builds (never runs) an input pipeline from
   ``tfds.load('nsynth/gansynth_subset')``. The stub's ``load`` returns a small synthetic
   dataset of the same structure, so no NSynth download and no 200 MB package are needed.
   Generation never reads it.
5. ``nsynth_tfrecord`` in Magenta's dataset registry: the dataset name the course's fork
   (SopiMlab/magenta) trains with. As in that fork, its pitch set is the sorted set of
   pitches in ``meta.json`` (``train_meta_path``, else ``<train_root_dir>/meta.json``),
   else NSynth's 24–84; its input pipeline is synthetic, as in (4), with notes of
   ``audio_length`` samples (upstream's datasets crop to 64,000, so a model with shorter
   notes only builds with this one; the course edits ``datasets.py`` for that).
"""

from __future__ import annotations

import collections
import inspect
import json
import os
import sys
import types
from typing import Any

NSYNTH_PITCHES = tuple(range(24, 85))


class _Placeholders(types.ModuleType):
    """A module whose every missing attribute is an empty class (or a sub-module)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value: Any = (_Placeholders(f"{self.__name__}.{name}") if name[:1].islower()
                      else type(name, (), {}))
        setattr(self, name, value)
        return value


_ArgSpec = collections.namedtuple("ArgSpec", "args varargs keywords defaults")


def _getargspec(func: Any) -> Any:
    spec = inspect.getfullargspec(func)
    return _ArgSpec(spec.args, spec.varargs, spec.varkw, spec.defaults)


def _synthetic_nsynth(length: int = 64000) -> Any:
    import tensorflow.compat.v1 as tf

    audio = tf.zeros([4, length], tf.float32)
    pitch = tf.constant([60, 61, 62, 63], tf.int64)
    return tf.data.Dataset.from_tensor_slices({"audio": audio, "pitch": pitch})


def _tfds_stub() -> types.ModuleType:
    tfds = types.ModuleType("tensorflow_datasets")
    tfds.Split = types.SimpleNamespace(TRAIN="train", TEST="test", VALIDATION="validation")
    tfds.load = lambda *args, **kwargs: _synthetic_nsynth()
    return tfds


def install() -> None:
    """Apply the shims (call before importing TensorFlow or Magenta)."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    inspect.getargspec = _getargspec  # type: ignore[attr-defined]
    sys.modules.setdefault("tensorflow_datasets", _tfds_stub())
    import tensorflow as tf

    estimator = _Placeholders("tensorflow.estimator")
    estimator.SessionRunHook = tf.compat.v1.train.SessionRunHook
    tf.estimator = estimator
    tf.compat.v1.estimator = estimator
    tf.compat.v1.disable_v2_behavior()

    from magenta.models.gansynth.lib import datasets

    datasets.registry.setdefault("nsynth_tfrecord", _fork_dataset_class(datasets))


def _fork_dataset_class(datasets: Any) -> type:
    base = datasets.BaseDataset

    class NSynthTFRecordDataset(base):  # type: ignore[misc, valid-type]
        """The course fork's dataset, as far as generation sees it: the pitch set."""

        def _meta_path(self) -> str | None:
            config = self._config
            if config.get("train_meta_path"):
                return os.path.expanduser(config["train_meta_path"])
            magic = os.path.join(config["train_root_dir"], "meta.json")
            return magic if os.path.exists(magic) else None

        def get_pitch_counts(self) -> dict[int, int]:
            path = self._meta_path()
            if path is None:
                return dict.fromkeys(NSYNTH_PITCHES, 1)
            with open(path) as f:
                meta = json.load(f)
            counts: dict[int, int] = {}
            for note in meta.values():
                counts[note["pitch"]] = counts.get(note["pitch"], 0) + 1
            return counts

        def provide_one_hot_labels(self, batch_size: int) -> Any:
            import tensorflow.compat.v1 as tf

            pitches = sorted(self.get_pitch_counts())
            indices = tf.zeros([batch_size], tf.int32)
            return tf.one_hot(indices, depth=len(pitches))

        def provide_dataset(self) -> Any:
            import tensorflow.compat.v1 as tf

            depth = len(self.get_pitch_counts())
            data = _synthetic_nsynth(int(self._config["audio_length"]))
            return data.map(lambda ex: (ex["audio"][:, None],
                                        tf.one_hot(0, depth=depth)))

    return NSynthTFRecordDataset
