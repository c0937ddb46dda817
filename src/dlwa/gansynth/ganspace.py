"""GANSpace for GANSynth: the principal directions of one generator layer (GANSpaceSynth).

Härkönen et al.'s GANSpace, as the course's GANSpaceSynth applies it to GANSynth: run the
generator on many random latents at one pitch, record one layer's activations (after its
activation and pixel norm), and fit an incremental PCA (scikit-learn's
``IncrementalPCA``) to them. Each component is a direction in that layer, with the
standard deviation of the activations along it. A sound is then steered by amplitudes
``a_i`` in units of those deviations:

- **relative** (the course's ``synthesize`` with an amplitudes array): the layer of a
  latent's note gets ``Σ a_i · σ_i · comp_i`` added;
- **absolute** (``synthesize_noz``): the layer is replaced by ``mean + Σ a_i · σ_i ·
  comp_i``, so no latent is needed (all-zero amplitudes give the "average" sound).

Layers are named ``block<b>.conv<i>`` (``b`` from 1, ``i`` 0 or 1); ``conv0`` and ``conv1``
are block 1's, the course's names (its PCA files use ``conv0``, shape 2 × 16 × 256 for
Magenta's models). Arrays here are channels-first ``[channels, height, width]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dlwa.gansynth.generate import DEFAULT_BATCH_SIZE, check_pitches, check_z, random_z
from dlwa.gansynth.model import GANSynth, GANSynthConfig, generate

ALIASES = {"conv0": "block1.conv0", "conv1": "block1.conv1"}
FORMAT = "dlwa-ganspace-1"
PCA_FILE = "ganspace.npz"
"""A checkpoint's own PCA, beside its weights (``dlwa generate gansynth --edits``)."""

Progress = Callable[[float], None]


def layer_names(config: GANSynthConfig) -> list[str]:
    """Every layer a PCA can be taken of, in the generator's order (the blocks it plays)."""
    return [f"block{b}.conv{i}" for b in range(1, config.blocks + 1) for i in (0, 1)]


def layer_shape(config: GANSynthConfig, layer: str) -> tuple[int, int, int]:
    """``(channels, height, width)`` of a layer's activations for one note."""
    block = int(resolve_layer(config, layer)[len("block"):].split(".")[0])
    scale = 2 ** (block - 1)
    return (config.num_filters(block), config.start_height * scale,
            config.start_width * scale)


def resolve_layer(config: GANSynthConfig, layer: str) -> str:
    """The full name of ``layer`` (``conv0`` → ``block1.conv0``).

    Raises:
        ValueError: a name the generator does not have (the message lists them).
    """
    name = ALIASES.get(layer, layer)
    names = layer_names(config)
    if name not in names:
        raise ValueError(f"no layer {layer!r} in this generator; layers: conv0, conv1, "
                         f"{', '.join(names)}")
    return name


@dataclass
class GANSpace:
    """A layer's principal directions (see the module doc).

    Attributes:
        layer: Full layer name.
        components: Unit directions ``[n, channels, height, width]``, most variance first.
        stdev: Standard deviation of the activations along each ``[n]``.
        var_ratio: Share of the layer's variance each explains ``[n]``.
        global_mean: Mean activation ``[channels, height, width]``.
        pitch: The pitch the latents were played at.
        samples: How many latents were recorded.
    """

    layer: str
    components: np.ndarray
    stdev: np.ndarray
    var_ratio: np.ndarray
    global_mean: np.ndarray
    pitch: int
    samples: int

    @property
    def n_components(self) -> int:
        return len(self.components)

    def offset(self, amplitudes: Sequence[float] | np.ndarray) -> np.ndarray:
        """``Σ a_i · σ_i · comp_i`` ``[channels, height, width]``; missing amplitudes are 0.

        Raises:
            ValueError: more amplitudes than components, or a NaN.
        """
        a = np.asarray(amplitudes, dtype=np.float64).reshape(-1)
        if len(a) > self.n_components:
            raise ValueError(f"{len(a)} amplitudes for {self.n_components} components")
        if not np.all(np.isfinite(a)):
            raise ValueError("the amplitudes hold NaN or infinite values")
        weights = a * self.stdev[:len(a)]
        return np.tensordot(weights, self.components[:len(a)], axes=1).astype(np.float32)

    def check_model(self, model: GANSynth) -> None:
        """ValueError unless the model has this layer with this shape."""
        shape = layer_shape(model.config, self.layer)
        if self.global_mean.shape != shape:
            raise ValueError(f"this PCA is of a {self.layer} of shape "
                             f"{'x'.join(map(str, self.global_mean.shape))}, the model's is "
                             f"{'x'.join(map(str, shape))}: it belongs to another model")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write an ``.npz`` (no pickled objects)."""
        path = Path(path)
        np.savez(path, format=np.array(FORMAT), layer=np.array(self.layer),
                 components=self.components.astype(np.float32),
                 stdev=self.stdev.astype(np.float32), var_ratio=self.var_ratio.astype(np.float32),
                 global_mean=self.global_mean.astype(np.float32),
                 pitch=np.array(self.pitch), samples=np.array(self.samples))
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GANSpace:
        """Read a file :meth:`save` wrote, every array checked.

        Raises:
            ValueError: not such a file, or arrays that do not fit together (one line).
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data.get("format", "")) != FORMAT:
                    raise ValueError(f"{path} is not a dlwa GANSpace file")
                space = cls(layer=str(data["layer"]), components=data["components"],
                            stdev=data["stdev"], var_ratio=data["var_ratio"],
                            global_mean=data["global_mean"], pitch=int(data["pitch"]),
                            samples=int(data["samples"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"cannot read the GANSpace file {path}: {exc}") from None
        n = space.n_components
        if (space.components.ndim != 4 or space.components.shape[1:] != space.global_mean.shape
                or space.stdev.shape != (n,) or space.var_ratio.shape != (n,)):
            raise ValueError(f"{path}: components, stdev, var_ratio and global_mean do not "
                             "fit together")
        return space


def _recorder(layer: str, store: list[np.ndarray]) -> Callable[[str, torch.Tensor],
                                                                   torch.Tensor]:
    def hook(name: str, x: torch.Tensor) -> torch.Tensor:
        if name == layer:
            store.append(x.float().reshape(len(x), -1).numpy())
        return x
    return hook


@torch.no_grad()
def record(model: GANSynth, layer: str, z: np.ndarray, pitches: Sequence[int], *,
           batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """The layer's activations for each ``(z, pitch)``: ``[n, channels · height · width]``.

    Only the blocks up to the layer's run.
    """
    name = resolve_layer(model.config, layer)
    block = int(name[len("block"):].split(".")[0])
    z = check_z(model, z)
    pitches = check_pitches(model, pitches)
    store: list[np.ndarray] = []
    for start in range(0, len(z), batch_size):
        one_hot = model.one_hot(pitches[start:start + batch_size])
        model.generator(torch.from_numpy(z[start:start + batch_size]), one_hot,
                        num_blocks=block, progress=block - 1, full_resolution=False,
                        layer_hook=_recorder(name, store))
    return np.concatenate(store)


def fit(model: GANSynth, *, layer: str = "conv0", samples: int = 8192,
        n_components: int = 64, pitch: int | None = None, seed: int = 0,
        batch_size: int = 512, progress: Progress | None = None) -> GANSpace:
    """Record ``samples`` random latents' activations and fit an incremental PCA.

    Args:
        model: The GANSynth.
        layer: Layer name (``conv0`` is the course's).
        samples: Latents (the course used 4 M; a few thousand already give stable first
            components for the small model).
        n_components: Components kept (at most the layer's size and ``batch_size``).
        pitch: The pitch played (default: the model's middle pitch).
        seed: Seed of the latents.
        batch_size: Latents per PCA update.
        progress: Called with the share done.

    Raises:
        ValueError: an unknown layer or pitch, or sizes that cannot work.
    """
    from sklearn.decomposition import IncrementalPCA

    name = resolve_layer(model.config, layer)
    size = int(np.prod(layer_shape(model.config, name)))
    pitches = sorted(model.config.pitches)
    pitch = pitches[len(pitches) // 2] if pitch is None else pitch
    check_pitches(model, [pitch])
    if not 1 <= n_components <= min(size, batch_size) or samples < batch_size:
        raise ValueError(f"need 1 <= n_components <= {min(size, batch_size)} (the layer's "
                         f"size and the batch) and samples >= batch_size ({batch_size}): got "
                         f"{n_components} components of {samples} samples")
    rng = np.random.default_rng(seed)
    pca = IncrementalPCA(n_components=n_components)
    n_batches = samples // batch_size
    for i in range(n_batches):
        z = random_z(batch_size, model.config.latent_vector_size, rng)
        pca.partial_fit(record(model, name, z, [pitch] * batch_size))
        if progress is not None:
            progress((i + 1) / n_batches)
    shape = layer_shape(model.config, name)
    return GANSpace(layer=name, components=pca.components_.reshape(-1, *shape),
                    stdev=np.sqrt(pca.explained_variance_), var_ratio=pca.explained_variance_ratio_,
                    global_mean=pca.mean_.reshape(shape), pitch=int(pitch),
                    samples=n_batches * batch_size)


def synthesize_edited(model: GANSynth, space: GANSpace, pitches: Sequence[int],
                      amplitudes: np.ndarray, *, z: np.ndarray | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE,
                      progress: Progress | None = None) -> np.ndarray:
    """Notes steered along the components: relative to ``z`` or, without it, absolute.

    Args:
        model: The GANSynth the PCA was taken of.
        space: Its :class:`GANSpace`.
        pitches: One pitch per note.
        amplitudes: ``[n_notes, k]`` amplitudes (``k`` ≤ components; one row for all notes
            broadcasts).
        z: ``[n_notes, latent]`` latents for relative edits; ``None`` for absolute ones.
        batch_size: Notes per generator call.
        progress: Called with the share done after each batch (may raise to stop).

    Returns:
        float32 ``[n_notes, audio_length]``.
    """
    space.check_model(model)
    pitches = check_pitches(model, pitches)
    n = len(pitches)
    rows = np.atleast_2d(np.asarray(amplitudes, dtype=np.float64))
    if len(rows) not in (1, n):
        raise ValueError(f"need one row of amplitudes, or one per note: {len(rows)} rows for "
                         f"{n} notes")
    offsets = np.stack([space.offset(rows[min(i, len(rows) - 1)]) for i in range(n)])
    absolute = z is None
    z = (np.zeros((n, model.config.latent_vector_size), np.float32) if absolute
         else check_z(model, z))
    if len(z) != n:
        raise ValueError(f"need one pitch per latent: {len(z)} latents, {n} pitches")
    base = torch.from_numpy(space.global_mean)
    out = np.empty((n, model.config.audio_length), np.float32)
    for start in range(0, n, batch_size):
        edit = torch.from_numpy(offsets[start:start + batch_size])

        def hook(name: str, x: torch.Tensor, edit: torch.Tensor = edit) -> torch.Tensor:
            if name != space.layer:
                return x
            return (base + edit).to(x) if absolute else x + edit.to(x)

        out[start:start + batch_size] = generate(
            model, torch.from_numpy(z[start:start + batch_size]),
            pitches[start:start + batch_size], layer_hook=hook).numpy()
        if progress is not None:
            progress(min(start + batch_size, n) / n)
    return out


# -- the course's PCA pickles ------------------------------------------------------------

COURSE_KEYS = ("layer", "comp", "stdev", "var_ratio", "global_mean")
# What a course pickle may build: numpy arrays and their dtypes, nothing else. Any other
# class (the pickled scikit-learn estimator) becomes an inert placeholder, and no function
# from the file is ever called.
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # how protocol 2 writes bytes (text to bytes, nothing else)
}


class _Placeholder:
    """Stands in for any object a course pickle holds besides arrays (never used)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


def _restricted_load(path: Path) -> object:
    import importlib
    import pickle

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            if (module, name) in _NUMPY_GLOBALS:
                return getattr(importlib.import_module(module), name)
            if module in ("builtins", "__builtin__", "copyreg", "copy_reg"):
                raise pickle.UnpicklingError(f"refusing {module}.{name} in a PCA file")
            return _Placeholder

    with path.open("rb") as handle:
        return Unpickler(handle, encoding="latin1").load()


def import_course_pickle(path: str | os.PathLike[str], *, pitch: int = 32,
                         samples: int = 0) -> GANSpace:
    """Read a GANSpace pickle of the course's ``gansynth_ganspace`` without running code
    from it.

    The course's file is a dict with ``layer`` (e.g. ``conv0``), ``estimator`` (the fitted
    scikit-learn object, ignored), ``comp`` ``[n, height, width, channels]`` (TensorFlow's
    layout), ``stdev`` ``[n]``, ``var_ratio`` ``[n]`` and ``global_mean`` ``[height, width,
    channels]``; this turns them channels-first. Only numpy arrays are rebuilt; any other
    object in the file becomes an inert placeholder, and builtins (the way a malicious
    pickle calls code) are refused.

    Args:
        path: The ``.pickle`` file.
        pitch: What to record as the PCA's pitch (the course's custom models use 32).
        samples: What to record as its sample count (the course's names say it, e.g.
            ``..._ipca_4194304.pickle``); 0 reads it from such a name.

    Raises:
        ValueError: not a pickle, a refused object, or arrays that do not fit together.
    """
    import pickle
    import re

    file = Path(path)
    try:
        data = _restricted_load(file)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError,
            ValueError, TypeError) as exc:
        raise ValueError(f"cannot read the PCA pickle {file}: {exc}") from None
    if not isinstance(data, dict) or any(key not in data for key in COURSE_KEYS):
        raise ValueError(f"{file} is not a course GANSpace pickle: it needs the keys "
                         f"{', '.join(COURSE_KEYS)}")
    arrays = {key: np.asarray(data[key], dtype=np.float32) for key in COURSE_KEYS[1:]}
    comp, mean = arrays["comp"], arrays["global_mean"]
    n = len(comp)
    if (comp.ndim != 4 or comp.shape[1:] != mean.shape or arrays["stdev"].shape != (n,)
            or arrays["var_ratio"].shape != (n,)):
        raise ValueError(f"{file}: comp, stdev, var_ratio and global_mean do not fit together")
    if not samples:
        found = re.search(r"_(\d+)\.pickle$", file.name)
        samples = int(found.group(1)) if found else 0
    layer = str(data["layer"])
    return GANSpace(layer=ALIASES.get(layer, layer), components=comp.transpose(0, 3, 1, 2),
                    stdev=arrays["stdev"], var_ratio=arrays["var_ratio"],
                    global_mean=mean.transpose(2, 0, 1), pitch=pitch, samples=samples)
