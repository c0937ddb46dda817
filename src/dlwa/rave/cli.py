"""``dlwa stream|train|export|info rave``: thin shells over the library (no heavy imports)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlwa.training.options import add_training_options

MODEL = "rave"
DEFAULT_MODEL = "guitar"


def register(verbs: object) -> None:
    """Add the rave sub-commands to ``dlwa``."""
    stream = verbs.add("stream", MODEL, _stream, "run a sound file through an nn~ model "
                       "(RAVE) chunk by chunk, as [rave~] plays it")
    stream.add_argument("input", help="input sound file (resampled to the model's rate)")
    stream.add_argument("output", help="output: a wav file, or .npy for encode's latents "
                        "([channels, frames])")
    stream.add_argument("--model", default=DEFAULT_MODEL, help="name (guitar) or .ts file")
    stream.add_argument("--method", default="forward", help="forward, encode, decode, …")
    stream.add_argument("--chunk", type=int, default=None,
                        help="samples per call (default about 1024, a multiple of the "
                        "model's ratio)")
    stream.add_argument("--set", nargs="+", action="append", default=[],
                        metavar=("ATTR", "VALUE"), help="set an attribute before streaming "
                        "(repeatable), e.g. --set learn_target true")
    stream.add_argument("--seed", type=int, default=0,
                        help="seeds the model's random draws (RAVE samples its latent)")

    info = verbs.add("info", MODEL, _info, "list an nn~ model's methods, channels, ratios "
                     "and attributes")
    info.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="name or .ts file")

    train = verbs.add("train", MODEL, _train, "train RAVE (acids-rave, an optional extra: "
                      "bash scripts/install-rave.sh) on a folder of audio, then export it")
    train.add_argument("data", help="folder of audio files")
    train.add_argument("--out", required=True,
                       help="a new or empty folder for the run (never overwritten)")
    train.add_argument("--config", default="cpu",
                       help="cpu (dlwa's small one, default), or an acids-rave config: v1, "
                       "v2, v2_small, v3, raspberry, …, or a .gin file; join with + "
                       "(v2+causal)")
    train.add_argument("--override", action="append", default=[],
                       help="a gin binding, e.g. 'CAPACITY = 32' (repeatable)")
    train.add_argument("--sample-rate", type=int, default=16000, help="the model's rate")
    train.add_argument("--n-signal", type=int, default=65536,
                       help="samples per training example")
    train.add_argument("--phase-1-steps", type=int, default=None,
                       help="steps before the adversarial phase (default: two thirds of "
                       "--steps)")
    train.add_argument("--val-every", type=int, default=500,
                       help="steps between validations and saves")
    train.add_argument("--name", default=None, help="the exported model's name (default: "
                       "the --out folder's)")
    train.add_argument("--no-export", action="store_true",
                       help="leave out the TorchScript export at the end")
    add_training_options(train, steps=8000, batch_size=8, state_file="last.ckpt",
                         threads=2)
    train.add_argument("--smoke-test", action="store_true",
                       help="4 steps of a tiny model (capacity 4, batch 2): checks the data, "
                       "the stack and the export in about a minute")

    export = verbs.add("export", MODEL, _export, "export a RAVE run (acids-rave) to the "
                       "streaming TorchScript file nn~ and [rave~] play")
    export.add_argument("run", help="the run folder (config.gin and last.ckpt)")
    export.add_argument("--name", default=None, help="model name (default: the folder's)")
    export.add_argument("--checkpoint", default=None, help="a .ckpt (default: last.ckpt)")
    export.add_argument("--fidelity", type=float, default=None,
                        help="share of latent variance kept (acids-rave's default 0.95)")


def _stream(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from tqdm import tqdm

    from dlwa.audio.io import load_audio, save_audio
    from dlwa.rave.model import NNModel, find_model
    from dlwa.rave.stream import RaveStream, fit_chunk, stream_file

    torch.set_num_threads(1)
    model = NNModel(find_model(args.model))
    for attribute, *values in args.set:
        model.set(attribute, values)
    params = model.params(args.method)
    rate = model.sample_rate or 48000
    if params.in_ratio == 1:
        audio, _ = load_audio(args.input, sample_rate=rate, mono=params.in_channels == 1)
        audio = audio[None] if audio.ndim == 1 else audio
    else:  # decode: latents [channels, frames] from a .npy, held for in_ratio samples
        frames = np.load(args.input).astype(np.float32)
        audio = np.repeat(frames, params.in_ratio, axis=1)
    chunk, note = fit_chunk(args.chunk, model.info.higher_ratio, rate, rate)
    if note:
        print(note, file=sys.stderr)
    stream = RaveStream(model, args.method, chunk=chunk, sample_rate=rate)
    torch.manual_seed(args.seed)
    bar = tqdm(total=audio.shape[1] // chunk + 1, desc="stream", unit="chunk", file=sys.stderr,
               disable=None)
    y = stream_file(stream, audio, progress=lambda done, total: bar.update(done - bar.n))
    bar.close()
    out = Path(args.output)
    in_pd = stream.host_latency(realtime=True)
    print(f"latency {in_pd} samples = {1000 * in_pd / rate:.2f} ms at {rate} Hz in Pd "
          f"(pyext~'s ring of 2 x {chunk} plus the stream's {stream.latency}); {out.name} is "
          "aligned to the input")
    if out.suffix == ".npy":
        np.save(out, y[:, ::params.out_ratio] if params.out_ratio > 1 else y)
        shape = "x".join(map(str, np.load(out).shape))
        print(f"wrote {out} ({shape}: channels x frames)")
    else:
        if params.out_ratio > 1:
            raise ValueError(f"{args.method} gives latents: name the output .npy")
        save_audio(out, y if y.shape[0] > 1 else y[0], sample_rate=rate)
        print(f"wrote {out} ({y.shape[1] / rate:.2f} s at {rate} Hz, model {model.name}, "
              f"{args.method}, chunk {chunk})")
    return 0


def _info(args: argparse.Namespace) -> int:
    from dlwa.rave.model import NNModel, find_model

    model = NNModel(find_model(args.model))
    rate = model.sample_rate
    print(f"{model.name}: {model.path} ({rate or 'no'} Hz)")
    for name, p in model.methods.items():
        print(f"  {name}: {p.in_channels} in (ratio {p.in_ratio}) -> {p.out_channels} out "
              f"(ratio {p.out_ratio})")
    for attribute in model.attributes:
        values = " ".join(map(str, model.get(attribute)))
        print(f"  attribute {attribute} = {values} ({' '.join(model.attribute_types(attribute))})")
    return 0


def _train(args: argparse.Namespace) -> int:
    from dlwa.rave.train import RaveTrainConfig, train

    if args.smoke_test:
        args.override = [*args.override, "CAPACITY = 4"]
        args.steps, args.batch_size, args.val_every = 4, 2, 2
    phase_1 = args.phase_1_steps if args.phase_1_steps is not None else 2 * args.steps // 3
    cfg = RaveTrainConfig(config=args.config, overrides=args.override,
                          sample_rate=args.sample_rate, n_signal=args.n_signal,
                          steps=args.steps, phase_1_steps=phase_1, batch_size=args.batch_size,
                          val_every=args.val_every, max_minutes=args.max_minutes,
                          seed=args.seed, threads=args.threads, device=args.device,
                          name=args.name, export=not args.no_export, logdir=args.logdir)
    written = train(args.data, args.out, cfg, resume=args.resume, force=args.force)
    print(f"wrote {written}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from dlwa.rave.convert import export_streaming

    run = Path(args.run)
    written = export_streaming(run, name=args.name or run.resolve().name,
                               checkpoint=args.checkpoint, fidelity=args.fidelity)
    print(f"wrote {written}")
    return 0
