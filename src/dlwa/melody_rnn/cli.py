"""``dlwa train|generate|eval|import melody_rnn``: thin shells over the library.

Nothing heavy is imported here at import time; each handler imports what it needs.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from dlwa.training.options import add_training_options

MODEL = "melody_rnn"


def register(verbs: Any) -> None:
    """Add the melody_rnn sub-commands to ``dlwa``."""
    train = verbs.add("train", MODEL, _train, "train MelodyRNN on MIDI files or the Essen corpus")
    train.add_argument("data", help="folder of MIDI files, or 'essen' for the built-in corpus")
    train.add_argument("--out", required=True,
                       help="a new or empty folder for the checkpoint (never overwritten)")
    train.add_argument("--config", default="attention_rnn",
                       choices=["basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"])
    train.add_argument("--layer-sizes", default="128,128", help="LSTM units per layer")
    train.add_argument("--eval-every", type=int, default=200,
                       help="updates between validations and saves")
    train.add_argument("--max-train-steps", type=int, default=256,
                       help="cut training melodies to this many 16th-note steps")
    add_training_options(train, steps=2000, batch_size=64, state_file="training_state.pt",
                         steps_help="optimiser updates in total")
    train.add_argument("--cache-dir", default=None,
                       help="where extracted melodies are cached (default ~/.cache/dlwa/melody_rnn)")
    train.add_argument("--smoke-test", action="store_true",
                       help="a tiny model, 2 updates: checks the data and the pipeline")

    gen = verbs.add("generate", MODEL, _generate, "continue a melody from a MIDI primer")
    gen.add_argument("--model", default="melody_rnn_attention", help="checkpoint name or path")
    gen.add_argument("--primer", help="MIDI file whose melody is continued (default: none)")
    gen.add_argument("--bars", type=float, default=8.0, help="bars (4/4) to add after the primer")
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--beam-size", type=int, default=1)
    gen.add_argument("--branch-factor", type=int, default=1)
    gen.add_argument("--steps-per-iteration", type=int, default=1)
    gen.add_argument("--qpm", type=float, default=None,
                     help="tempo; default: the primer's, else 120")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--out", required=True, help="MIDI file to write")

    ev = verbs.add("eval", MODEL, _eval, "NLL per step and next-event accuracy on MIDI files")
    ev.add_argument("data", help="folder of MIDI files, or 'essen' (its held-out split)")
    ev.add_argument("--model", default="melody_rnn_attention", help="checkpoint name or path")
    ev.add_argument("--json", action="store_true", help="print the figures as JSON")
    ev.add_argument("--cache-dir", default=None, help="melody cache (as for train)")
    ev.add_argument("--baseline", action="store_true",
                    help="also score a bigram model trained on the folder's training split")

    imp = verbs.add("import", MODEL, _import, "convert a Magenta .mag bundle to a dlwa checkpoint")
    imp.add_argument("bundle", help="the .mag generator bundle")
    imp.add_argument("--out", required=True, help="checkpoint directory to write")
    imp.add_argument("--attn-length", type=int, default=None,
                     help="attention length of an attention_rnn bundle (Magenta's default: 40)")


def _train(args: argparse.Namespace) -> int:
    from dlwa.melody_rnn.data import load_melodies
    from dlwa.melody_rnn.model import KIND, get_config
    from dlwa.melody_rnn.train import STATE_FILE, TrainOptions, train
    from dlwa.training import check_output

    sizes = tuple(int(n) for n in str(args.layer_sizes).split(",") if n)
    shared: dict[str, Any] = {"seed": args.seed, "device": args.device,
                              "threads": args.threads, "force": args.force,
                              "logdir": args.logdir}
    options = TrainOptions(n_updates=args.steps, max_minutes=args.max_minutes,
                           batch_size=args.batch_size, eval_every=args.eval_every,
                           max_train_steps=args.max_train_steps, **shared)
    if args.smoke_test:
        sizes = (8,)
        options = TrainOptions(n_updates=2, batch_size=4, eval_every=2, max_train_steps=64,
                               **shared)
    config = get_config(args.config, layer_sizes=sizes)
    rank = int(os.environ.get("RANK", "0"))  # under torchrun, rank 0 speaks for all
    say = print if rank == 0 else (lambda *a, **k: None)
    if rank == 0:
        check_output(args.out, kind=KIND, state_file=STATE_FILE, resume=args.resume,
                     force=args.force)
    say(f"reading melodies from {args.data} ...", flush=True)
    train_set, validation = load_melodies(args.data, min_note=config.min_note,
                                          max_note=config.max_note,
                                          transpose_to_key=config.transpose_to_key,
                                          cache_dir=_path(args.cache_dir))
    say(f"{len(train_set)} training melodies ({train_set.n_steps} steps), "
          f"{len(validation)} held out ({validation.n_steps} steps)", flush=True)
    metrics = train(train_set.melodies, validation.melodies, config=config, out=Path(args.out),
                    options=options, data_description=str(args.data),
                    log=lambda line: print(line, flush=True), resume=args.resume)
    if metrics is not None:
        say(f"held-out nll {metrics.nll:.4f} accuracy {metrics.accuracy:.4f}")
    say(f"wrote {args.out}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from dlwa.melody_rnn.generate import GenerateOptions, generate_midi, load_generator

    generator = load_generator(args.model)
    options = GenerateOptions(temperature=args.temperature, beam_size=args.beam_size,
                              branch_factor=args.branch_factor,
                              steps_per_iteration=args.steps_per_iteration, seed=args.seed)
    answer = generate_midi(generator, primer=Path(args.primer) if args.primer else None,
                           bars=args.bars, qpm=args.qpm, options=options, out=Path(args.out))
    print(f"wrote {args.out}: {len(answer.notes)} new notes at {answer.qpm:g} qpm")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from dlwa.melody_rnn.data import ESSEN, load_melodies
    from dlwa.melody_rnn.generate import load_generator
    from dlwa.melody_rnn.train import bigram_baseline, evaluate

    generator = load_generator(args.model)
    config = generator.model.config
    train_set, validation = load_melodies(args.data, min_note=config.min_note,
                                          max_note=config.max_note,
                                          transpose_to_key=config.transpose_to_key,
                                          cache_dir=_path(args.cache_dir))
    # On the built-in corpus only the held-out split is fair; a user's folder is all test,
    # except beside the bigram, which learns from the training split: then both are
    # scored on the held-out split alone.
    held_out_only = str(args.data) == ESSEN or args.baseline
    test = validation if held_out_only else type(train_set)(
        train_set.melodies + validation.melodies, train_set.sources + validation.sources)
    if not len(test):
        raise ValueError(f"{args.data}: no held-out melody to score (the folder is too small "
                         "for a held-out split); leave out --baseline to score all of it")
    bar = tqdm(total=len(test), desc="scoring", unit="melody", file=sys.stderr, disable=None)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    metrics = evaluate(generator.model, test.melodies, progress=progress)
    bar.close()
    result: dict[str, Any] = {"model": generator.name, "data": str(args.data),
                              "n_melodies": len(test), **metrics.to_dict()}
    if args.baseline:
        result["bigram"] = bigram_baseline(train_set.melodies, test.melodies,
                                           min_note=config.min_note,
                                           max_note=config.max_note).to_dict()
    if args.json:
        print(json.dumps(result))
    else:
        split = "held-out " if held_out_only else ""
        print(f"{generator.name} on {args.data} ({len(test)} {split}melodies, "
              f"{metrics.n_steps} steps): "
              f"nll {metrics.nll:.4f} per step, accuracy {metrics.accuracy:.4f} "
              f"(over its own classes: nll {metrics.label_nll:.4f}, "
              f"accuracy {metrics.label_accuracy:.4f})")
        if args.baseline:
            print(f"bigram baseline: nll {result['bigram']['nll']:.4f}, "
                  f"accuracy {result['bigram']['accuracy']:.4f}")
    return 0


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def _import(args: argparse.Namespace) -> int:
    from dlwa.melody_rnn.convert import import_bundle

    out = import_bundle(Path(args.bundle), Path(args.out), attn_length=args.attn_length)
    print(f"wrote {out}")
    return 0
