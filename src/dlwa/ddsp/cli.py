"""``dlwa train|transfer|stream|eval|import ddsp``: thin shells over the library (no heavy imports here)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from dlwa.training.options import add_training_options

if TYPE_CHECKING:
    from dlwa.ddsp.transfer import TransferParams

PITCH_TRACKER_NAMES = ("yin", "crepe-tiny", "crepe-full")


def register(verbs: object) -> None:
    """Add the ddsp sub-commands to ``dlwa`` (see :class:`dlwa.cli.ModelVerbs`)."""
    train = verbs.add("train", "ddsp", _train, "train a DDSP solo-instrument model on a folder "
                      "of audio (10-20 min of one monophonic instrument)")
    train.add_argument("data", help="folder of audio files")
    train.add_argument("--out", required=True,
                       help="a new or empty folder for the checkpoint (never overwritten)")
    train.add_argument("--learning-rate", type=float, default=2e-3)
    train.add_argument("--save-every", type=int, default=200, help="steps between saves")
    train.add_argument("--tracker", choices=PITCH_TRACKER_NAMES, default="yin")
    train.add_argument("--size", choices=("small", "full"), default=None,
                       help="small: GRU 256 (CPU, the default); full: DDSP's "
                       "solo_instrument.gin sizes; a resumed run keeps its own")
    train.add_argument("--precision", choices=("float32", "float64"), default="float32",
                       help="float64 is several times slower: for checking numerics, e.g. "
                       "that N processes train as one beyond float32 rounding")
    add_training_options(train, steps=3000, batch_size=8, state_file="train_state.pt")
    train.add_argument("--smoke-test", action="store_true", help="one step, to check the data")

    transfer = verbs.add("transfer", "ddsp", _transfer, "timbre transfer of a sound file")
    transfer.add_argument("input", help="input sound file (any rate, mono or stereo)")
    transfer.add_argument("output", help="output wav file")
    transfer.add_argument("--model", required=True, help="checkpoint name (violin) or path")
    _add_transfer_options(transfer)

    stream = verbs.add("stream", "ddsp", _stream,
                       "live timbre transfer of a sound file, chunk by chunk, as [ddsp~] "
                       "plays it (the output keeps the stream's delay)")
    stream.add_argument("input", help="input sound file (any rate, mono or stereo)")
    stream.add_argument("output", help="output wav file (32-bit float, the input's length)")
    stream.add_argument("--model", required=True, help="checkpoint name (violin) or path")
    stream.add_argument("--chunk", type=int, default=None,
                        help="samples per chunk at the stream's rate (default 384)")
    stream.add_argument("--sample-rate", type=int, default=None,
                        help="the host's rate (default: the input file's)")
    _add_control_options(stream)

    evaluate = verbs.add("eval", "ddsp", _eval, "resynthesis spectral loss and pitch accuracy")
    evaluate.add_argument("data", help="folder of audio files")
    evaluate.add_argument("--model", required=True, help="checkpoint name or path")
    evaluate.add_argument("--tracker", choices=PITCH_TRACKER_NAMES, default=None)
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.add_argument("--int8", action="store_true", help="int8 decoder")

    importer = verbs.add("import", "ddsp", _import, "convert a DDSP TF2 solo-instrument "
                         "checkpoint (with operative_config-0.gin, dataset_statistics.pkl)")
    importer.add_argument("checkpoint", help="the DDSP training folder (or a ckpt-N prefix)")
    importer.add_argument("--out", required=True, help="dlwa checkpoint folder to write")


def _add_control_options(parser: argparse.ArgumentParser) -> None:
    """The transfer controls, the same for ``transfer`` and ``stream``."""
    parser.add_argument("--f0-octave-shift", type=float, default=0.0)
    parser.add_argument("--f0-confidence-threshold", type=float, default=0.0)
    parser.add_argument("--loudness-db-shift", type=float, default=0.0)
    parser.add_argument("--no-adjust", action="store_true", help="turn auto adjust off")
    parser.add_argument("--quiet", type=float, default=20.0, help="dB between notes (adjust)")
    parser.add_argument("--autotune", type=float, default=0.0, help="0..1 (adjust)")


def _params(args: argparse.Namespace) -> TransferParams:
    """TransferParams from the control options (and ``--tracker`` where there is one)."""
    from dlwa.ddsp.transfer import TransferParams

    return TransferParams(
        f0_octave_shift=args.f0_octave_shift, f0_confidence_threshold=args.f0_confidence_threshold,
        loudness_db_shift=args.loudness_db_shift, adjust=not args.no_adjust, quiet=args.quiet,
        autotune=args.autotune, tracker=getattr(args, "tracker", None))


def _add_transfer_options(parser: argparse.ArgumentParser) -> None:
    _add_control_options(parser)
    parser.add_argument("--tracker", choices=PITCH_TRACKER_NAMES, default=None)
    parser.add_argument("--sample-rate", type=int, default=None,
                        help="output rate (default: the model's)")
    parser.add_argument("--peak", type=float, default=0.9, help="output peak; 0 keeps the level")
    parser.add_argument("--int8", action="store_true",
                        help="int8 decoder (about 3x faster decoder, near-identical sound)")
    parser.add_argument("--block-seconds", type=float, default=10.0,
                        help="audio processed at once: memory, not the result")


def _train(args: argparse.Namespace) -> int:
    from dlwa.ddsp.model import DDSPConfig
    from dlwa.ddsp.train import TrainConfig, train

    model_config = {None: None, "small": DDSPConfig.small(), "full": DDSPConfig()}[args.size]
    train(args.data, args.out, model_config=model_config, resume=args.resume,
          train_config=TrainConfig(
              n_steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
              tracker=args.tracker, max_minutes=args.max_minutes, n_threads=args.threads,
              smoke_test=args.smoke_test, save_every=args.save_every, seed=args.seed,
              device=args.device, force=args.force, logdir=args.logdir,
              dtype=args.precision))
    return 0


def _transfer(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from dlwa.ddsp.model import load_model
    from dlwa.ddsp.transfer import transfer_file

    model = load_model(args.model, quantize=args.int8)
    params = _params(args)
    bar = tqdm(total=100, desc="transfer", unit="%", file=sys.stderr,
               bar_format="{desc} {bar} {n:.0f} % [{elapsed}<{remaining}]")

    def progress(fraction: float) -> None:
        bar.update(100 * fraction - bar.n)

    n_samples, rate = transfer_file(args.input, args.output, model=model, params=params,
                                    out_sample_rate=args.sample_rate, peak=args.peak or None,
                                    progress=progress, block_duration_s=args.block_seconds)
    bar.close()
    print(f"wrote {args.output} ({n_samples / rate:.2f} s at {rate} Hz, model {model.name})")
    return 0


def _stream(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from dlwa.audio.io import audio_info
    from dlwa.ddsp.model import load_model
    from dlwa.ddsp.stream import DEFAULT_CHUNK, stream_file

    model = load_model(args.model)
    params = _params(args).checked()
    audio_info(args.input)  # a missing or unreadable input: one line, before the bar
    bars: list[tqdm] = []  # made at the first progress: a bad argument prints one line

    def progress(fraction: float) -> None:
        if not bars:
            bars.append(tqdm(total=100, desc="stream", unit="%", file=sys.stderr,
                             bar_format="{desc} {bar} {n:.0f} % [{elapsed}<{remaining}]"))
        bars[0].update(100 * fraction - bars[0].n)

    stream = stream_file(args.input, args.output, model=model,
                         chunk=DEFAULT_CHUNK if args.chunk is None else args.chunk,
                         params=params, sample_rate=args.sample_rate, progress=progress)
    for bar in bars:
        bar.close()
    rate, chunk = stream.sample_rate, stream.chunk
    in_pd = stream.host_latency(realtime=True)
    print(f"latency {stream.latency} samples = {stream.latency_ms:.2f} ms at {rate} Hz "
          f"(in Pd with pyext~'s ring of 2 x {chunk}: {in_pd} samples = "
          f"{1000 * in_pd / rate:.2f} ms)")
    print(f"wrote {args.output} (model {model.name}, chunk {chunk}; the first "
          f"{stream.latency} samples are the stream's delay)")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from dlwa.audio.io import load_audio
    from dlwa.data import scan_audio_folder
    from dlwa.ddsp.model import load_model
    from dlwa.ddsp.transfer import evaluate

    model = load_model(args.model, quantize=args.int8)
    scan = scan_audio_folder(args.data)
    files = []
    for info in scan.files:
        audio, rate = load_audio(info.path)
        files.append((str(Path(info.path).relative_to(scan.folder)), audio, rate))
    result = evaluate(model, files, tracker=args.tracker)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        accuracy = result["pitch_accuracy"]
        print(f"model {result['model']}: {result['n_files']} files, spectral loss "
              f"{result['spectral_loss']:.3f}, pitch accuracy "
              f"{'n/a' if accuracy is None else f'{100 * accuracy:.1f} %'} (within 50 cents)")
    return 0


def _import(args: argparse.Namespace) -> int:
    from dlwa.ddsp.convert import import_checkpoint

    path = import_checkpoint(args.checkpoint, args.out)
    print(f"wrote {path}")
    return 0
