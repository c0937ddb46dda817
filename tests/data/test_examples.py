"""Example cutting, silence dropping and the hash-based train/validation split."""

import numpy as np
import pytest

from dlwa.audio import load_audio, save_audio, sine
from dlwa.data import (
    DataError,
    build_examples,
    cut_examples,
    drop_silent,
    example_offsets,
    split_files,
    split_of,
)


def test_offsets_and_counts():
    assert example_offsets(10, n_samples=4).tolist() == [0, 4]
    assert example_offsets(10, n_samples=4, pad_last=True).tolist() == [0, 4, 8]
    assert example_offsets(10, n_samples=4, hop_length=2).tolist() == [0, 2, 4, 6]
    assert example_offsets(12, n_samples=4, pad_last=True).tolist() == [0, 4, 8]
    assert example_offsets(3, n_samples=4).tolist() == []
    assert example_offsets(3, n_samples=4, pad_last=True).tolist() == [0]


def test_cut_examples_content():
    audio = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(
        cut_examples(audio, n_samples=4, hop_length=3), [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    )
    padded = cut_examples(audio, n_samples=4, pad_last=True)
    np.testing.assert_array_equal(padded[-1], [8, 9, 0, 0])
    assert cut_examples(audio[:3], n_samples=4).shape == (0, 4)
    long = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32)
    examples = cut_examples(long, n_samples=16000, hop_length=4000)
    assert examples.shape == (9, 16000) and examples.dtype == np.float32
    np.testing.assert_array_equal(examples[5], long[20000:36000])


def test_cut_errors():
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        cut_examples(np.zeros(10, dtype=np.float32), n_samples=0)
    with pytest.raises(ValueError, match="hop_length must be a positive integer such as 4, got 0"):
        cut_examples(np.zeros(10, dtype=np.float32), n_samples=4, hop_length=0)
    with pytest.raises(ValueError, match=r"must be 1-D \[n_samples\]"):
        cut_examples(np.zeros((2, 10), dtype=np.float32), n_samples=4)


def test_drop_silent():
    tone = sine(440.0, duration_s=0.1, sample_rate=16000, amplitude=0.5)
    examples = np.stack([tone, tone * 1e-4, np.zeros_like(tone), tone * 0.01])
    kept, keep = drop_silent(examples, threshold_db=-60.0)
    assert keep.tolist() == [True, False, False, True]
    assert kept.shape == (2, 1600)
    empty, mask = drop_silent(np.zeros((0, 1600), dtype=np.float32))
    assert empty.shape == (0, 1600) and mask.shape == (0,)


def test_split_is_deterministic_and_stable_when_files_are_added():
    names = [f"take_{i:03d}.wav" for i in range(200)]
    first = split_files(names, validation_fraction=0.2)
    assert 20 <= len(first["validation"]) <= 60
    assert split_files(names, validation_fraction=0.2) == first
    more = split_files(names + [f"new_{i}.wav" for i in range(50)], validation_fraction=0.2)
    assert set(first["validation"]) <= set(more["validation"])
    assert set(first["train"]) <= set(more["train"])
    assert split_of("take_000.wav", validation_fraction=0.2) in ("train", "validation")
    assert split_files(names, validation_fraction=0.0)["validation"] == []


def test_split_uses_paths_relative_to_root(tmp_path):
    paths = [tmp_path / "a" / "x.wav", tmp_path / "b" / "x.wav"]
    expected = [split_of(n, validation_fraction=0.5) for n in ("a/x.wav", "b/x.wav")]
    splits = split_files(paths, validation_fraction=0.5, root=tmp_path)
    assert [("validation" if p in splits["validation"] else "train") for p in paths] == expected


def test_small_datasets_still_get_a_validation_file():
    names = ["one.wav", "two.wav"]
    splits = split_files(names, validation_fraction=0.01)
    assert len(splits["validation"]) == 1 and len(splits["train"]) == 1
    assert split_files(["only.wav"], validation_fraction=0.01)["validation"] == []


def test_bad_fraction():
    with pytest.raises(
        DataError, match=r"validation_fraction must be in \[0, 1\), got 1.5; try 0.1"
    ):
        split_of("a.wav", validation_fraction=1.5)


def test_build_examples_refuses_to_return_nothing(tmp_path):
    save_audio(
        tmp_path / "short.wav", sine(440.0, duration_s=0.1, sample_rate=8000), sample_rate=8000
    )
    save_audio(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), sample_rate=8000)
    with pytest.raises(DataError, match=r"no training examples: .* no 0.5-s window above -60 dBFS"):
        build_examples(
            sorted(tmp_path.glob("*.wav")),
            sample_rate=8000,
            n_samples=4000,
            validation_fraction=0.0,
        )


def test_build_examples(tmp_path):
    sr = 8000
    for i in range(6):
        audio = sine(200.0 + 50 * i, duration_s=1.0, sample_rate=16000, amplitude=0.5)
        audio[8000:12000] = 0.0  # a silent stretch
        save_audio(tmp_path / f"f{i}.wav", audio, sample_rate=16000)
    paths = sorted(tmp_path.glob("*.wav"))
    calls = []
    sets = build_examples(
        paths,
        sample_rate=sr,
        n_samples=2000,
        validation_fraction=0.3,
        root=tmp_path,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (6, 6) and len(calls) == 6
    train, validation = sets["train"], sets["validation"]
    assert len(train.files) + len(validation.files) == 6 and len(validation.files) >= 1
    assert not set(train.files) & set(validation.files)
    for ex in (train, validation):
        assert ex.sample_rate == sr and ex.audio.shape[1] == 2000 and ex.audio.dtype == np.float32
        assert len(ex) == 3 * len(ex.files)  # 4 windows per file, the silent one dropped
        assert set(ex.offset.tolist()) == {0, 2000, 6000}
        for k in range(len(ex)):  # each example is where it says it came from
            audio, _ = load_audio(ex.files[ex.source[k]], sample_rate=sr)
            np.testing.assert_array_equal(ex.audio[k], audio[ex.offset[k] : ex.offset[k] + 2000])


def test_few_long_files_are_split_in_time_not_by_file(tmp_path):
    """Two recordings: each gives its last tenth to validation, instead of one whole file."""
    sr = 8000
    for i in range(2):
        ramp = np.linspace(0.1, 0.9, 10 * sr, dtype=np.float32)  # amplitude marks the time
        save_audio(tmp_path / f"take{i}.wav", ramp * (1 if i == 0 else -1), sample_rate=sr)
    paths = sorted(tmp_path.glob("*.wav"))
    sets = build_examples(paths, sample_rate=sr, n_samples=sr // 2, validation_fraction=0.1,
                          root=tmp_path)
    train, validation = sets["train"], sets["validation"]
    assert set(train.source.tolist()) == set(validation.source.tolist()) == {0, 1}
    assert len(train) == 2 * 18 and len(validation) == 2 * 2  # 9 s and 1 s of each
    assert train.offset.max() + sr // 2 <= 9 * sr <= validation.offset.min()
    assert np.abs(validation.audio).min() > np.abs(train.audio).max() - 1e-6
    many = [tmp_path / f"more{i}.wav" for i in range(10)]
    for path in many:
        save_audio(path, np.full(sr, 0.5, np.float32), sample_rate=sr)
    by_file = build_examples(many, sample_rate=sr, n_samples=sr // 2, validation_fraction=0.1,
                             root=tmp_path)
    held_out = {by_file["validation"].files[int(i)] for i in by_file["validation"].source}
    trained = {by_file["train"].files[int(i)] for i in by_file["train"].source}
    assert held_out and held_out.isdisjoint(trained)
