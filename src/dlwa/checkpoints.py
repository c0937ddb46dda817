"""dlwa's one checkpoint format: a directory with ``config.json`` and ``weights.safetensors``.

``config.json`` holds::

    {"kind": "ddsp", "format_version": 1, "sample_rate": 16000,
     "config": {...hyper-parameters...}, "training": {...what it was trained on...},
     "extras": ["dataset_statistics.json", ...]}

``weights.safetensors`` holds the state dict; extras (dataset statistics, PCA components)
are further files beside them: ``*.safetensors`` for tensors, ``*.json`` for data, any
other name for raw bytes. Loading checks kind and version and, when told what to expect,
the weight names, so a bad or mismatched checkpoint fails with one clear line.

This module imports torch only when tensors are saved or loaded as torch tensors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
ENV_CHECKPOINTS = "DLWA_CHECKPOINTS"
PROJECT_CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
RESERVED_FILES = (CONFIG_FILE, WEIGHTS_FILE)


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, of the wrong kind or version, or mismatched."""


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: The checkpoint directory.
        kind: The model kind, e.g. ``"ddsp"``.
        format_version: The format version it was written with.
        config: Hyper-parameters, as saved.
        state_dict: Weight name → tensor (torch or numpy, as asked at load).
        sample_rate: Audio sample rate in Hz, or None for models without audio.
        training: What it was trained on, as saved.
        extras: Names of the extra files.
    """

    path: Path
    kind: str
    format_version: int
    config: dict[str, Any]
    state_dict: dict[str, Any]
    sample_rate: int | None = None
    training: dict[str, Any] = field(default_factory=dict)
    extras: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The directory name, which is the checkpoint's name in ``checkpoints/``."""
        return self.path.name

    def read_extra(self, name: str, *, framework: str = "pt") -> Any:
        """Read an extra file: tensors (``.safetensors``), data (``.json``) or bytes.

        Raises:
            CheckpointError: no extra of that name; the message lists those present.
        """
        if name not in self.extras:
            have = ", ".join(self.extras) or "none"
            raise CheckpointError(f"{self.path}: no extra '{name}' (extras: {have})")
        path = self.path / name
        if name.endswith(".safetensors"):
            return _read_tensors(path, framework)
        if name.endswith(".json"):
            return _read_json(path)
        return path.read_bytes()


def checkpoints_dir() -> Path:
    """The folder named checkpoints live in: ``$DLWA_CHECKPOINTS`` or the project's."""
    env = os.environ.get(ENV_CHECKPOINTS)
    return Path(env).expanduser() if env else PROJECT_CHECKPOINTS


def save_checkpoint(
    directory: str | Path,
    kind: str,
    config: Mapping[str, Any],
    state_dict: Mapping[str, Any],
    *,
    sample_rate: int | None = None,
    training: Mapping[str, Any] | None = None,
    extras: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint directory (created if needed; its files are replaced).

    Args:
        directory: Where to write.
        kind: The model kind, e.g. ``"ddsp"``; loaders check it.
        config: JSON-serialisable hyper-parameters.
        state_dict: Weight name → torch tensor or numpy array.
        sample_rate: Audio sample rate in Hz the model works at.
        training: JSON-serialisable facts about training (data, steps, date).
        extras: File name → content: a mapping of tensors for ``*.safetensors``, JSON data
            for ``*.json``, ``bytes`` for anything else.

    Returns:
        The checkpoint directory.

    Raises:
        CheckpointError: a config is not JSON-serialisable, or an extra's name is reserved
            or its content does not suit its suffix.
    """
    path = Path(directory)
    if not kind or not isinstance(kind, str):
        raise CheckpointError(f"kind must be a non-empty string such as 'ddsp', not {kind!r}")
    extras = dict(extras or {})
    for name in extras:
        if name in RESERVED_FILES or "/" in name or name.startswith("."):
            raise CheckpointError(f"bad extra file name {name!r}: use e.g. 'statistics.json'")
    meta = {
        "kind": kind, "format_version": FORMAT_VERSION, "sample_rate": sample_rate,
        "config": dict(config), "training": dict(training or {}), "extras": sorted(extras),
    }
    try:
        text = json.dumps(meta, indent=2, sort_keys=True)
    except TypeError as exc:
        raise CheckpointError(f"config for {path} is not JSON-serialisable: {exc}") from exc
    path.mkdir(parents=True, exist_ok=True)
    _write_tensors(path / WEIGHTS_FILE, state_dict)
    for name, content in extras.items():
        _write_extra(path / name, content)
    (path / CONFIG_FILE).write_text(text + "\n")
    return path


def load_checkpoint(
    directory: str | Path,
    *,
    expected_kind: str | None = None,
    expected_keys: Iterable[str] | None = None,
    framework: str = "pt",
) -> Checkpoint:
    """Read a checkpoint directory, checking its kind, version and (optionally) keys.

    Args:
        directory: The checkpoint directory.
        expected_kind: Refuse checkpoints of another kind.
        expected_keys: The weight names the model has; missing or unexpected names are
            an error that lists them (strict loading).
        framework: ``"pt"`` for torch tensors, ``"numpy"`` for numpy arrays.

    Raises:
        CheckpointError: with one line saying what is wrong and where.
    """
    path = Path(directory)
    meta = _read_meta(path)
    kind = meta.get("kind")
    if expected_kind is not None and kind != expected_kind:
        raise CheckpointError(
            f"{path} is a '{kind}' checkpoint, not '{expected_kind}': "
            f"choose a {expected_kind} checkpoint"
        )
    state = _read_tensors(path / WEIGHTS_FILE, framework)
    if expected_keys is not None:
        check_keys(state, expected_keys, where=str(path))
    extras = [str(x) for x in meta.get("extras", [])]
    missing = [x for x in extras if not (path / x).is_file()]
    if missing:
        raise CheckpointError(f"{path}: extra files listed in {CONFIG_FILE} are missing: "
                              + ", ".join(missing))
    return Checkpoint(
        path=path, kind=str(kind), format_version=int(meta["format_version"]),
        config=dict(meta.get("config") or {}), state_dict=state,
        sample_rate=meta.get("sample_rate"), training=dict(meta.get("training") or {}),
        extras=extras,
    )


def read_config(directory: str | Path) -> dict[str, Any]:
    """Read and check only ``config.json`` (kind and version), without the weights."""
    return _read_meta(Path(directory))


def check_keys(state_dict: Mapping[str, Any], expected: Iterable[str], *, where: str = "") -> None:
    """Raise CheckpointError listing missing and unexpected weight names, if any."""
    have, want = set(state_dict), set(expected)
    missing, unexpected = sorted(want - have), sorted(have - want)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing keys: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected keys: " + ", ".join(unexpected))
        prefix = f"{where}: " if where else ""
        raise CheckpointError(prefix + "weights do not match the model; " + "; ".join(parts))


def list_checkpoints(directory: str | Path | None = None, *, kind: str | None = None) -> list[str]:
    """Names of the checkpoints in ``directory`` (default ``checkpoints_dir()``), sorted.

    Args:
        directory: The folder to list.
        kind: Only checkpoints of this kind.
    """
    root = Path(directory) if directory is not None else checkpoints_dir()
    if not root.is_dir():
        return []
    names = []
    for sub in sorted(root.iterdir()):
        if not (sub / CONFIG_FILE).is_file():
            continue
        if kind is not None:
            try:
                if _read_json(sub / CONFIG_FILE).get("kind") != kind:
                    continue
            except CheckpointError:
                continue
        names.append(sub.name)
    return names


def find_checkpoint(
    name_or_path: str | Path, *, base_dir: str | Path | None = None, kind: str | None = None,
) -> Path:
    """Resolve a checkpoint name (in ``checkpoints_dir()``) or a path (relative to ``base_dir``).

    A bare name (no ``/``, not starting with ``.`` or ``~``) is looked up in the
    checkpoints folder first, then beside ``base_dir``; anything else is a path, relative
    to ``base_dir`` (a patch's folder) or the working directory.

    Args:
        name_or_path: E.g. ``"violin"`` or ``"../models/violin"``.
        base_dir: What relative paths are relative to.
        kind: Only used to list suitable names in the error message.

    Returns:
        The checkpoint directory (it holds ``config.json``).

    Raises:
        CheckpointError: nothing found; the message lists the available names.
    """
    text = os.fspath(name_or_path).strip()
    if not text:
        raise CheckpointError("empty checkpoint name: give a name from checkpoints/ or a path")
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    is_name = not (os.sep in text or "/" in text or text.startswith((".", "~")))
    candidates = [checkpoints_dir() / text] if is_name else []
    candidates.append(base / Path(text).expanduser())
    for candidate in candidates:
        if (candidate / CONFIG_FILE).is_file():
            return candidate.resolve()
    for candidate in candidates:
        if candidate.is_dir():
            raise CheckpointError(f"{candidate} is not a checkpoint: it has no {CONFIG_FILE}")
    available = ", ".join(list_checkpoints(kind=kind)) or "none"
    if is_name:
        raise CheckpointError(
            f"no checkpoint named '{text}' in {checkpoints_dir()} or {base} "
            f"(available: {available})"
        )
    raise CheckpointError(
        f"no checkpoint at {candidates[-1]} (names in {checkpoints_dir()}: {available})"
    )


# ---------------------------------------------------------------------------
# Files


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing: is this a dlwa checkpoint?") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a directory")
    meta = _read_json(path / CONFIG_FILE)
    where = path / CONFIG_FILE
    kind, version = meta.get("kind"), meta.get("format_version")
    if not isinstance(kind, str) or not kind:
        raise CheckpointError(f"{where} has no 'kind' (the model kind, e.g. \"ddsp\")")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(
            f"{where} has format_version {version!r}: expected an integer 1..{FORMAT_VERSION}"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{where} has format_version {version}, newer than this dlwa reads "
            f"({FORMAT_VERSION}): upgrade dlwa"
        )
    return meta


def _write_tensors(path: Path, tensors: Mapping[str, Any]) -> None:
    if any(not isinstance(v, np.ndarray) for v in tensors.values()):
        import torch
        from safetensors.torch import save_file as save_torch

        converted = {
            k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v).detach().cpu()
            .contiguous()
            for k, v in tensors.items()
        }
        save_torch(converted, str(path))
    else:
        from safetensors.numpy import save_file as save_numpy

        save_numpy({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path))


def _read_tensors(path: Path, framework: str) -> dict[str, Any]:
    if framework not in ("pt", "numpy"):
        raise ValueError(f"framework must be 'pt' or 'numpy', not {framework!r}")
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: the checkpoint has no weights")
    try:
        if framework == "numpy":
            from safetensors.numpy import load_file as load_numpy

            return dict(load_numpy(str(path)))
        from safetensors.torch import load_file as load_torch

        return dict(load_torch(str(path)))
    except Exception as exc:  # safetensors raises its own types for bad files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} is not a valid safetensors file: {first}") from exc


def _write_extra(path: Path, content: Any) -> None:
    if path.name.endswith(".safetensors"):
        if not isinstance(content, Mapping):
            raise CheckpointError(f"extra {path.name} needs a mapping of tensors")
        _write_tensors(path, content)
    elif path.name.endswith(".json"):
        try:
            path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
        except TypeError as exc:
            raise CheckpointError(f"extra {path.name} is not JSON-serialisable: {exc}") from exc
    elif isinstance(content, (bytes, bytearray)):
        path.write_bytes(bytes(content))
    else:
        raise CheckpointError(
            f"extra {path.name} needs bytes (or use a .json or .safetensors name), "
            f"not {type(content).__name__}"
        )
