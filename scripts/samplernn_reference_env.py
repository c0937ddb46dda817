"""What PRiSM SampleRNN needs to import in the reference environment (never dlwa's .venv).

Shared by ``make_samplernn_fixtures.py`` and ``bench_samplernn_reference.py``.
"""

from __future__ import annotations

import sys
import types


def stub_unused_modules() -> None:
    """Empty stand-ins for the audio and file helpers PRiSM imports at the top of its
    modules but neither script calls (librosa, soundfile, natsort)."""
    for name in ("librosa", "soundfile", "natsort"):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)
    natsort = sys.modules["natsort"]
    if not hasattr(natsort, "natsorted"):
        natsort.natsorted = sorted
