"""``dlwa train|generate|eval gansynth``: the GANSynth sub-commands (nothing heavy is
imported at import time; each handler imports what it needs)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dlwa.training.options import add_training_options

DEFAULT_MODEL = "all_instruments"
# Mirrors of the library's choices, so that --help needs no torch import.
PRESETS = ("small", "full")  # dlwa.gansynth.train.PRESETS
SCHEDULES = ("magenta", "cpu")  # dlwa.gansynth.train.SCHEDULES
PITCH_SAMPLINGS = ("data", "uniform")  # dlwa.gansynth.train.PITCH_SAMPLINGS
PRECISIONS = ("float32", "bfloat16")  # dlwa.gansynth.model.PRECISIONS
CHOPS = ("fixed", "onsets", "none")  # dlwa.gansynth.data.CHOPS


def register(verbs: Any) -> None:
    """Add ``dlwa train|generate|eval gansynth``."""
    _register_generate(verbs)
    _register_eval(verbs)
    _register_ganspace(verbs)
    _register_ganspace_import(verbs)
    _register_import(verbs)
    train = verbs.add("train", "gansynth", _train,
                      "train GANSynth (progressive WGAN-GP over spectrograms) on a folder of "
                      "notes: NSynth-style (examples.json + audio/) or any audio")
    train.add_argument("data", help="NSynth-style folder or any folder of audio files")
    train.add_argument("--out", required=True, help="new folder for the model (or --resume)")
    train.add_argument("--config", choices=PRESETS, default=None,
                       help="model size: small (CPU, the default) or full (Magenta's "
                       "all_instruments); a resumed run keeps its own")
    train.add_argument("--images", type=int, default=None,
                       help="notes shown in all (default: 10 passes over the data per phase); "
                       "--steps S is S x --batch-size images")
    train.add_argument("--schedule", choices=SCHEDULES, default="magenta",
                       help="magenta: equal phases from the first resolution; cpu: four "
                       "blocks from the start, most images at 16 x 128 (for a CPU)")
    train.add_argument("--classifier-warmup", type=int, default=0, metavar="STEPS",
                       help="train the discriminator's pitch classifier on real notes alone "
                       "for STEPS steps first (default 0, as Magenta)")
    train.add_argument("--harmonic-map", action="store_true",
                       help="give the generator a map of the pitch's harmonics as an extra "
                       "input (not in Magenta; see docs/gansynth.md)")
    train.add_argument("--harmonic-loss", type=float, default=0.0, metavar="WEIGHT",
                       help="also pull the generated notes' energy and instantaneous "
                       "frequency to the asked-for pitch's harmonics (default 0, as Magenta)")
    train.add_argument("--learning-rate", type=float, default=8e-4,
                       help="Adam's rate for both networks (default 8e-4, as Magenta; lower "
                       "it to fine-tune)")
    train.add_argument("--pitch-sampling", choices=PITCH_SAMPLINGS, default="data",
                       help="pitches of the generated notes: as often as in the data (Magenta) "
                       "or uniform over the data's pitches (for sets with few low notes)")
    train.add_argument("--blocks", type=int, default=None, metavar="N",
                       help="grow the generator to N blocks only and play its image upscaled "
                       "to the full spectrogram (not in Magenta: the top blocks cost the most "
                       "on a CPU); default all")
    train.add_argument("--init-from", default=None, metavar="MODEL",
                       help="fine-tune a trained model (a name such as all_instruments, or a "
                       "folder) on this data: its config, pitches and normaliser, every "
                       "image at its top block; a run folder also gives its discriminator")
    train.add_argument("--save-every", type=int, default=None,
                       help="images between saves and previews (default: 20 per run)")
    add_training_options(train, steps=None, batch_size=8, state_file="train_state.pt",
                         steps_help="generator and discriminator steps in all (default: "
                         "--images)", threads=None)
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
    if args.images is not None and args.steps is not None:
        raise ValueError("give --images or --steps, not both")
    images = args.images if args.steps is None else args.steps * args.batch_size
    if images is not None and images < 1:
        raise ValueError(f"--images and --steps must be positive, got {images}")
    label = args.pitch if args.pitch is not None else args.label
    train(args.data, args.out, model_config=args.config, resume=args.resume,
          harmonic_map=args.harmonic_map, init_from=args.init_from, grown_blocks=args.blocks,
          train_config=TrainConfig(images=images, batch_size=args.batch_size,
                                   minutes=args.max_minutes, save_every=args.save_every,
                                   n_threads=args.threads, seed=args.seed,
                                   device=args.device, smoke_test=args.smoke_test,
                                   force=args.force, logdir=args.logdir,
                                   schedule=args.schedule,
                                   classifier_warmup=args.classifier_warmup,
                                   harmonic_loss_weight=args.harmonic_loss,
                                   learning_rate=args.learning_rate,
                                   pitch_sampling=args.pitch_sampling),
          data=DataOptions(label=label, chop=args.chop, hop_length=args.hop_length,
                           tracker=args.tracker, strict=not args.skip_bad_notes,
                           instrument_sources=(tuple(args.instrument_sources)
                                               if args.instrument_sources else None)))
    return 0


def _register_generate(verbs: Any) -> None:
    gen = verbs.add("generate", "gansynth", _generate,
                    "write notes <out-dir>/<pitch>_<i>.wav from random (seeded) or given latents")
    gen.add_argument("--model", default=DEFAULT_MODEL, help="checkpoint name or path")
    gen.add_argument("--pitches", type=int, nargs="+", required=True, help="MIDI pitches")
    gen.add_argument("--count", type=int, default=1, help="notes per pitch (one latent each)")
    gen.add_argument("--seed", type=int, default=0, help="the same seed gives the same notes")
    gen.add_argument("--z", default=None,
                     help="a .npy of latents [count, latent size] instead of random ones")
    gen.add_argument("--precision", choices=PRECISIONS, default="float32",
                    help="the generator's arithmetic: bfloat16 is about twice as fast on CPUs "
                    "with AVX-512 BF16 or AMX")
    gen.add_argument("--batch-size", type=int, default=8, help="notes per generator call")
    gen.add_argument("--edits", type=float, nargs="+", default=None,
                     help="GANSpace amplitudes (in standard deviations) along the first "
                     "components, added to each latent's layer (or, with --noz, the layer "
                     "itself)")
    gen.add_argument("--noz", action="store_true",
                     help="absolute edits: the layer is the PCA's mean plus the edits, no "
                     "latent (--count 1)")
    gen.add_argument("--pca", default=None,
                     help="GANSpace file (dlwa ganspace gansynth); default: the model's own "
                     "ganspace.npz")
    gen.add_argument("--out-dir", required=True, help="folder for the notes (no file is "
                     "overwritten)")


def _register_eval(verbs: Any) -> None:
    ev = verbs.add("eval", "gansynth", _eval,
                   "pitch accuracy (median f0 within 50 cents) and diversity of a model's notes")
    ev.add_argument("--model", default=DEFAULT_MODEL, help="checkpoint name or path")
    ev.add_argument("--pitches", type=int, nargs="+", default=None,
                    help="pitches to test (default: all the model's)")
    ev.add_argument("--count", type=int, default=4, help="notes (latents) per pitch")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--precision", choices=PRECISIONS, default="float32",
                    help="the generator's arithmetic: bfloat16 is about twice as fast on CPUs "
                    "with AVX-512 BF16 or AMX")
    ev.add_argument("--batch-size", type=int, default=8)
    ev.add_argument("--json", action="store_true", help="print the figures as JSON")


def _generate(args: argparse.Namespace) -> int:
    import numpy as np

    from dlwa.gansynth.generate import random_z, write_notes
    from dlwa.gansynth.model import load_model
    from dlwa.training import progress_bar

    model, checkpoint = load_model(args.model)
    model.precision = args.precision
    if args.z is not None:
        try:
            z = np.load(args.z, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"--z {args.z}: not a readable .npy file ({exc})") from None
    else:
        if args.count < 1:
            raise ValueError(f"--count must be at least 1, got {args.count}")
        z = random_z(args.count, model.config.latent_vector_size,
                     np.random.default_rng(args.seed))
    n_notes = len(args.pitches) * (len(z) if np.ndim(z) == 2 else 1)
    edit = None
    if args.edits is not None or args.noz:
        edit = _edit(model, checkpoint, args)
        if args.noz:
            z = z[:1]
            n_notes = len(args.pitches)
    with progress_bar(total=n_notes, unit="note") as bar:
        paths = write_notes(model, args.out_dir, pitches=args.pitches, z=z,
                            batch_size=args.batch_size, edit=edit,
                            progress=lambda share: bar.update(round(share * n_notes) - bar.n))
    print(f"{len(paths)} notes of {checkpoint.name} -> {args.out_dir}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from dlwa.gansynth.evaluate import CENTS_TOLERANCE, evaluate
    from dlwa.gansynth.model import load_model
    from dlwa.training import progress_bar

    model, checkpoint = load_model(args.model)
    model.precision = args.precision
    pitches = args.pitches or list(model.config.pitches)
    with progress_bar(total=len(pitches), unit="pitch") as bar:
        result = evaluate(model, name=checkpoint.name, pitches=args.pitches,
                          notes_per_pitch=args.count, seed=args.seed,
                          batch_size=args.batch_size,
                          progress=lambda share: bar.update(round(share * len(pitches)) - bar.n))
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(f"{checkpoint.name}: {len(pitches)} pitches ({min(pitches)}–{max(pitches)}), "
          f"{args.count} notes each, seed {args.seed}")
    print(f"pitch accuracy (within {CENTS_TOLERANCE:g} cents): {100 * result.pitch_accuracy:.1f} %")
    if result.diversity_db is not None:
        print(f"diversity (mean log-spectral distance, same pitch): {result.diversity_db:.2f} dB")
    missed = [r.pitch for r in result.per_pitch if r.hits < len(r.cents)]
    if missed:
        print(f"pitches with misses: {' '.join(map(str, missed))}")
    return 0


def _register_import(verbs: Any) -> None:
    imp = verbs.add("import", "gansynth", _import,
                    "convert a Magenta GANSynth model folder (experiment.json + stage_*) to a "
                    "dlwa checkpoint")
    imp.add_argument("model_dir", help="the Magenta model folder (e.g. all_instruments)")
    imp.add_argument("--out", required=True, help="a new or empty folder for the checkpoint "
                     "(never overwritten)")


def _import(args: argparse.Namespace) -> int:
    from dlwa.gansynth.convert import convert_magenta

    print(f"wrote {convert_magenta(args.model_dir, args.out)}")
    return 0


def _edit(model: Any, checkpoint: Any, args: argparse.Namespace) -> Any:
    """``(space, amplitudes, absolute)`` for write_notes from --edits/--noz/--pca."""
    from pathlib import Path

    from dlwa.gansynth.ganspace import PCA_FILE, GANSpace

    path = Path(args.pca) if args.pca else Path(checkpoint.path) / PCA_FILE
    if not path.is_file():
        raise ValueError(f"no GANSpace file at {path}: make one with dlwa ganspace gansynth "
                         "--model ... --out ..., then pass --pca")
    return GANSpace.load(path), list(args.edits or []), args.noz


def _register_ganspace_import(verbs: Any) -> None:
    imp = verbs.add("import", "ganspace", _import_ganspace,
                    "convert a course GANSpace pickle (gansynth_ganspace) to a dlwa .npz, "
                    "without running code from the file")
    imp.add_argument("pickle", help="the course's .pickle (layer, comp, stdev, var_ratio, "
                     "global_mean)")
    imp.add_argument("--out", required=True, help="the .npz to write (must not exist)")
    imp.add_argument("--pitch", type=int, default=32,
                     help="the pitch the PCA was taken at (the course's custom models: 32)")


def _import_ganspace(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dlwa.gansynth.ganspace import import_course_pickle

    out = Path(args.out)
    out = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")
    if out.exists():
        raise ValueError(f"{out} exists: choose a new file (nothing was overwritten)")
    space = import_course_pickle(args.pickle, pitch=args.pitch)
    space.save(out)
    print(f"{space.layer}: {space.n_components} components of "
          f"{'x'.join(map(str, space.global_mean.shape))} -> {out}")
    return 0


def _register_ganspace(verbs: Any) -> None:
    gs = verbs.add("ganspace", "gansynth", _ganspace,
                   "record a generator layer over random latents and fit an incremental PCA "
                   "(GANSpaceSynth's components)")
    gs.add_argument("--model", default=DEFAULT_MODEL, help="checkpoint name or path")
    gs.add_argument("--layer", default="conv0",
                    help="layer: conv0 and conv1 (block 1's, the course's), block<b>.conv<i>")
    gs.add_argument("--list-layers", action="store_true", help="print the layers and stop")
    gs.add_argument("--samples", type=int, default=8192, help="random latents recorded")
    gs.add_argument("--components", type=int, default=64, help="components kept")
    gs.add_argument("--pitch", type=int, default=None,
                    help="pitch the latents play (default: the model's middle pitch)")
    gs.add_argument("--seed", type=int, default=0)
    gs.add_argument("--batch-size", type=int, default=512, help="latents per PCA update")
    gs.add_argument("--out", default=None, help="the .npz to write (must not exist)")


def _ganspace(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dlwa.gansynth.ganspace import fit, layer_names, layer_shape
    from dlwa.gansynth.model import load_model
    from dlwa.training import progress_bar

    model, checkpoint = load_model(args.model)
    if args.list_layers:
        for name in layer_names(model.config):
            print(name, "x".join(map(str, layer_shape(model.config, name))))
        return 0
    if args.out is None:
        raise ValueError("--out is required (the .npz file to write)")
    out = Path(args.out)
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")
    if out.exists():
        raise ValueError(f"{out} exists: choose a new file (nothing was overwritten)")
    with progress_bar(total=100, unit="%") as bar:
        space = fit(model, layer=args.layer, samples=args.samples,
                    n_components=args.components, pitch=args.pitch, seed=args.seed,
                    batch_size=args.batch_size,
                    progress=lambda share: bar.update(round(100 * share) - bar.n))
    space.save(out)
    first = ", ".join(f"{100 * r:.1f}" for r in space.var_ratio[:5])
    print(f"{checkpoint.name} {space.layer}: {space.n_components} components of "
          f"{space.samples} latents at pitch {space.pitch}; variance explained by the first "
          f"five: {first} % ({100 * space.var_ratio.sum():.1f} % by all) -> {out}")
    return 0
