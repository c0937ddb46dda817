"""The pictures of docs/training.md, taken from the TensorBoard logs of two short runs.

DDSP trains 200 steps on the FluidR3 recordings in docs/ddsp/ and MelodyRNN 200 updates on
the Essen corpus (it needs the train extra); the last spectrogram and piano roll that
TensorBoard holds are written as PNG files. About 6 minutes on 2 CPU cores::

    .venv/bin/python scripts/make_training_docs.py [--work /tmp/training_docs]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"


def last_image(logdir: Path, tag: str, target: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = EventAccumulator(str(logdir), size_guidance={"images": 0})
    log.Reload()
    target.write_bytes(log.Images(tag)[-1].encoded_image_string)
    print(f"wrote {target.relative_to(ROOT)}")


def dlwa(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "dlwa", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/training_docs"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    data = args.work / "ddsp_data"
    data.mkdir(parents=True)
    for wav in sorted((ROOT / "docs" / "ddsp").glob("*_heldout.wav")):
        shutil.copy(wav, data / wav.name)
    dlwa("train", "ddsp", str(data), "--out", str(args.work / "ddsp"), "--steps", "200",
         "--save-every", "50", "--device", "cpu")
    last_image(args.work / "ddsp" / "logs", "example/resynthesis/spectrogram",
               IMAGES / "training_ddsp_spectrogram.png")
    dlwa("train", "melody_rnn", "essen", "--out", str(args.work / "melody"), "--steps", "200",
         "--eval-every", "100", "--device", "cpu")
    last_image(args.work / "melody" / "logs", "generated/piano_roll",
               IMAGES / "training_piano_roll.png")


if __name__ == "__main__":
    main()
