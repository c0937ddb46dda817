"""The data layer the models share: check a user's folder, cut it into examples, cache features.

- :mod:`dlwa.data.folders`: scan a folder of audio or MIDI files, with clear errors.
- :mod:`dlwa.data.examples`: fixed-length examples, silence dropped, a train/validation
  split by file-name hash that stays put when files are added.
- :mod:`dlwa.data.cache`: an ``.npz`` feature cache keyed by file content and parameters.
"""

from dlwa.data.cache import FeatureCache, file_hash
from dlwa.data.examples import (
    ExampleSet,
    build_examples,
    cut_examples,
    drop_silent,
    example_offsets,
    split_files,
    split_of,
)
from dlwa.data.folders import (
    AUDIO_EXTENSIONS,
    MIDI_EXTENSIONS,
    AudioFolder,
    DataError,
    MidiFolder,
    MidiInfo,
    midi_info,
    scan_audio_folder,
    scan_midi_folder,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "MIDI_EXTENSIONS",
    "AudioFolder",
    "DataError",
    "ExampleSet",
    "FeatureCache",
    "MidiFolder",
    "MidiInfo",
    "build_examples",
    "cut_examples",
    "drop_silent",
    "example_offsets",
    "file_hash",
    "midi_info",
    "scan_audio_folder",
    "scan_midi_folder",
    "split_files",
    "split_of",
]
