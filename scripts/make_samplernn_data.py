"""The default SampleRNN model's training data: the Fret-on-Fire guitar stems at 16 kHz.

Debian's ``fretsonfire-songs-muldjord`` (CC-BY-SA-3.0) and ``fretsonfire-songs-sectoid``
(MIT-style) hold eight metal songs, each with a recorded, distorted ``guitar.ogg`` stem
(26.8 minutes in all). Each stem is written as ``<out>/<pack>_<song>.wav``, mono 16 kHz::

    sudo apt-get install fretsonfire-songs-muldjord fretsonfire-songs-sectoid
    .venv/bin/python scripts/make_samplernn_data.py --out out/samplernn_data/guitar
    .venv/bin/dlwa train samplernn out/samplernn_data/guitar --out checkpoints/samplernn_guitar

Eight files are fewer than ten, so training holds out the last tenth of each song.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dlwa.audio.io import load_audio, save_audio

SONGS = Path("/usr/share/games/fretsonfire/data/songs")
SAMPLE_RATE = 16000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/samplernn_data/guitar"))
    parser.add_argument("--songs", type=Path, default=SONGS)
    args = parser.parse_args()
    stems = sorted(args.songs.glob("*/*/guitar.ogg"))
    if not stems:
        raise SystemExit(f"no guitar.ogg under {args.songs}: install fretsonfire-songs-muldjord "
                         "and fretsonfire-songs-sectoid")
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for stem in stems:
        audio, _ = load_audio(stem, sample_rate=SAMPLE_RATE)
        name = f"{stem.parent.parent.name}_{stem.parent.name}".replace(" ", "_").lower()
        save_audio(args.out / f"{name}.wav", audio, sample_rate=SAMPLE_RATE)
        total += len(audio) / SAMPLE_RATE
        print(f"{name}: {len(audio) / SAMPLE_RATE:.1f} s")
    print(f"{len(stems)} stems, {total / 60:.1f} min at {SAMPLE_RATE} Hz in {args.out}")


if __name__ == "__main__":
    main()
