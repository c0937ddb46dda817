"""dlwa's one checkpoint format: a directory with ``config.json`` and ``weights.safetensors``.

``config.json`` holds::

    {"kind": "ddsp", "format_version": 1, "sample_rate": 16000,
     "config": {...hyper-parameters...}, "training": {...what it was trained on...},
     "extras": ["dataset_statistics.json", ...]}

``weights.safetensors`` holds the state dict; extras (dataset statistics, PCA components)
are further files beside them: ``*.safetensors`` for tensors, ``*.json`` for data, any
other name for raw bytes.

Nothing read from a checkpoint is trusted. Before any model code runs, loading checks
``config.json`` itself (size, nesting, kind, version, the types of its top-level fields),
the ``config`` against the model's config dataclass (:func:`config_from_dict`: each
field's type and range as declared with :func:`setting`, unknown and missing keys), the
weights' names, dtypes and shapes against the model that config builds (on torch's meta
device, so a huge config allocates nothing) and their values (:func:`check_weights`:
finite and of a sane magnitude). :func:`load_module` does all of that for a torch model.
Every problem is one :class:`CheckpointError` line naming the file, the field and what is
expected. Saving is atomic: the files are written into a temporary sibling directory that
is then swapped into place, so an interrupted save leaves the old checkpoint intact.

This module imports torch only when tensors are saved or loaded as torch tensors.
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import numbers
import os
import secrets
import shutil
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
ENV_CHECKPOINTS = "DLWA_CHECKPOINTS"
PROJECT_CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
RESERVED_FILES = (CONFIG_FILE, WEIGHTS_FILE)
MAX_JSON_BYTES = 8 * 2**20
"""Largest JSON file read (``config.json``, JSON extras); ours are a few kB."""
MAX_WEIGHT_MAGNITUDE = 1e6
"""Largest absolute weight value accepted. Trained weights are O(1) (the shipped ones stay
below 3); values near float32's 3.4e38 overflow to inf in the first matrix product."""
WEIGHTS_HEADER_SLACK = 16 * 2**20
"""How much larger than its tensors a weights file may be (the safetensors header)."""
MAX_SAMPLE_RATE = 1_000_000

Config = TypeVar("Config")


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, of the wrong kind or version, or mismatched.

    The message is always one line: newlines from wrapped errors are folded into spaces.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


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


def checkpoint_dirs() -> list[Path]:
    """The folders searched for checkpoint names, in order.

    Each folder of ``$DLWA_CHECKPOINTS`` (separated by ``os.pathsep``, ``:`` on Linux)
    comes first, then the project's ``checkpoints/``; a name found in an earlier folder
    hides the same name in a later one.
    """
    env = os.environ.get(ENV_CHECKPOINTS, "")
    extra = [Path(part).expanduser() for part in env.split(os.pathsep) if part.strip()]
    return [*extra, *([] if PROJECT_CHECKPOINTS in extra else [PROJECT_CHECKPOINTS])]


def checkpoints_dir() -> Path:
    """The first folder searched: the first of ``$DLWA_CHECKPOINTS``, else the project's."""
    return checkpoint_dirs()[0]


# ---------------------------------------------------------------------------
# Saving


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
    """Write a checkpoint directory atomically: the old one stays intact until the new is whole.

    All files are written into a temporary sibling directory, which then takes the
    target's place in one rename. Files in the target that are not part of its checkpoint
    (``train_log.jsonl``, a ``features/`` cache, the user's own files) are carried over
    as hard links (copies where the file system has none); the old checkpoint's own files
    (``config.json``, weights, the extras it lists) are replaced. If anything fails or is
    interrupted (Ctrl-C, a full disk), the temporary directory is removed and the target
    is as it was.

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
        CheckpointError: a config is not JSON-serialisable, an extra's name is reserved
            or its content does not suit its suffix, or the target is a file.
    """
    path = Path(directory)
    if not kind or not isinstance(kind, str):
        raise CheckpointError(f"kind must be a non-empty string such as 'ddsp', not {kind!r}")
    extras = dict(extras or {})
    for name in extras:
        if not _is_plain_name(name) or name in RESERVED_FILES:
            raise CheckpointError(f"bad extra file name {name!r}: use e.g. 'statistics.json'")
    meta = {
        "kind": kind, "format_version": FORMAT_VERSION, "sample_rate": sample_rate,
        "config": dict(config), "training": dict(training or {}), "extras": sorted(extras),
    }
    try:
        text = json.dumps(meta, indent=2, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"config for {path} is not JSON-serialisable: {exc}") from exc
    target = Path(os.path.realpath(path))  # a symlinked checkpoint is replaced where it lives
    if target.exists() and not target.is_dir():
        raise CheckpointError(f"{path} is a file, not a checkpoint directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.saving-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        _write_tensors(staging / WEIGHTS_FILE, state_dict)
        for name, content in extras.items():
            _write_extra(staging / name, content)
        (staging / CONFIG_FILE).write_text(text + "\n")
        if target.is_dir():
            shutil.copymode(target, staging)
            _carry_over(target, staging, keep_out={*RESERVED_FILES, *extras})
        _sync(staging, [WEIGHTS_FILE, *extras, CONFIG_FILE])
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _carry_over(old: Path, new: Path, *, keep_out: set[str]) -> None:
    """Link (or copy) into ``new`` what ``old`` holds besides its checkpoint files."""
    try:
        listed = _read_json(old / CONFIG_FILE).get("extras", [])
    except CheckpointError:  # an unreadable old config.json: only the reserved names go
        listed = []
    owned = keep_out | {x for x in listed if isinstance(x, str)}
    for entry in old.iterdir():
        if entry.name in owned:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, new / entry.name)


def _link_or_copy(source: str | Path, destination: str | Path) -> None:
    if os.path.islink(source):
        os.symlink(os.readlink(source), destination)
        return
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _sync(directory: Path, names: Iterable[str]) -> None:
    """fsync the files ``names`` written into ``directory``, then the directory itself."""
    for name in names:
        with open(directory / name, "rb") as f:
            os.fsync(f.fileno())
    _sync_dir(directory)


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Make ``staging`` the directory at ``target``; the old one (if any) is removed."""
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):  # one atomic step: target is never missing
        shutil.rmtree(staging, ignore_errors=True)  # staging now holds the old checkpoint
    else:
        retired = target.parent / f".{target.name}.old-{secrets.token_hex(4)}"
        os.rename(target, retired)
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(retired, target)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    _sync_dir(target.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(b))


# ---------------------------------------------------------------------------
# Loading


def load_checkpoint(
    directory: str | Path,
    *,
    expected_kind: str | None = None,
    expected_keys: Iterable[str] | None = None,
    expected_weights: Mapping[str, Any] | None = None,
    framework: str = "pt",
    max_abs: float = MAX_WEIGHT_MAGNITUDE,
) -> Checkpoint:
    """Read a checkpoint directory, checking its files, kind, version and weights.

    Every floating weight must be finite and within ``max_abs``; with ``expected_weights``
    their names, dtypes and shapes must match too (see :func:`check_weights`).

    Args:
        directory: The checkpoint directory.
        expected_kind: Refuse checkpoints of another kind.
        expected_keys: The weight names the model has; missing or unexpected names are
            an error that lists them (strict loading).
        expected_weights: Name → tensor (or anything with ``shape`` and ``dtype``) the
            model has, e.g. :func:`module_weights`; checked names, dtypes and shapes.
        framework: ``"pt"`` for torch tensors, ``"numpy"`` for numpy arrays.
        max_abs: Largest absolute value a weight may hold.

    Raises:
        CheckpointError: with one line saying what is wrong and where.
    """
    path = Path(directory)
    meta = _read_meta(path)
    _check_kind(meta, expected_kind, path)
    weights = path / WEIGHTS_FILE
    if expected_weights is not None and weights.is_file():
        need = sum(int(np.prod(w.shape)) * w.dtype.itemsize for w in expected_weights.values())
        size = weights.stat().st_size
        if size > need + WEIGHTS_HEADER_SLACK:
            raise CheckpointError(f"{weights} is {size} bytes, far more than the {need} bytes "
                                  "of the model's weights: it is not this model's weights file")
    state = _read_tensors(weights, framework)
    if expected_keys is not None:
        check_keys(state, expected_keys, where=str(weights))
    check_weights(state, expected_weights, where=weights, max_abs=max_abs)
    extras = list(meta.get("extras", []))
    missing = [x for x in extras if not (path / x).is_file()]
    if missing:
        raise CheckpointError(f"{path}: extra files listed in {CONFIG_FILE} are missing: "
                              + ", ".join(missing))
    return Checkpoint(
        path=path, kind=meta["kind"], format_version=meta["format_version"],
        config=dict(meta["config"]), state_dict=state, sample_rate=meta.get("sample_rate"),
        training=dict(meta.get("training") or {}), extras=extras,
    )


def load_module(
    directory: str | Path, *, kind: str, config_class: type[Config],
    build: Callable[[Config], Any], max_abs: float = MAX_WEIGHT_MAGNITUDE,
) -> tuple[Any, Checkpoint]:
    """Load a checkpoint into a new torch module, every part checked before it is used.

    The order: ``config.json`` (:func:`read_config`), its ``config`` against
    ``config_class`` (:func:`config_from_dict`, after its ``upgrade_saved(dict)`` if it has
    one, which fills fields added since the checkpoint was saved; a ``sample_rate`` field
    must agree with
    the top-level one), the weights against the module ``build(config)`` makes on torch's
    meta device (:func:`module_weights`), then the real module and ``load_state_dict``.

    Args:
        directory: The checkpoint directory.
        kind: The model kind the checkpoint must have.
        config_class: The model's config dataclass (fields declared with :func:`setting`).
        build: Makes the module from a config, e.g. the nn.Module class.
        max_abs: Largest absolute value a weight may hold.

    Returns:
        ``(module, checkpoint)``; the module holds the weights, in training mode.

    Raises:
        CheckpointError: one line naming the file, the field and what is expected.
    """
    path = Path(directory)
    meta = _read_meta(path)
    _check_kind(meta, kind, path)
    where = path / CONFIG_FILE
    saved = meta["config"]
    upgrade = getattr(config_class, "upgrade_saved", None)  # fields added in later versions
    if upgrade is not None and isinstance(saved, dict):
        saved = upgrade(saved)
    config = config_from_dict(config_class, saved, where=where)
    rate = getattr(config, "sample_rate", None)
    if meta.get("sample_rate") is not None and rate is not None and meta["sample_rate"] != rate:
        raise CheckpointError(f"{where}: sample_rate must equal config.sample_rate ({rate}), "
                              f"got {meta['sample_rate']}")
    expected = module_weights(lambda: build(config))
    checkpoint = load_checkpoint(path, expected_kind=kind, expected_weights=expected,
                                 max_abs=max_abs)
    module = build(config)
    try:
        module.load_state_dict(checkpoint.state_dict)
    except RuntimeError as exc:  # checked above; kept as one line should a model differ
        raise CheckpointError(f"{path / WEIGHTS_FILE}: {exc}") from exc
    return module, checkpoint


def module_weights(build: Callable[[], Any]) -> dict[str, Any]:
    """The state dict of the module ``build()`` makes, on torch's meta device (no memory).

    A constructor that needs real data (e.g. calls ``.item()``) is built on the CPU instead.
    """
    import torch

    try:
        with torch.device("meta"):
            module = build()
    except (NotImplementedError, RuntimeError):
        module = build()
    return dict(module.state_dict())


def read_config(directory: str | Path) -> dict[str, Any]:
    """Read and check only ``config.json`` (kind, version, top-level fields), not the weights."""
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


def check_weights(
    state_dict: Mapping[str, Any], expected: Mapping[str, Any] | None = None, *,
    where: str | os.PathLike[str] = "", max_abs: float = MAX_WEIGHT_MAGNITUDE,
) -> None:
    """Check weights against what the model expects and for corrupt values.

    Args:
        state_dict: Name → torch tensor or numpy array, as loaded.
        expected: Name → what the model has (anything with ``shape`` and ``dtype``, e.g.
            :func:`module_weights`): names, dtypes and shapes must match exactly, so a
            cast (int8, float16) or transposed weight is refused. None checks only values.
        where: The file, for the message.
        max_abs: Largest absolute value allowed in a floating weight.

    Raises:
        CheckpointError: the first problem, one line, with a count of further ones.
    """
    head = f"{where}: " if where else ""
    problems = []
    if expected is not None:
        check_keys(state_dict, expected, where=str(where))
        for name, want in expected.items():
            got = state_dict[name]
            if _dtype_name(got.dtype) != _dtype_name(want.dtype):
                problems.append(f"tensor '{name}' has dtype {_dtype_name(got.dtype)}, the model "
                                f"expects {_dtype_name(want.dtype)}: the weights were cast or "
                                "quantized after saving")
            elif tuple(got.shape) != tuple(want.shape):
                problems.append(f"tensor '{name}' has shape {list(got.shape)}, the model "
                                f"expects {list(want.shape)}: config and weights are not from "
                                "the same model")
    for name, tensor in state_dict.items():
        bad = _bad_values(tensor, max_abs)
        if bad:
            problems.append(f"tensor '{name}' {bad}: the file is corrupt; train or import "
                            "the model again")
    if problems:
        n_more = len(problems) - 1
        more = f" (and {n_more} more problem{'s' if n_more > 1 else ''})" if n_more else ""
        raise CheckpointError(f"{head}{problems[0]}{more}")


def _dtype_name(dtype: Any) -> str:
    return str(getattr(dtype, "name", dtype)).removeprefix("torch.")


def _bad_values(tensor: Any, max_abs: float) -> str | None:
    """What is wrong with a floating tensor's values (NaN, inf, too large), or None."""
    if isinstance(tensor, np.ndarray):
        if not np.issubdtype(tensor.dtype, np.floating) or tensor.size == 0:
            return None
        n_nan, n_inf = int(np.isnan(tensor).sum()), int(np.isinf(tensor).sum())
        peak = float(np.abs(np.nan_to_num(tensor, nan=0.0, posinf=0.0, neginf=0.0)).max())
    else:
        import torch

        if not tensor.is_floating_point() or tensor.numel() == 0:
            return None
        n_nan, n_inf = int(torch.isnan(tensor).sum()), int(torch.isinf(tensor).sum())
        peak = float(torch.nan_to_num(tensor.detach(), nan=0.0, posinf=0.0, neginf=0.0)
                     .abs().max())
    size = int(np.prod(tensor.shape))
    if n_nan:
        return f"holds NaN ({n_nan} of {size} values)"
    if n_inf:
        return f"holds infinity ({n_inf} of {size} values)"
    if peak > max_abs:
        return (f"holds values up to {peak:.3g}, beyond the {max_abs:g} any trained weight "
                "stays within (they overflow in use)")
    return None


# ---------------------------------------------------------------------------
# Config schemas: each config dataclass declares what its fields accept


_RULE = "dlwa.checkpoints.rule"


@dataclass(frozen=True)
class Rule:
    """What one config field accepts beyond its annotated type (see :func:`setting`)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    min_items: int = 1
    max_items: int | None = None
    required: bool = True
    hint: str = ""


def setting(default: Any, **rule: Any) -> Any:
    """A config dataclass field with the constraints a loaded config must meet.

    ``ch: int = setting(512, ge=1, le=4096)``. The type comes from the annotation:
    ``int``, ``float`` (finite), ``bool``, ``str``, ``X | None``, ``tuple[X, ...]`` (a JSON
    list). Fields declared without ``setting`` are checked for their type only.

    Args:
        default: The field's default.
        **rule: :class:`Rule`'s fields: ``ge``, ``gt``, ``le``, ``lt`` (bounds of a number,
            or of each item of a list), ``choices``, ``min_items``/``max_items`` (lists),
            ``required`` (False: a saved config may lack it, e.g. a field added in a later
            version, and the default is used), ``hint`` (said after the expectation).
    """
    return field(default=default, metadata={_RULE: Rule(**rule)})


def config_from_dict(cls: type[Config], data: Any, *, where: str | os.PathLike[str] = "",
                     prefix: str = "config") -> Config:
    """Build config dataclass ``cls`` from loaded JSON data, checking every field first.

    After the per-field checks, ``cls.cross_checks(self)`` (if defined) may yield
    ``(field, expectation, value)`` for rules that tie fields together.

    Args:
        cls: The config dataclass.
        data: The ``config`` object from ``config.json`` (or another JSON object).
        where: The file, for messages.
        prefix: How the object is named in messages: ``config.n_harmonics``.

    Raises:
        CheckpointError: e.g. ``.../config.json: config.n_harmonics must be an integer
            from 1 to 1024, got 0``.
    """
    head = f"{where}: " if where else ""

    def dotted(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    if not isinstance(data, dict):
        raise CheckpointError(f"{head}{prefix or 'the file'} must be a JSON object, "
                              f"got {_shown(data)}")
    hints = typing.get_type_hints(cls)
    rules = {f.name: f.metadata.get(_RULE, Rule()) for f in fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(rules))
    if unknown:
        raise CheckpointError(f"{head}unknown key {dotted(unknown[0])!r}"
                              f"{f' (and {len(unknown) - 1} more)' if len(unknown) > 1 else ''}"
                              f"; the known keys are {', '.join(rules)}")
    values = {}
    for name, rule in rules.items():
        if name not in data:
            if rule.required:
                raise CheckpointError(f"{head}{dotted(name)} is missing: it must be "
                                      f"{_expectation(hints[name], rule)}")
            continue
        values[name] = _checked(data[name], hints[name], rule, dotted(name), head)
    config = cls(**values)
    for name, expected, value in getattr(config, "cross_checks", lambda: ())():
        raise CheckpointError(f"{head}{dotted(name)} must be {expected}, got {_shown(value)}")
    return config


def _checked(value: Any, tp: Any, rule: Rule, name: str, head: str) -> Any:
    """``value`` converted to ``tp`` (tuple for lists) if it meets ``rule``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (inner,) = (a for a in args if a is not type(None))
        if _fits(value, inner, rule):
            return _checked(value, inner, rule, name, head)
    elif origin in (tuple, list):
        n_ok = isinstance(value, (list, tuple)) and rule.min_items <= len(value) <= (
            rule.max_items if rule.max_items is not None else len(value))
        if n_ok:
            items = [_checked(v, args[0], rule, f"{name}[{i}]", head) for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
    elif _fits(value, tp, rule):
        return float(value) if tp is float else int(value) if tp is int else value
    raise CheckpointError(f"{head}{name} must be {_expectation(tp, rule)}, got {_shown(value)}")


def _fits(value: Any, tp: Any, rule: Rule) -> bool:
    """Whether a scalar ``value`` has type ``tp`` and meets ``rule`` (lists fit by shape)."""
    if typing.get_origin(tp) in (tuple, list):
        return isinstance(value, (list, tuple))
    if tp is bool:
        return isinstance(value, bool)
    if tp is str:
        ok = isinstance(value, str)
    elif tp is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif tp is float:
        ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
              and math.isfinite(value))
    else:
        raise TypeError(f"config fields of type {tp} are not supported by dlwa.checkpoints")
    if not ok:
        return False
    if rule.choices is not None:
        return value in rule.choices
    if tp is str:
        return True
    return ((rule.ge is None or value >= rule.ge) and (rule.gt is None or value > rule.gt)
            and (rule.le is None or value <= rule.le) and (rule.lt is None or value < rule.lt))


def _expectation(tp: Any, rule: Rule) -> str:
    """What a field accepts, in words: ``an integer from 1 to 1024``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    hint = f" ({rule.hint})" if rule.hint else ""
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return _expectation(inner, Rule(**{**rule.__dict__, "hint": ""})) + " or null" + hint
    if origin in (tuple, list):
        high = rule.max_items
        count = (f"{rule.min_items} to {high}" if high is not None else f"at least {rule.min_items}")
        item = _expectation(args[0], Rule(**{**rule.__dict__, "hint": ""}))
        return f"a list of {count} items, each {item}{hint}"
    if rule.choices is not None:
        shown = [_shown(c) for c in rule.choices]
        return (shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)) + hint
    noun = {bool: "true or false", str: "a string", int: "an integer",
            float: "a finite number"}.get(tp, str(tp))
    return noun + _bounds(rule) + hint


def _bounds(rule: Rule) -> str:
    if rule.ge is not None and rule.le is not None:
        return f" from {rule.ge:g} to {rule.le:g}"
    parts = [f"{op} {value:g}" for op, value in
             ((">=", rule.ge), (">", rule.gt), ("<=", rule.le), ("<", rule.lt)) if value is not None]
    return (" " + " and ".join(parts)) if parts else ""


def _shown(value: Any) -> str:
    """A loaded JSON value as the file shows it, shortened: ``"abc"``, ``NaN``, ``a list``."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------
# Lookup


def list_checkpoints(directory: str | Path | None = None, *, kind: str | None = None) -> list[str]:
    """Names of the checkpoints in ``directory`` (default: every folder of ``checkpoint_dirs()``).

    Args:
        directory: The folder to list.
        kind: Only checkpoints of this kind.

    Returns:
        The names, sorted, each once (an earlier folder's hides a later one's).
    """
    roots = [Path(directory)] if directory is not None else checkpoint_dirs()
    return sorted(_checkpoints_in(roots, kind))


def _checkpoints_in(roots: Iterable[Path], kind: str | None) -> dict[str, Path]:
    """Name → checkpoint folder over ``roots``, the first folder winning."""
    found: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for sub in sorted(root.iterdir()):
            if sub.name in found or sub.name.startswith(".") or not (sub / CONFIG_FILE).is_file():
                continue
            if kind is not None:
                try:
                    if _read_json(sub / CONFIG_FILE).get("kind") != kind:
                        continue
                except CheckpointError:
                    continue
            found[sub.name] = sub
    return found


def describe_checkpoints(*, kind: str | None = None) -> list[dict[str, Any]]:
    """What ``dlwa checkpoints`` shows: one dict per checkpoint found in ``checkpoint_dirs()``.

    Each has ``name``, ``kind``, ``sample_rate`` (Hz or None), ``size_bytes`` (all its
    files), ``trained_on`` (the training data it names, or "") and ``path``. A checkpoint
    whose ``config.json`` cannot be read shows kind ``"unreadable"``.
    """
    rows = []
    for name, path in sorted(_checkpoints_in(checkpoint_dirs(), kind).items()):
        try:
            meta = _read_json(path / CONFIG_FILE)
        except CheckpointError:
            meta = {"kind": "unreadable"}
        training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        rows.append({"name": name, "kind": str(meta.get("kind", "?")),
                     "sample_rate": meta.get("sample_rate"), "size_bytes": size,
                     "trained_on": _trained_on(training), "path": str(path.resolve())})
    return rows


def _trained_on(training: Mapping[str, Any]) -> str:
    """A short "what it learnt from" line from a checkpoint's ``training`` facts."""
    data = training.get("data")
    if not data:
        return ""
    text = str(data)
    if "n_train_examples" in training:
        text += f" ({training['n_train_examples']} examples)"
    return text


def find_checkpoint(
    name_or_path: str | Path, *, base_dir: str | Path | None = None, kind: str | None = None,
    prefix: str = "",
) -> Path:
    """Resolve a checkpoint name (in ``checkpoint_dirs()``) or a path (relative to ``base_dir``).

    A bare name (no ``/``, not starting with ``.`` or ``~``) is looked up in each
    checkpoints folder in turn, then beside ``base_dir``; anything else is a path, relative
    to ``base_dir`` (a patch's folder) or the working directory.

    Args:
        name_or_path: E.g. ``"violin"`` or ``"../models/violin"``.
        base_dir: What relative paths are relative to.
        kind: Only used to list suitable names in the error message.
        prefix: A bare name not found as it is is also tried with this prefix
            (``"ddsp_"``: ``violin`` finds ``ddsp_violin``).

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
    folders = checkpoint_dirs()
    candidates = [folder / text for folder in folders] if is_name else []
    if is_name and prefix and not text.startswith(prefix):
        candidates += [folder / f"{prefix}{text}" for folder in folders]
    candidates.append(base / Path(text).expanduser())
    for candidate in candidates:
        if (candidate / CONFIG_FILE).is_file():
            return candidate.resolve()
    for candidate in candidates:
        if candidate.is_dir():
            raise CheckpointError(f"{candidate} is not a checkpoint: it has no {CONFIG_FILE}")
    available = ", ".join(list_checkpoints(kind=kind)) or "none"
    searched = os.pathsep.join(str(folder) for folder in folders)
    if is_name:
        raise CheckpointError(
            f"no checkpoint named '{text}' in {searched} or {base} (available: {available})"
        )
    raise CheckpointError(f"no checkpoint at {candidates[-1]} (names in {searched}: {available})")


# ---------------------------------------------------------------------------
# Files


def _read_json(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path} is missing: is this a dlwa checkpoint?") from exc
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc}") from exc
    if size > MAX_JSON_BYTES:
        raise CheckpointError(f"{path} is {size} bytes, more than the {MAX_JSON_BYTES} a dlwa "
                              "JSON file may have: it is not a dlwa checkpoint file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError as exc:
        raise CheckpointError(f"{path} is nested too deeply to be a dlwa checkpoint "
                              "file") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is one
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def _read_meta(path: Path) -> dict[str, Any]:
    """``config.json``, with its top-level fields checked (the ``config`` is an object)."""
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a directory")
    where = path / CONFIG_FILE
    meta = _read_json(where)
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
    rate = meta.get("sample_rate")
    if rate is not None and not (isinstance(rate, int) and not isinstance(rate, bool)
                                 and 1 <= rate <= MAX_SAMPLE_RATE):
        raise CheckpointError(f"{where}: sample_rate must be an integer number of Hz from 1 to "
                              f"{MAX_SAMPLE_RATE} (e.g. 16000) or null, got {_shown(rate)}")
    if "config" not in meta:
        raise CheckpointError(f"{where} has no 'config' (the model's hyper-parameters)")
    if not isinstance(meta["config"], dict):
        raise CheckpointError(f"{where}: config must be a JSON object, got {_shown(meta['config'])}")
    if not isinstance(meta.get("training", {}), dict):
        raise CheckpointError(f"{where}: training must be a JSON object, "
                              f"got {_shown(meta['training'])}")
    extras = meta.get("extras", [])
    bad = [x for x in extras if not _is_plain_name(x) or x in RESERVED_FILES] if isinstance(
        extras, list) else [extras]
    if bad:
        raise CheckpointError(f"{where}: extras must be a list of file names in the checkpoint "
                              f"(e.g. \"statistics.json\"), got {_shown(bad[0])}")
    return meta


def _check_kind(meta: Mapping[str, Any], expected_kind: str | None, path: Path) -> None:
    if expected_kind is not None and meta["kind"] != expected_kind:
        raise CheckpointError(
            f"{path / CONFIG_FILE}: kind is '{meta['kind']}': this is a '{meta['kind']}' "
            f"checkpoint, not '{expected_kind}': choose a {expected_kind} checkpoint"
        )


def _is_plain_name(name: Any) -> bool:
    return (isinstance(name, str) and bool(name) and "/" not in name and os.sep not in name
            and not name.startswith(".") and "\0" not in name)


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
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"extra {path.name} is not JSON-serialisable: {exc}") from exc
    elif isinstance(content, (bytes, bytearray)):
        path.write_bytes(bytes(content))
    else:
        raise CheckpointError(
            f"extra {path.name} needs bytes (or use a .json or .safetensors name), "
            f"not {type(content).__name__}"
        )
