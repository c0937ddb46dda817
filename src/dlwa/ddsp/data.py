"""DDSP training data from a folder of audio: examples with cached features and statistics.

A folder is scanned and validated (:func:`dlwa.data.scan_audio_folder`), split by file
(hash of the name), cut into windows of ``example_s`` seconds every ``hop_s`` seconds, and
each file's features (f0, confidence, loudness) are computed once with the chosen pitch
tracker and cached in ``<out>/features/``. The windows' features are frame-aligned slices
of the file's features, so nothing is computed twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlwa.audio.io import load_audio
from dlwa.data import FeatureCache, build_examples, scan_audio_folder
from dlwa.data.folders import DataError
from dlwa.ddsp.features import compute_features

N_QUANTILES = 101
VOICED_CONFIDENCE = 0.5


@dataclass
class DDSPExamples:
    """Frame-aligned training windows of one split.

    Attributes:
        audio: [n_examples, n_samples] float32.
        f0_hz, f0_confidence, loudness_db: [n_examples, n_frames] float32 with
            ``n_frames · hop_length = n_samples``.
    """

    audio: np.ndarray
    f0_hz: np.ndarray
    f0_confidence: np.ndarray
    loudness_db: np.ndarray

    def __len__(self) -> int:
        return int(self.audio.shape[0])


def build_dataset(
    folder: str | os.PathLike[str], *, sample_rate: int, frame_rate: int, tracker: str,
    cache_dir: str | os.PathLike[str], example_s: float = 2.0, hop_s: float = 1.0,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[dict[str, DDSPExamples], dict[str, Any]]:
    """Examples per split (``"train"``, ``"validation"``) and the dataset statistics.

    Raises:
        DataError: the folder is missing, empty, unreadable or too short (one clear line
            per problem), or no window holds sound.
    """
    hop_length = sample_rate // frame_rate
    n_frames = round(example_s * frame_rate)
    n_samples = n_frames * hop_length
    example_hop = round(hop_s * frame_rate) * hop_length
    scan = scan_audio_folder(folder, min_duration_s=n_samples / sample_rate)
    cache = FeatureCache(cache_dir)
    params = {"sample_rate": sample_rate, "frame_rate": frame_rate, "tracker": tracker}

    def features_of(path: Path) -> dict[str, np.ndarray]:
        audio, _ = load_audio(path, sample_rate=sample_rate)
        return compute_features(audio, sample_rate=sample_rate, frame_rate=frame_rate,
                                tracker=tracker)

    paths = [info.path for info in scan.files]
    features = {}
    for i, path in enumerate(paths):
        features[path] = cache.get_or_compute(path, params, features_of)
        if progress:
            progress("features", i + 1, len(paths))
    splits = build_examples(
        paths, sample_rate=sample_rate, n_samples=n_samples, hop_length=example_hop,
        root=folder, remedy=f"give recordings with at least {n_samples / sample_rate:g} s of "
        "audible sound in a row (silent stretches are skipped)")
    result = {}
    for split, examples in splits.items():
        sliced: dict[str, list[np.ndarray]] = {"f0_hz": [], "f0_confidence": [], "loudness_db": []}
        for source, offset in zip(examples.source, examples.offset):
            file_features = features[examples.files[int(source)]]
            first = int(offset) // hop_length
            for name, values in sliced.items():
                values.append(file_features[name][first:first + n_frames])
        stacked = {name: (np.stack(v) if v else np.zeros((0, n_frames), np.float32))
                   for name, v in sliced.items()}
        result[split] = DDSPExamples(audio=examples.audio, **stacked)
    train_features = [features[p] for p in splits["train"].files]
    return result, dataset_statistics(train_features)


def dataset_statistics(features: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """What auto-adjust needs: pitch range and mean, loudness quantiles of voiced frames.

    Raises:
        DataError: no voiced frame at all.
    """
    f0 = np.concatenate([f["f0_hz"] for f in features])
    confidence = np.concatenate([f["f0_confidence"] for f in features])
    loudness = np.concatenate([f["loudness_db"] for f in features])
    voiced = (confidence >= VOICED_CONFIDENCE) & (f0 > 0) & (loudness > -80)
    if not voiced.any():
        raise DataError("no voiced frame in the training audio: is it pitched and audible?")
    pitch = 12 * np.log2(f0[voiced] / 440.0) + 69
    q = np.linspace(0, 1, N_QUANTILES)
    return {
        "mean_pitch_midi": float(pitch.mean()),
        "pitch_quantiles_midi": np.quantile(pitch, [0.05, 0.5, 0.95]).tolist(),
        "loudness_quantiles_db": np.quantile(loudness[voiced], q).tolist(),
        "mean_loudness_db": float(loudness[voiced].mean()),
        "voiced_fraction": float(voiced.mean()),
        "n_frames": int(f0.size),
    }
