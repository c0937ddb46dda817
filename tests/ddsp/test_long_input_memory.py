"""`dlwa transfer ddsp` on long files: peak memory does not grow with the input's length.

Its own file, importing nothing new, so the same test can be run against older code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from dlwa.audio.io import save_audio

# One process transfers the short file, then the long one, and prints its peak RSS
# (Linux ru_maxrss, KiB) after each: the growth is what the long file added.
SCRIPT = """
import resource, sys
from dlwa import cli
ckpt, short, long_, out = sys.argv[1:5]
for wav in (short, long_):
    code = cli.main(["transfer", "ddsp", "--model", ckpt, wav, out, "--block-seconds", "1"])
    assert code == 0, code
    print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"""
SAMPLE_RATE = 16000
SHORT_S, LONG_S = 5.0, 150.0
# Before blocked processing the long file added about 220 MiB here (whole-signal STFT,
# phases, noise and FFTs); now a few MiB of feature arrays.
MAX_GROWTH_MIB = 50.0


def quiet_tone(duration_s: float) -> np.ndarray:
    t = np.arange(int(duration_s * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.05 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)


def test_peak_memory_does_not_grow_with_input_length(tiny_checkpoint: Path,
                                                     tmp_path: Path) -> None:
    short, long_ = tmp_path / "short.wav", tmp_path / "long.wav"
    save_audio(short, quiet_tone(SHORT_S), sample_rate=SAMPLE_RATE)
    save_audio(long_, quiet_tone(LONG_S), sample_rate=SAMPLE_RATE)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_checkpoint), str(short), str(long_),
         str(tmp_path / "out.wav")], check=False, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    peaks = [int(line.split()[1]) for line in result.stdout.splitlines()
             if line.startswith("PEAK")]
    growth_mib = (peaks[1] - peaks[0]) / 1024
    assert growth_mib < MAX_GROWTH_MIB, f"peak RSS grew {growth_mib:.0f} MiB for {LONG_S:g} s"
