"""An on-disk feature cache: one ``.npz`` per (file content, parameters).

The key is the SHA-256 of the file's bytes plus the parameters as canonical JSON, so a
renamed or moved file still hits, an edited file or a changed parameter misses, and
nothing depends on modification times. The cache lives in a folder the caller passes
explicitly (no environment variables, no global state). Writes are atomic (temporary file,
then rename), so an interrupted run never leaves a half-written entry; an unreadable entry
is treated as a miss and rewritten. Put a ``"version"`` in the parameters and bump it
when the code that computes the features changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dlwa.data.folders import DataError

Features = dict[str, np.ndarray]
_PARAMS_KEY = "__params__"


def file_hash(path: str | os.PathLike[str], *, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_params(params: Mapping[str, Any]) -> str:
    """Parameters as JSON with sorted keys; numpy scalars and arrays become plain values.

    Raises:
        DataError: a value JSON cannot represent (name the key in the message).
    """

    def plain(value: Any) -> Any:
        if isinstance(value, np.generic | np.ndarray):
            return value.tolist()
        if isinstance(value, Path):
            return value.as_posix()
        raise TypeError(type(value).__name__)

    try:
        return json.dumps(dict(params), sort_keys=True, default=plain, separators=(",", ":"))
    except TypeError as err:
        bad = [k for k, v in params.items() if not _serialisable(v, plain)]
        raise DataError(
            f"cache parameters must be JSON-like (numbers, strings, lists, dicts), but "
            f"{bad or 'a value'} is {err}; pass its settings instead"
        ) from err


class FeatureCache:
    """Features computed from files, stored as ``<folder>/<key>.npz``.

    Example:
        >>> cache = FeatureCache(tmp_path / "cache")
        >>> params = {"sample_rate": 16000, "frame_rate": 250}
        >>> features = cache.get_or_compute("a.wav", params, compute_f0_and_loudness)
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        """Use (and create) ``folder`` for the cache."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._hashes: dict[tuple[str, int, int], str] = {}

    def key(self, path: str | os.PathLike[str], params: Mapping[str, Any]) -> str:
        """Cache key of ``path`` computed with ``params`` (hex, 40 characters)."""
        text = f"{self._content_hash(Path(path))}\n{canonical_params(params)}"
        return hashlib.sha256(text.encode()).hexdigest()[:40]

    def entry_path(self, path: str | os.PathLike[str], params: Mapping[str, Any]) -> Path:
        """Where the features of ``path`` with ``params`` are stored."""
        return self.folder / f"{self.key(path, params)}.npz"

    def load(self, path: str | os.PathLike[str], params: Mapping[str, Any]) -> Features | None:
        """Cached features, or ``None`` on a miss (or an unreadable entry, with a warning)."""
        entry = self.entry_path(path, params)
        if not entry.exists():
            return None
        try:
            with np.load(entry, allow_pickle=False) as data:
                features = {name: data[name] for name in data.files if name != _PARAMS_KEY}
        except (OSError, ValueError, EOFError) as err:
            warnings.warn(f"ignoring unreadable cache entry {entry} ({err})", stacklevel=2)
            return None
        return features

    def save(
        self,
        path: str | os.PathLike[str],
        params: Mapping[str, Any],
        features: Mapping[str, np.ndarray],
    ) -> Path:
        """Store ``features`` (name → array) for ``path`` and ``params``; returns the entry.

        Raises:
            DataError: a feature name is reserved or a value is not a numeric/str array.
        """
        arrays = {}
        for name, value in features.items():
            array = np.asarray(value)
            if name.startswith("__") or array.dtype == object:
                raise DataError(
                    f"feature {name!r} cannot be cached: names must not start with '__' and "
                    f"values must be numeric or string arrays (got dtype {array.dtype})"
                )
            arrays[name] = array
        arrays[_PARAMS_KEY] = np.array(canonical_params(params))
        entry = self.entry_path(path, params)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return entry

    def get_or_compute(
        self,
        path: str | os.PathLike[str],
        params: Mapping[str, Any],
        compute: Callable[[Path], Mapping[str, np.ndarray]],
    ) -> Features:
        """Cached features of ``path``, computing and storing them with ``compute(path)`` on a miss."""
        cached = self.load(path, params)
        if cached is not None:
            return cached
        features = {name: np.asarray(value) for name, value in compute(Path(path)).items()}
        self.save(path, params, features)
        return features

    def _content_hash(self, path: Path) -> str:
        stat = path.stat()
        memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo_key not in self._hashes:
            self._hashes[memo_key] = file_hash(path)
        return self._hashes[memo_key]


def _serialisable(value: Any, default: Callable[[Any], Any]) -> bool:
    try:
        json.dumps(value, default=default)
    except TypeError:
        return False
    return True
