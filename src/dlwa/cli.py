"""The ``dlwa`` command line: a thin shell over the library.

Verbs that work on a model (``train``, ``generate``, ``transfer``, ``import``, ``eval``)
take the model as their first argument, e.g. ``dlwa train melody_rnn data/``. Each model
package adds its own sub-commands through a ``cli.register(verbs)`` function, listed in
``MODEL_CLI_MODULES``; those modules import nothing heavy at import time, so ``dlwa --help``
stays fast. Project-wide commands (``bench``, ``render``, ``demo``, ``open``,
``checkpoints``) live here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

MODEL_VERBS: dict[str, str] = {
    "train": "train a model on your own data",
    "generate": "generate audio or MIDI with a model",
    "transfer": "transform audio with a model (e.g. timbre transfer)",
    "import": "convert an upstream checkpoint into dlwa's format",
    "eval": "evaluate a model on a folder of data",
    "ganspace": "principal directions of a GAN layer's activations (GANSpace)",
    "stream": "run audio through a live model chunk by chunk, as its Pd object does",
    "info": "describe a model file: its methods, channels, ratios and attributes",
    "export": "export a training run to the file its players load (RAVE: nn~ TorchScript)",
}

# Model packages that add sub-commands; each module defines register(verbs: ModelVerbs).
MODEL_CLI_MODULES: tuple[str, ...] = ("dlwa.melody_rnn.cli", "dlwa.ddsp.cli",
                                     "dlwa.gansynth.cli", "dlwa.samplernn.cli", "dlwa.rave.cli")

Handler = Callable[[argparse.Namespace], int | None]


class ModelVerbs:
    """What a model package sees when it registers its sub-commands."""

    def __init__(self, verb_parsers: dict[str, argparse._SubParsersAction]) -> None:
        self._verb_parsers = verb_parsers

    def add(self, verb: str, model: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        """Add ``dlwa <verb> <model>``; returns its parser for the model's own arguments.

        Raises:
            ValueError: ``verb`` is not one of MODEL_VERBS.
        """
        if verb not in self._verb_parsers:
            raise ValueError(f"unknown verb {verb!r}; use one of {sorted(self._verb_parsers)}")
        parser = self._verb_parsers[verb].add_parser(
            model, help=help, description=help,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        parser.set_defaults(handler=handler, model_name=model)
        return parser


def _cmd_bench(args: argparse.Namespace) -> int:
    from dlwa.bench import run_benchmarks

    run_benchmarks(args.groups or None)
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from dlwa.demo import render_patch

    rendered = render_patch(Path(args.patch), out=Path(args.out), seconds=args.seconds,
                            send=args.send, timeout_s=args.timeout)
    print(f"wrote {rendered.wav}")
    if rendered.errors:
        print(f"dlwa render: error: {args.patch} reported {len(rendered.errors)} error(s) on "
              "Pd's console:", file=sys.stderr)
        for line in rendered.errors:
            print(f"  {line}", file=sys.stderr)
        return 1
    if rendered.silent:
        print(f"dlwa render: warning: the recording is silent (peak {rendered.peak:.1e}): "
              "did the patch start playing? A shipped model patch needs --send "
              "'<patch name>-demo bang' (see dlwa render --help)",
              file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from dlwa.demo import run_demo

    run_demo(Path(args.out))
    return 0


def _cmd_open(args: argparse.Namespace) -> int:
    from dlwa.demo import open_in_pd

    return open_in_pd(Path(args.patch) if args.patch else None)


def _cmd_checkpoints(args: argparse.Namespace) -> int:
    from dlwa.checkpoints import checkpoint_dirs, describe_checkpoints

    rows = describe_checkpoints(kind=args.kind)
    folders = ", ".join(str(folder) for folder in checkpoint_dirs())
    if not rows:
        print(f"no checkpoints in {folders}")
        return 0
    table = [("name", "kind", "rate", "size", "trained on", "path")]
    for row in rows:
        rate = f"{row['sample_rate'] / 1000:g} kHz" if row["sample_rate"] else "-"
        table.append((row["name"], row["kind"], rate, _size(row["size_bytes"]),
                      row["trained_on"] or "-", row["path"]))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[-1])
    print(f"searched: {folders} (add folders with DLWA_CHECKPOINTS=dir1{os.pathsep}dir2)")
    return 0


def _size(n_bytes: float) -> str:
    for unit in ("B", "kB", "MB"):
        if n_bytes < 1000:
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} GB"


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, model sub-commands included."""
    parser = argparse.ArgumentParser(
        prog="dlwa", description="Deep-learning audio models as Pure Data objects.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    from dlwa import __version__

    parser.add_argument("--version", action="version", version=f"dlwa {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.required = True

    verb_parsers = {}
    for verb, text in MODEL_VERBS.items():
        verb_parser = commands.add_parser(verb, help=text, description=text)
        models = verb_parser.add_subparsers(dest="model", metavar="model")
        models.required = True
        verb_parsers[verb] = models
    registry = ModelVerbs(verb_parsers)
    for module in MODEL_CLI_MODULES:
        importlib.import_module(module).register(registry)

    bench = commands.add_parser("bench", help="run the benchmarks and print one table")
    bench.add_argument("groups", nargs="*", help="benchmark groups to run (default: all)")
    bench.set_defaults(handler=_cmd_bench)

    render = commands.add_parser(
        "render", help="play a patch headless in Pd batch mode and record it to a wav file",
        description="Open a patch in Pd batch mode, record what its [dlwa-recorder~] hears and "
        "write it to a wav file. bridge_demo.pd plays by itself; the model patches play their "
        "demo when sent it: --send 'timbre_transfer-demo bang' for timbre_transfer.pd, "
        "--send 'ai_duet-demo bang' for ai_duet.pd, --send 'gansynth-demo bang' for "
        "gansynth.pd (dlwa demo does this). Exits 1 when Pd's "
        "console reported an error (printed), and warns when the recording is silent.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    render.add_argument("patch", help="the .pd file; it must contain a [dlwa-recorder~]")
    render.add_argument("--out", default="out/render.wav", help="wav file to write")
    render.add_argument("--seconds", type=float, default=5.0, help="logical seconds to record")
    render.add_argument("--send", action="append", default=[], metavar="MSG",
                        help="message sent at start-up, before the recording starts, e.g. "
                        "'pd dsp 1' (repeatable)")
    render.add_argument("--timeout", type=float, default=300.0, help="wall-clock limit, s")
    render.set_defaults(handler=_cmd_render)

    demo = commands.add_parser("demo", help="render every shipped demo patch to wav files")
    demo.add_argument("--out", default="out/demo", help="folder for the wav files")
    demo.set_defaults(handler=_cmd_demo)

    open_ = commands.add_parser(
        "open", help="open a patch in Pd's GUI with dlwa ready to use",
        description="Start Pd with its GUI, the py library loaded and pd_patches/ on the path. "
        "Needs a display (DISPLAY or WAYLAND_DISPLAY); without one it fails at once.",
    )
    open_.add_argument("patch", nargs="?", help="a .pd file (default: the patch folder)")
    open_.set_defaults(handler=_cmd_open)

    ckpt = commands.add_parser(
        "checkpoints", help="list the models found (kind, sample rate, size, data, path)",
        description="List the checkpoints found in $DLWA_CHECKPOINTS (folders separated by "
        f"'{os.pathsep}', searched first) and the project's checkpoints/.",
    )
    ckpt.add_argument("--kind", help="only checkpoints of this kind, e.g. ddsp")
    ckpt.set_defaults(handler=_cmd_checkpoints)

    from dlwa.samplernn.cli import register_data

    register_data(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``dlwa`` and ``python -m dlwa``; returns the exit status.

    Errors the user can fix (bad files, bad values) print one line, not a traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train" and getattr(args, "slurm", False):
            from dlwa.training.slurm import write_job

            write_job(args, argv, state_file=args.state_file)
            return 0
        if args.command == "train":  # a kill saves as Ctrl-C does
            from dlwa.training import interrupted_by_sigterm

            with interrupted_by_sigterm():
                return int(args.handler(args) or 0)
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"dlwa {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dlwa {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
