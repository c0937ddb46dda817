"""``dlwa train gansynth``: the GANSynth sub-commands (imports nothing heavy at import time)."""

from __future__ import annotations

import argparse
from typing import Any

PRESETS = ("small", "full")  # dlwa.gansynth.train.PRESETS, without importing torch
CHOPS = ("fixed", "onsets", "none")  # dlwa.gansynth.data.CHOPS


def register(verbs: Any) -> None:
    """Add ``dlwa train gansynth``."""
    train = verbs.add("train", "gansynth", _train,
                      "train GANSynth (progressive WGAN-GP over spectrograms) on a folder of "
                      "notes: NSynth-style (examples.json + audio/) or any audio")
    train.add_argument("data", help="NSynth-style folder or any folder of audio files")
    train.add_argument("--out", required=True, help="new folder for the model (or --resume)")
    train.add_argument("--config", choices=PRESETS, default=None,
                       help="model size: small (CPU, the default) or full (Magenta's "
                       "all_instruments); a resumed run keeps its own")
    train.add_argument("--images", type=int, default=None,
                       help="notes shown in all (default: 10 passes over the data per phase)")
    train.add_argument("--batch-size", type=int, default=8)
    train.add_argument("--minutes", type=float, default=None,
                       help="stop (and save) after this time; --resume continues")
    train.add_argument("--save-every", type=int, default=None,
                       help="images between saves and previews (default: 20 per run)")
    train.add_argument("--threads", type=int, default=None, help="torch threads")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true",
                       help="continue the unfinished run in --out (same model settings)")
    train.add_argument("--smoke-test", action="store_true",
                       help="one step of batch 2 per phase, to check the data and pipeline")
    data = train.add_argument_group("data (a folder of audio; NSynth-style folders are labelled)")
    data.add_argument("--label", choices=("name", "track"), default="name",
                      help="pitch from a <name>_<pitch>.wav file name, or tracked")
    data.add_argument("--pitch", type=int, default=None,
                      help="give every note this MIDI pitch (unpitched sound, e.g. 32)")
    data.add_argument("--chop", choices=CHOPS, default="fixed",
                      help="cut files into fixed windows, at onsets, or one note per file")
    data.add_argument("--hop-length", type=int, default=None,
                      help="samples between fixed windows (default: the note length)")
    data.add_argument("--tracker", default="yin", help="pitch tracker for --label track")
    data.add_argument("--instrument-sources", nargs="+", default=None,
                      help="NSynth-style only: keep these sources (e.g. acoustic)")
    data.add_argument("--skip-bad-notes", action="store_true",
                      help="skip notes without a usable pitch (with a warning) instead of "
                      "stopping")


def _train(args: argparse.Namespace) -> int:
    from dlwa.gansynth.train import DataOptions, TrainConfig, train

    if args.batch_size < 2:
        raise ValueError(f"--batch-size must be at least 2 (minibatch stddev), got "
                         f"{args.batch_size}")
    if args.images is not None and args.images < 1:
        raise ValueError(f"--images must be positive, got {args.images}")
    label = args.pitch if args.pitch is not None else args.label
    train(args.data, args.out, model_config=args.config, resume=args.resume,
          train_config=TrainConfig(images=args.images, batch_size=args.batch_size,
                                   minutes=args.minutes, save_every=args.save_every,
                                   n_threads=args.threads, seed=args.seed,
                                   smoke_test=args.smoke_test),
          data=DataOptions(label=label, chop=args.chop, hop_length=args.hop_length,
                           tracker=args.tracker, strict=not args.skip_bad_notes,
                           instrument_sources=(tuple(args.instrument_sources)
                                               if args.instrument_sources else None)))
    return 0
