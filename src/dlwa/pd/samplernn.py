"""``[pyext. dlwa.pd samplernn]``: SampleRNN audio grown sample by sample into Pd arrays.

Keeps the course's messages and replies (``05_samplernn/samplernn_pd.py``), with its bugs
fixed (seeds work; ``out_sr`` resamples instead of only changing the sample count; any
duration, not whole seconds; no separate Python environment):

- ``load [--num_seqs N] [--ckpt_dir] <model>``: a SampleRNN checkpoint by name (``guitar``
  finds ``checkpoints/samplernn_guitar``) or path (relative to the patch). ``--num_seqs``
  is how many sequences one ``generate`` makes at most (default 1). The course's
  ``--python P --`` prefix is accepted and ignored (dlwa runs in Pd's own Python).
  Replies ``loaded <name> <sample_rate>``.
- ``generate --out <array> [--temp T] [--out <array> --temp T …] [--dur s] [--out_sr r]
  [--seed <array>] [--seed_sr r]``: one sequence per ``--out``, all generated together.
  Each ``--temp`` is a number or a SuperCollider envelope ``Env([0.7,1.05],[4],[-2])``
  (commas escaped in a message box); the last one is repeated for outputs that have none,
  and more temperatures than outputs is an error. ``--dur`` seconds (default 4),
  ``--out_sr`` the arrays' rate (default: the model's, 16000), ``--seed`` an array whose
  sound every sequence continues (read at ``--seed_sr``, default Pd's rate). Replies
  ``progress …`` while it works, then ``generated <array> <sr> <n>`` for each array.
- ``seed <n|random>``: the same seed, then the same messages, give the same audio
  (``done seed <n>``); ``random``, the default, draws anew each time.
- ``stop`` ends a generation within one frame; ``unload``, ``status``, ``help`` as every
  dlwa object.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import numpy as np

from dlwa.pd._host import pyext
from dlwa.pd.base import PdObject, Stopped, message, name_arg, number

MAX_SEQUENCES = 64
MAX_SECONDS = 600.0
MIN_RATE, MAX_RATE = 1000.0, 384000.0
DEFAULT_SECONDS = 4.0


class samplernn(PdObject):  # Pd object names are lower case
    """Generate SampleRNN audio into Pd arrays."""

    object_name = "samplernn"
    checkpoint_kind = "samplernn"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.num_seqs = 1
        self.rng = np.random.default_rng()

    @message("load [--num_seqs N] [--ckpt_dir] <model>")
    def load_1(self, *args: Any) -> Generator[None, None, None]:
        """Load a checkpoint; replies ``loaded <name> <sample_rate>``."""
        options = _options(args, {"--num_seqs": 1, "--ckpt_dir": 1, "--python": 1,
                                  "--config": 1}, positional="model")
        if "--config" in options:
            raise ValueError("--config: a dlwa checkpoint holds its configuration; import a "
                             "PRiSM run with 'dlwa import samplernn' first")
        names = options.get("model", []) + options.get("--ckpt_dir", [])
        if len(names) != 1:
            raise ValueError("load needs one model: a name such as guitar, or a path")
        num_seqs = round(number(options.get("--num_seqs", [self.num_seqs])[-1], "--num_seqs",
                                low=1, high=MAX_SEQUENCES))
        name = name_arg(names[0], "model")
        yield
        self.state = "loading"
        from dlwa.samplernn.model import load_model

        model, checkpoint = load_model(name, base_dir=self._canvas_dir)
        self.model, self.model_name, self.num_seqs = model, checkpoint.name, num_seqs
        self.reply("loaded", checkpoint.name, model.config.sample_rate)

    @message("generate --out <array> [--temp T|Env(...)] ... [--dur s] [--out_sr r] "
             "[--seed array] [--seed_sr r]")
    def generate_1(self, *args: Any) -> Generator[None, None, None]:
        """Generate one sequence per ``--out`` array; replies ``generated <array> <sr> <n>``."""
        options = _options(args, {"--out": 1, "--temp": 1, "--dur": 1, "--out_sr": 1,
                                  "--seed": 1, "--seed_sr": 1})
        outs = [name_arg(o, "--out array") for o in options.get("--out", [])]
        if not outs:
            raise ValueError("generate needs at least one --out <array>")
        model = self.require_model()
        if len(outs) > self.num_seqs:
            raise ValueError(f"{len(outs)} outputs but the model was loaded with --num_seqs "
                             f"{self.num_seqs}: load it with --num_seqs {len(outs)}")
        from dlwa.samplernn.envelope import parse_temperature, temperature_track

        temps = [parse_temperature(t) for t in options.get("--temp", [1.0])]
        if len(temps) > len(outs):
            raise ValueError(f"{len(temps)} temperatures for {len(outs)} outputs: give one "
                             "--temp per --out at most (the last is repeated)")
        temps += [temps[-1]] * (len(outs) - len(temps))
        seconds = number(_last(options, "--dur", DEFAULT_SECONDS), "--dur", low=1e-3,
                         high=MAX_SECONDS)
        rate = model.config.sample_rate
        out_rate = number(_last(options, "--out_sr", rate), "--out_sr", low=MIN_RATE,
                          high=MAX_RATE)
        for out in outs:
            self.buffer(out)  # a missing array fails now, not after the work
        seed = None
        if "--seed" in options:
            seed_rate = number(_last(options, "--seed_sr", pyext._samplerate()), "--seed_sr",
                               low=MIN_RATE, high=MAX_RATE)
            seed, _ = self.read_array(options["--seed"][-1], seed_rate)
            if seed.size == 0:
                raise ValueError(f"seed array '{options['--seed'][-1]}' is empty")
            from dlwa.audio.resample import resample

            seed = resample(seed, orig_sample_rate=round(seed_rate), sample_rate=rate)
        yield
        self.state = "generating"
        self.progress(0.0)
        from dlwa.samplernn.generate import GenerationStopped, Generator, duration_samples

        n = duration_samples(seconds, rate)
        track = np.stack([temperature_track(t, n, rate) for t in temps])
        generator = Generator(model, batch_size=len(outs))
        try:
            audio = generator.generate(n, temperature=track, seed=seed, rng=self.rng,
                                       progress=lambda done, total: self.progress(done / total),
                                       interrupt=self.should_stop)
        except GenerationStopped:
            raise Stopped from None
        if round(out_rate) != rate:
            from dlwa.audio.resample import resample

            audio = np.clip(resample(audio, orig_sample_rate=rate,
                                     sample_rate=round(out_rate)), -1.0, 1.0)
        for out, row in zip(outs, audio, strict=True):
            written = self.write_array(out, row)
            self.reply("generated", out, round(out_rate), written)

    @message("seed <n|random>")
    def seed_1(self, value: Any) -> None:
        """The same seed, then the same messages, give the same audio; ``random`` (the
        default) a new draw each time. Replies ``done seed <value>``."""
        if value == "random":
            self.rng = np.random.default_rng()
        else:
            self.rng = np.random.default_rng(round(number(value, "seed", low=0, high=2**31)))
        self.done("seed", value)

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        yield ("num_seqs", self.num_seqs)


def _last(options: dict[str, list[Any]], key: str, default: Any) -> Any:
    return options[key][-1] if key in options else default


def _options(args: Iterable[Any], flags: dict[str, int], positional: str | None = None
             ) -> dict[str, list[Any]]:
    """``--flag value …`` atoms → ``{flag: [values…]}``. An ``Env(...)`` split over several
    atoms (spaces inside it) is joined back; ``--`` (the course's worker separator) is
    skipped; other words go to ``positional``.

    Raises:
        ValueError: an unknown flag, a flag without its value, or a stray word.
    """
    atoms = [a if isinstance(a, int | float) else str(a) for a in args]
    found: dict[str, list[Any]] = {}
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        if atom == "--":
            i += 1
            continue
        if isinstance(atom, str) and atom.startswith("--"):
            if atom not in flags:
                raise ValueError(f"unknown option '{atom}' (options: {', '.join(flags)})")
            if i + 1 >= len(atoms) or (isinstance(atoms[i + 1], str)
                                       and atoms[i + 1].startswith("--")):
                raise ValueError(f"{atom} needs a value")
            value, i = _value(atoms, i + 1)
            found.setdefault(atom, []).append(value)
            continue
        if positional is None:
            raise ValueError(f"'{atom}' is not an option: write --flag value pairs")
        found.setdefault(positional, []).append(atom)
        i += 1
    return found


def _value(atoms: list[Any], i: int) -> tuple[Any, int]:
    """The value at ``i`` (an ``Env(`` joined up to its closing parenthesis), next index."""
    first = atoms[i]
    if not (isinstance(first, str) and first.startswith("Env")):
        return first, i + 1
    parts = [first]
    while "".join(map(str, parts)).count("(") > "".join(map(str, parts)).count(")") \
            and i + len(parts) < len(atoms):
        parts.append(atoms[i + len(parts)])
    text = "".join(str(p) for p in parts).replace("\\", "")
    return text, i + len(parts)
