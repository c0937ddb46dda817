"""nn~-compatible TorchScript models: find them, read what they offer, call their methods.

An nn~ model (``rave export``, or any ``nn_tilde.Module`` script) is a TorchScript archive
whose module lists its methods (``get_methods``) with ``<method>_params`` =
``[in_channels, in_ratio, out_channels, out_ratio]``, and its attributes
(``get_attributes``) with ``get_<attr>``/``set_<attr>`` and ``<attr>_params`` (the type of
each setter argument: 0 bool, 1 int, 2 float, 3 str, 4 tensor).

:func:`read_info` reads the methods and the rate from the archive without torch (a
restricted unpickler over its ``data.pkl``, in milliseconds), so that ``[rave~]`` can make
its signal inlets and outlets when the patch opens without waiting for torch;
:class:`NNModel` loads the module with torch and calls it as nn~ does.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlwa.checkpoints import checkpoint_dirs

MODEL_SUFFIX = ".ts"
PREFIX = "rave_"  # a shipped or trained model named <name> lives in checkpoints/rave_<name>
MAX_INFO_BYTES = 64 * 2**20
ATTRIBUTE_TYPES = {0: "bool", 1: "int", 2: "float", 3: "str", 4: "tensor"}


class ModelFileError(ValueError):
    """A file that is not an nn~-compatible TorchScript model; the message says why."""


@dataclass(frozen=True)
class MethodParams:
    """What nn~ reads from ``<method>_params``: channels and the ratio of each side (an
    input ratio of 512 means one input frame per 512 audio samples)."""

    in_channels: int
    in_ratio: int
    out_channels: int
    out_ratio: int


@dataclass
class ModelInfo:
    """Methods and rate of an nn~ model, read without torch (:func:`read_info`)."""

    path: Path
    methods: dict[str, MethodParams]
    sample_rate: int | None
    labels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def higher_ratio(self) -> int:
        """The largest ratio of any method (nn~'s smallest buffer)."""
        return max(max(p.in_ratio, p.out_ratio) for p in self.methods.values())


def find_model(name: str | os.PathLike[str], *, base_dir: str | os.PathLike[str] | None = None
               ) -> Path:
    """The ``.ts`` file that ``name`` means: a path (absolute, or relative to ``base_dir``,
    the patch's folder, then to the working folder), a folder holding one ``.ts``, or the
    name of a model in the checkpoint folders (``guitar`` → ``checkpoints/rave_guitar``).

    Raises:
        FileNotFoundError: nothing by that name, listing the models there are.
    """
    text = os.fspath(name)
    candidates = [Path(text).expanduser()]
    if base_dir is not None and not candidates[0].is_absolute():
        candidates.insert(0, Path(base_dir) / text)
    for path in candidates:
        if path.is_file():
            return path
        if path.is_dir():
            return _model_in(path)
    if "/" not in text and not text.endswith(MODEL_SUFFIX):
        for folder in checkpoint_dirs():
            if (folder / f"{PREFIX}{text}").is_dir():
                return _model_in(folder / f"{PREFIX}{text}")
    known = sorted(p.name[len(PREFIX):] for folder in checkpoint_dirs() if folder.is_dir()
                   for p in folder.iterdir() if p.name.startswith(PREFIX))
    raise FileNotFoundError(
        f"no RAVE model '{text}': give a .ts file (an nn~ model) or one of "
        f"{', '.join(known) or '(no models installed)'}")


def _model_in(folder: Path) -> Path:
    files = sorted(folder.glob(f"*{MODEL_SUFFIX}"))
    if len(files) != 1:
        raise FileNotFoundError(f"{folder} holds {len(files)} .ts files; give the file itself")
    return files[0]


class _Stub:
    """Stands in for a TorchScript class while unpickling (keeps its state as attributes)."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.__dict__.update(state)


_STORAGE_DTYPES = {"LongStorage": np.int64, "IntStorage": np.int32, "FloatStorage": np.float32,
                   "DoubleStorage": np.float64, "BoolStorage": np.bool_,
                   "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
                   "HalfStorage": np.float16}


class _InfoUnpickler(pickle.Unpickler):
    """Builds numpy arrays for tensors and stubs for script classes; runs no other code."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str) -> None:
        super().__init__(io.BytesIO(data))
        self.archive, self.root = archive, root

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__"):
            return type(name, (_Stub,), {})
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self._tensor
        if (module, name) == ("torch.jit._pickle", "restore_type_tag"):
            return lambda value, type_name: value
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return lambda value: value
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        return lambda *args, **kwargs: None  # anything else: not needed for the info

    def persistent_load(self, pid: Any) -> Any:
        return pid  # ('storage', dtype, key, location, numel): read in _tensor

    def _tensor(self, storage: Any, offset: int, size: tuple[int, ...], stride: Any,
                *rest: Any) -> np.ndarray | None:
        _, dtype, key, _, numel = storage
        if numel > 4096:  # weights: not needed, not read
            return None
        raw = self.archive.read(f"{self.root}/data/{key}")
        flat = np.frombuffer(raw, dtype=dtype)[offset:]
        return flat[:int(np.prod(size))].reshape(size) if size else flat[:1].reshape(())


def read_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Methods, channel counts, ratios and rate of the nn~ model at ``path`` (no torch).

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: not a TorchScript archive, or a module without nn~ methods.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            tops = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if not tops:
                raise ModelFileError(f"{path.name} is a zip file but no TorchScript model")
            root = tops[0].split("/")[0]
            data = archive.read(tops[0])
            if len(data) > MAX_INFO_BYTES:
                raise ModelFileError(f"{path.name}: its module description is too large")
            module = _InfoUnpickler(data, archive, root).load()
    except zipfile.BadZipFile:
        raise ModelFileError(f"{path.name} is not a TorchScript model (not a zip archive; "
                             "export one with 'rave export --streaming' or nn_tilde)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, ModelFileError):
            raise
        raise ModelFileError(f"{path.name}: unreadable TorchScript module ({error})") from None
    state = getattr(module, "__dict__", {})
    names = state.get("_methods")
    methods: dict[str, MethodParams] = {}
    for name in names if isinstance(names, list) else []:
        params = state.get(f"{name}_params")
        if isinstance(params, np.ndarray) and params.shape == (4,):
            methods[str(name)] = MethodParams(*(int(v) for v in params))
    if not methods:
        raise ModelFileError(f"{path.name} is TorchScript but has no nn~ methods (no "
                             "get_methods/<method>_params): export it with nn_tilde.Module "
                             "or 'rave export --streaming'")
    rate = state.get("sr")
    labels = {f"{m}_{side}": list(state.get(f"{m}_{side}_labels") or [])
              for m in methods for side in ("input", "output")}
    return ModelInfo(path, methods, int(rate) if isinstance(rate, int) else None, labels)


class NNModel:
    """A loaded nn~ model, called as nn~ calls it (no gradients, one call per chunk)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import torch

        self.path = Path(path)
        self.info = read_info(self.path)
        try:
            with warnings.catch_warnings():  # "torch.jit.load is deprecated": nn~'s format
                warnings.simplefilter("ignore", DeprecationWarning)
                self.module = torch.jit.load(str(self.path), map_location="cpu")
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "error"
            raise ModelFileError(f"{self.path.name}: torch cannot load it ({first})") from None
        self.module.eval()
        self.methods = dict(self.info.methods)
        self.attributes: list[str] = list(self._call("get_attributes", default=[]))
        self.sample_rate = self.info.sample_rate

    @property
    def name(self) -> str:
        return self.path.stem

    def _call(self, name: str, *args: Any, default: Any = None) -> Any:
        try:
            fn = getattr(self.module, name)
        except AttributeError:
            return default
        return fn(*args)

    def params(self, method: str) -> MethodParams:
        """``<method>_params``; raises ValueError naming the methods there are."""
        if method not in self.methods:
            raise ValueError(f"{self.name} has no method '{method}': it has "
                             f"{', '.join(self.methods)}")
        return self.methods[method]

    def call(self, method: str, x: np.ndarray) -> np.ndarray:
        """Run ``method`` on ``x`` [in_channels, frames] (frames at the input's ratio);
        returns [out_channels, frames'] as float32."""
        import torch

        with torch.inference_mode():
            y = getattr(self.module, method)(torch.from_numpy(np.ascontiguousarray(x))[None])
        return y[0].numpy().astype(np.float32, copy=False)

    def attribute_types(self, attribute: str) -> list[str]:
        """The setter's argument types (``<attr>_params``)."""
        if attribute not in self.attributes:
            raise ValueError(f"{self.name} has no attribute '{attribute}'"
                             + (f": it has {', '.join(self.attributes)}" if self.attributes
                                else " (it has none)"))
        params = getattr(self.module, f"{attribute}_params", None)
        if params is None:
            raise ValueError(f"{self.name}: attribute '{attribute}' has no {attribute}_params")
        return [ATTRIBUTE_TYPES.get(int(v), "?") for v in params.reshape(-1).tolist()]

    def get(self, attribute: str) -> Any:
        """``get_<attribute>()``, as Python values."""
        self.attribute_types(attribute)
        value = getattr(self.module, f"get_{attribute}")()
        return list(value) if isinstance(value, (tuple, list)) else [value]

    def set(self, attribute: str, values: list[Any]) -> None:
        """``set_<attribute>(*values)``, each converted to the setter's type (as nn~ does).

        Raises:
            ValueError: unknown attribute, wrong count or type, or the model refused it.
        """
        types = self.attribute_types(attribute)
        if len(values) != len(types):
            raise ValueError(f"{attribute} takes {len(types)} value(s) ({' '.join(types)}), "
                             f"got {len(values)}")
        args = [_convert(v, t, attribute) for v, t in zip(values, types, strict=True)]
        result = getattr(self.module, f"set_{attribute}")(*args)
        if isinstance(result, int) and result != 0:
            raise ValueError(f"{self.name} refused {attribute} {' '.join(map(str, values))}")


def _convert(value: Any, kind: str, attribute: str) -> Any:
    if kind == "tensor":
        raise ValueError(f"{attribute} takes a tensor (an nn~ buffer), which rave~ does not "
                         "support yet")
    if kind == "str":
        return str(value)
    if kind == "bool":
        if isinstance(value, str):
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ValueError(f"{attribute} takes true/false or 0/1, got '{value}'")
        return bool(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{attribute} takes a {kind}, got '{value}'") from None
    if kind == "int":
        if number != int(number):
            raise ValueError(f"{attribute} takes a whole number, got {value}")
        return int(number)
    return number
