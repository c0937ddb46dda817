"""Import ``note_seq`` without the noise of its optional audio dependency.

``note_seq`` imports ``pydub``, which warns at import time that ffmpeg is missing (and,
on Python 3.11, that ``audioop`` is deprecated). dlwa never uses note_seq's audio, and
inside Pd those warnings would show up as console errors, so they are silenced here,
for this one import only.
"""

from __future__ import annotations

import warnings
from types import ModuleType


def load_note_seq() -> ModuleType:
    """The ``note_seq`` module, imported with pydub's import-time warnings silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*audioop", category=DeprecationWarning)
        import note_seq
    return note_seq
