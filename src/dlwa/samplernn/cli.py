"""``dlwa train|generate|eval|import samplernn`` and ``dlwa data chunk``: thin shells over
the library (no heavy imports here)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dlwa.training.options import add_training_options

MODEL = "samplernn"
DEFAULT_MODEL = "guitar"


def register(verbs: Any) -> None:
    """Add the samplernn sub-commands to ``dlwa``."""
    train = verbs.add("train", MODEL, _train, "train SampleRNN on a folder of audio "
                      "(chunks from 'dlwa data chunk', or whole recordings)")
    train.add_argument("data", help="folder of audio files")
    train.add_argument("--out", required=True,
                       help="a new or empty folder for the checkpoint (never overwritten)")
    train.add_argument("--config", default=None,
                       help="a PRiSM *.config.json (default: the CPU-sized GRU 2 x 256)")
    train.add_argument("--sample-rate", type=int, default=16000,
                       help="the model's rate; the audio is resampled to it")
    train.add_argument("--example-seconds", type=float, default=8.0,
                       help="length of each training example (truncated BPTT walks it)")
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--eval-every", type=int, default=500,
                       help="steps between validations, saves and generated samples")
    train.add_argument("--patience", type=int, default=3,
                       help="stop after this many validations without improvement")
    train.add_argument("--sample-seconds", type=float, default=2.0,
                       help="audio generated at each validation (0: none)")
    add_training_options(train, steps=20000, batch_size=32, state_file="train_state.pt",
                         steps_help="optimiser steps (one per subsequence)")
    train.add_argument("--smoke-test", action="store_true",
                       help="a few steps of batch 2, to check the data and pipeline")
    register_generate(verbs)


def register_generate(verbs: Any) -> None:
    gen = verbs.add("generate", MODEL, _generate, "generate audio with SampleRNN (any length, "
                    "temperatures or envelopes, a seed the output continues)")
    gen.add_argument("--model", default=DEFAULT_MODEL, help="checkpoint name or path")
    gen.add_argument("--temp", action="append", default=None,
                     help="temperature or Env([levels],[times],[curves]); give one per "
                     "sequence (the last is repeated); default 1")
    gen.add_argument("--dur", type=float, default=4.0, help="seconds of new audio")
    gen.add_argument("--seed", default=None,
                     help="a sound file the output continues (the file begins with it)")
    gen.add_argument("--count", type=int, default=1, help="sequences, generated together")
    gen.add_argument("--out-sr", type=int, default=None,
                     help="sample rate of the written file (resampled; default: the model's)")
    gen.add_argument("--random-seed", type=int, default=None,
                     help="the same number gives the same audio")
    gen.add_argument("--out", required=True,
                     help="wav file to write (with --count N: <name>_1.wav … <name>_N.wav)")

    imp = verbs.add("import", MODEL, _import, "convert a PRiSM SampleRNN run (model.ckpt-N "
                    "+ its *.config.json) to a dlwa checkpoint")
    imp.add_argument("run", help="the PRiSM run folder (or a model.ckpt-N prefix)")
    imp.add_argument("--out", required=True, help="dlwa checkpoint folder to write")
    imp.add_argument("--config", default=None,
                     help="the run's *.config.json when the folder does not hold it")
    imp.add_argument("--sample-rate", type=int, default=16000,
                     help="the rate the run was trained at (PRiSM does not record it)")

    ev = verbs.add("eval", MODEL, _eval, "bits per sample of a model on a folder of audio")
    ev.add_argument("data", help="folder of audio files (or one file)")
    ev.add_argument("--model", default=DEFAULT_MODEL, help="checkpoint name or path")
    ev.add_argument("--json", action="store_true", help="print JSON")


def register_data(commands: argparse._SubParsersAction) -> None:
    """``dlwa data chunk``: cut recordings into training chunks, as PRiSM's chunk_audio."""
    data = commands.add_parser("data", help="prepare training data")
    verbs = data.add_subparsers(dest="data_command", required=True, metavar="<command>")
    chunk = verbs.add_parser(
        "chunk", help="cut audio into chunks for training (SampleRNN, RAVE)",
        description="Cut each file into overlapping chunks (mono), dropping chunks with half "
        "their length below the silence level, as PRiSM SampleRNN's chunk_audio does.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    chunk.add_argument("audio", nargs="+", help="sound files or folders of them")
    chunk.add_argument("--out", required=True, help="folder for the chunks")
    chunk.add_argument("--chunk-length", type=float, default=8.0, help="seconds per chunk")
    chunk.add_argument("--overlap", type=float, default=1.0, help="seconds shared by neighbours")
    chunk.add_argument("--sample-rate", type=int, default=None,
                       help="resample to this rate (default: each file's own)")
    chunk.add_argument("--silence-db", type=float, default=-64.0,
                       help="level (dBFS) below which audio counts as silence")
    chunk.set_defaults(handler=_chunk)


def _chunk(args: argparse.Namespace) -> int:
    from dlwa.data.folders import AUDIO_EXTENSIONS
    from dlwa.samplernn.data import chunk_file

    files: list[Path] = []
    for item in map(Path, args.audio):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
        elif item.is_file():
            files.append(item)
        else:
            raise FileNotFoundError(f"{item} does not exist")
    if not files:
        raise ValueError(f"no sound files in {' '.join(args.audio)}")
    written = silent = 0
    for path in files:
        report = chunk_file(path, args.out, chunk_s=args.chunk_length, overlap_s=args.overlap,
                            sample_rate=args.sample_rate, threshold_db=args.silence_db)
        written += len(report.written)
        silent += report.silent
        print(f"{path.name}: {len(report.written)} chunks ({report.silent} silent, dropped)")
    print(f"wrote {written} chunks to {args.out} ({silent} silent ones dropped)")
    return 0


def _train(args: argparse.Namespace) -> int:
    import json

    from dlwa.samplernn.model import SampleRNNConfig
    from dlwa.samplernn.train import TrainConfig, train

    model_config = None
    if args.config:
        where = Path(args.config)
        model_config = SampleRNNConfig.from_prism(json.loads(where.read_text()),
                                                  sample_rate=args.sample_rate, where=where)
    elif args.sample_rate != 16000:
        from dataclasses import replace

        from dlwa.samplernn.train import small_config

        model_config = replace(small_config(), sample_rate=args.sample_rate)
    train(args.data, args.out, model_config=model_config, resume=args.resume,
          train_config=TrainConfig(
              n_steps=args.steps, batch_size=args.batch_size, example_s=args.example_seconds,
              learning_rate=args.learning_rate, eval_every=args.eval_every,
              patience=args.patience, sample_s=args.sample_seconds,
              max_minutes=args.max_minutes, seed=args.seed, n_threads=args.threads,
              device=args.device, force=args.force, logdir=args.logdir,
              smoke_test=args.smoke_test))
    return 0


def _generate(args: argparse.Namespace) -> int:
    import sys

    import numpy as np
    from tqdm import tqdm

    from dlwa.audio.io import load_audio, save_audio
    from dlwa.audio.resample import resample
    from dlwa.samplernn.envelope import parse_temperature, temperature_track
    from dlwa.samplernn.generate import Generator, duration_samples
    from dlwa.samplernn.model import load_model

    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    temps = [parse_temperature(t) for t in (args.temp or ["1"])]
    if len(temps) > args.count:
        raise ValueError(f"{len(temps)} temperatures for --count {args.count}: give at most "
                         "one per sequence")
    model, _ = load_model(args.model)
    rate = model.config.sample_rate
    n = duration_samples(args.dur, rate)
    temps += [temps[-1]] * (args.count - len(temps))
    track = np.stack([temperature_track(t, n, rate) for t in temps])
    seed = load_audio(args.seed, sample_rate=rate)[0] if args.seed else None
    bar = tqdm(total=n, unit="sample", unit_scale=True, file=sys.stderr, disable=None,
               desc="generating")
    generator = Generator(model, batch_size=args.count)
    audio = generator.generate(n, temperature=track, seed=seed,
                               rng=np.random.default_rng(args.random_seed),
                               progress=lambda done, total: bar.update(done - bar.n))
    bar.close()
    if seed is not None:  # the file begins with the seed, then what continues it
        audio = np.concatenate([np.tile(seed, (args.count, 1)), audio], axis=1)
    out_rate = args.out_sr or rate
    out = Path(args.out)
    paths = [out] if args.count == 1 else [out.with_name(f"{out.stem}_{i}{out.suffix}")
                                           for i in range(1, args.count + 1)]
    for path, row in zip(paths, audio, strict=True):
        if out_rate != rate:
            row = np.clip(resample(row, orig_sample_rate=rate, sample_rate=out_rate), -1, 1)
        save_audio(path, row, sample_rate=out_rate)
        print(f"wrote {path} ({len(row) / out_rate:.2f} s at {out_rate} Hz)")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import json
    import math

    import numpy as np

    from dlwa.audio.io import load_audio
    from dlwa.data import scan_audio_folder
    from dlwa.samplernn.generate import score, unigram_bits
    from dlwa.samplernn.model import load_model, quantize

    model, checkpoint = load_model(args.model)
    source = Path(args.data)
    paths = [source] if source.is_file() else [i.path for i in scan_audio_folder(source).files]
    total, count, codes = 0.0, 0, []
    for path in paths:
        audio, _ = load_audio(path, sample_rate=model.config.sample_rate)
        nats, n = score(model, audio)
        total, count = total + nats, count + n
        codes.append(quantize(audio, model.config))
    result = {"model": str(checkpoint.path), "data": str(source), "files": len(paths),
              "samples": count, "bits_per_sample": round(total / count / math.log(2), 4),
              "unigram_bits_per_sample": round(unigram_bits(np.concatenate(codes),
                                                            model.config.q_levels), 4)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['bits_per_sample']:.3f} bits per sample on {len(paths)} file(s), "
              f"{count / model.config.sample_rate:.1f} s (the codes' own histogram: "
              f"{result['unigram_bits_per_sample']:.3f} bits)")
    return 0


def _import(args: argparse.Namespace) -> int:
    from dlwa.samplernn.convert import import_run
    from dlwa.training import check_output

    check_output(args.out, kind=MODEL, state_file="train_state.pt", resume=False)
    out = import_run(args.run, args.out, config=args.config, sample_rate=args.sample_rate)
    print(f"wrote {out}")
    return 0
