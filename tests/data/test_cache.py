"""The feature cache: hits by content and parameters, atomic entries, clear refusals."""

import hashlib

import numpy as np
import pytest

from dlwa.data import DataError, FeatureCache, file_hash
from dlwa.data.cache import canonical_params


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(b"some audio bytes")
    return path


def counting(features):
    calls = []

    def compute(path):
        calls.append(path)
        return features

    return compute, calls


def test_miss_then_hit(tmp_path, source):
    cache = FeatureCache(tmp_path / "cache")
    params = {"sample_rate": 16000, "frame_rate": 250}
    compute, calls = counting(
        {"f0_hz": np.arange(5, dtype=np.float32), "label": np.array("violin")}
    )
    first = cache.get_or_compute(source, params, compute)
    second = cache.get_or_compute(source, params, compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(second["f0_hz"], np.arange(5, dtype=np.float32))
    assert second["f0_hz"].dtype == np.float32 and str(second["label"]) == "violin"
    assert first.keys() == second.keys() == {"f0_hz", "label"}
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".npz"]


def test_key_depends_on_content_and_params_not_name(tmp_path, source):
    cache = FeatureCache(tmp_path / "cache")
    params = {"sample_rate": 16000, "n_fft": 512}
    key = cache.key(source, params)
    assert cache.key(source, {"n_fft": 512, "sample_rate": 16000}) == key  # order does not matter
    assert cache.key(source, {"sample_rate": 16000, "n_fft": 1024}) != key
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(source.read_bytes())
    assert cache.key(copy, params) == key
    copy.write_bytes(b"edited audio bytes")
    assert cache.key(copy, params) != key


def test_edited_file_recomputes(tmp_path, source):
    cache = FeatureCache(tmp_path / "cache")
    compute, calls = counting({"x": np.zeros(3)})
    cache.get_or_compute(source, {}, compute)
    source.write_bytes(b"different content, different length")
    cache.get_or_compute(source, {}, compute)
    assert len(calls) == 2


def test_numpy_values_in_params(tmp_path, source):
    assert (
        canonical_params({"b": np.int64(3), "a": (1, 2), "c": np.array([0.5])})
        == '{"a":[1,2],"b":3,"c":[0.5]}'
    )
    with pytest.raises(DataError, match=r"cache parameters must be JSON-like.*\['model'\]"):
        FeatureCache(tmp_path / "cache").key(source, {"model": object()})


def test_corrupt_entry_is_a_miss(tmp_path, source):
    cache = FeatureCache(tmp_path / "cache")
    compute, calls = counting({"x": np.ones(2)})
    entry = cache.save(source, {}, {"x": np.ones(2)})
    entry.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="ignoring unreadable cache entry"):
        features = cache.get_or_compute(source, {}, compute)
    assert len(calls) == 1 and features["x"].tolist() == [1.0, 1.0]
    assert cache.load(source, {})["x"].tolist() == [1.0, 1.0]


def test_no_temporary_files_left(tmp_path, source):
    cache = FeatureCache(tmp_path / "cache")
    cache.save(source, {"a": 1}, {"x": np.ones(2)})

    def failing(path):
        raise RuntimeError("feature extraction failed")

    with pytest.raises(RuntimeError):
        cache.get_or_compute(source, {"a": 2}, failing)
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_refuses_bad_features(tmp_path, source):
    cache = FeatureCache(tmp_path / "cache")
    with pytest.raises(DataError, match="feature '__params__' cannot be cached"):
        cache.save(source, {}, {"__params__": np.ones(1)})
    with pytest.raises(DataError, match="got dtype object"):
        cache.save(source, {}, {"x": np.array([{}, 1], dtype=object)})


def test_file_hash(source):
    assert file_hash(source) == hashlib.sha256(b"some audio bytes").hexdigest()
    assert file_hash(source, chunk_bytes=3) == file_hash(source)
