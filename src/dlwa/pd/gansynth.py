"""``[pyext. dlwa.pd gansynth]``: GANSynth notes from latent vectors kept in Pd arrays.

Keeps the course's messages and replies (``sopimagenta/gansynth/pyext.py``), with its bugs
fixed (``hallucinated`` counts samples, an untrained pitch is an error, not silence):

- ``load <model> [batch]``: a GANSynth checkpoint by name (``all_instruments`` finds
  ``checkpoints/gansynth_all_instruments``) or path (relative to the patch); ``batch`` notes
  per generator call (default 8). Replies ``loaded <audio_length> <sample_rate>``: the
  length and rate of the notes as they land in arrays (Pd's rate unless
  ``out_sample_rate`` says otherwise), so ``length / rate`` is the note's duration.
- ``randomize_z <array…>``: fill each array with a fresh latent (resized to the model's
  latent size, e.g. 256); ``randomized``.
- ``slerp_z <z0> <z1> <dst> <t>``: spherical interpolation, ``t`` in 0…1; ``slerped``.
- ``synthesize <z> <out> <pitch> [<z> <out> <pitch>…]``: one note per group, all in
  batches; each ``out`` array is resized to the note; ``synthesized``.
- ``hallucinate <out> <note_count> <steps> [spacing start_trim attack sustain release
  pitch]``: ``note_count`` random latents with ``steps`` interpolated ones between each
  pair, each note cut to ``start_trim`` + ``attack`` + ``sustain`` + ``release`` seconds and
  laid out ``spacing`` seconds apart (defaults 0.2 0 0.5 0.5 0.5; ``pitch``: the model's
  middle pitch); replies ``hallucinated <n_samples>`` (the array's new length).
- Settings: ``batch <n>``, ``seed <n|random>`` (the same seed, then the same messages,
  give the same latents),
  ``out_sample_rate <Hz, 0 for Pd's>`` (with a model loaded it also replies ``note
  <audio_length> <sample_rate>``, the new note format), ``precision <float32|bfloat16>``;
  ``pitches`` replies ``pitches <p…>``.
- GANSpace (``dlwa ganspace gansynth`` makes the file): ``load_ganspace_components <file>
  [amplitudes array]`` (``loaded_pca <n>``; ``synthesize`` then adds the array's amplitudes
  to the latents' layer) and ``synthesize_noz <out> <pitch> [edits… | array] [-- …]``
  (no latent: the layer is the PCA's mean plus the edits; ``synthesized``).
- ``unload``, ``status``, ``help``, ``stop`` as every dlwa object.

The latents are N(0, I) draws, not unit vectors (see :mod:`dlwa.gansynth.generate`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

import numpy as np

from dlwa.pd._host import pyext
from dlwa.pd.base import PdObject, message, name_arg, number

DEFAULT_BATCH = 8
MAX_BATCH = 256
MIN_RATE, MAX_RATE = 1000.0, 384000.0
HALLUCINATE_DEFAULTS = (0.2, 0.0, 0.5, 0.5, 0.5)  # spacing start_trim attack sustain release
PRECISIONS = ("float32", "bfloat16")  # dlwa.gansynth.model.PRECISIONS, without torch
HALLUCINATE_NAMES = ("spacing", "start_trim", "attack", "sustain", "release", "pitch")


class gansynth(PdObject):  # Pd object names are lower case
    """Generate GANSynth notes into Pd arrays from latents kept in Pd arrays."""

    object_name = "gansynth"
    checkpoint_kind = "gansynth"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.batch = DEFAULT_BATCH
        self.seed: int | None = None
        self.rng = np.random.default_rng()
        self.out_sample_rate = 0.0
        self.precision = "float32"
        self.space: Any = None  # a dlwa.gansynth.ganspace.GANSpace once loaded
        self.amplitudes: str | None = None  # the array synthesize reads amplitudes from

    # ----- messages

    @message("load <model> [batch]")
    def load_1(self, name: Any, batch: Any = None) -> Generator[None, None, None]:
        """Load a checkpoint; replies ``loaded <audio_length> <sample_rate>``."""
        text = name_arg(name, "model")
        if batch is not None:
            self.batch = self._batch(batch)
        yield
        from dlwa.gansynth.model import load_model

        self.state = "loading"
        self.model, checkpoint = load_model(text, base_dir=self._canvas_dir)
        self.space = self.amplitudes = None  # a PCA belongs to the model it was taken of
        self.model.precision = self.precision
        self.model_name = checkpoint.name
        self.reply("loaded", *self._note_format())

    @message("randomize_z <array…>")
    def randomize_z_1(self, *arrays: Any) -> Generator[None, None, None]:
        """Fill each array with a latent drawn from N(0, I); replies ``randomized``."""
        names = self._arrays(arrays, "randomize_z needs at least one array")
        rng = self._rng()
        yield
        from dlwa.gansynth.generate import random_z

        model = self.require_model()
        for name, z in zip(names, random_z(len(names), model.config.latent_vector_size, rng)):
            self.write_array(name, z)
        self.reply("randomized")

    @message("slerp_z <z0> <z1> <dst> <t>")
    def slerp_z_1(self, z0: Any, z1: Any, dst: Any, t: Any) -> Generator[None, None, None]:
        """Write the spherical interpolation of two latents into ``dst``; ``slerped``."""
        amount = number(t, "t", low=0.0, high=1.0)
        names = self._arrays((z0, z1, dst), "")
        yield
        from dlwa.gansynth.generate import check_z, slerp_z

        model = self.require_model()
        a, b = (check_z(model, self.read_array(n)[0], f"array '{n}'")[0] for n in names[:2])
        self.write_array(names[2], slerp_z(a, b, amount))
        self.reply("slerped")

    @message("synthesize <z> <out> <pitch> [<z> <out> <pitch>…]")
    def synthesize_1(self, *groups: Any) -> Generator[None, None, None]:
        """One note per ``z out pitch`` group, batched; replies ``synthesized``."""
        if not groups or len(groups) % 3:
            raise ValueError(f"synthesize takes groups of three (z array - out array - "
                             f"pitch): got {len(groups)} argument(s)")
        triples = [groups[i:i + 3] for i in range(0, len(groups), 3)]
        z_names = self._arrays([g[0] for g in triples], "")
        out_names = self._arrays([g[1] for g in triples], "")
        pitches = [number(g[2], "pitch", low=0, high=127) for g in triples]
        yield
        from dlwa.gansynth.generate import check_pitches, check_z, synthesize

        model = self.require_model()
        check_pitches(model, pitches)
        z = np.concatenate([check_z(model, self.read_array(n)[0], f"array '{n}'")
                            for n in z_names])
        self.state = "synthesizing"
        self.progress(0.0)
        if self.space is not None and self.amplitudes is not None:
            from dlwa.gansynth.ganspace import synthesize_edited

            amplitudes = self.read_array(self.amplitudes)[0][:self.space.n_components]
            notes = synthesize_edited(model, self.space, [int(p) for p in pitches],
                                      amplitudes[None], z=z, batch_size=self.batch,
                                      progress=self.progress)
        else:
            notes = synthesize(model, z, [int(p) for p in pitches], batch_size=self.batch,
                               progress=self.progress)
        for name, note in zip(out_names, notes):
            self.write_array(name, self._to_array_rate(note))
        self.reply("synthesized")

    @message("hallucinate <out> <note_count> <steps> [spacing start_trim attack sustain "
             "release pitch]")
    def hallucinate_1(self, out: Any, note_count: Any, steps: Any, *shape: Any
                      ) -> Generator[None, None, None]:
        """A hallucination into ``out``; replies ``hallucinated <n_samples>``."""
        if len(shape) > len(HALLUCINATE_NAMES):
            raise ValueError(f"hallucinate takes at most {len(HALLUCINATE_NAMES)} settings "
                             f"after the counts ({' '.join(HALLUCINATE_NAMES)}): got {len(shape)}")
        out_name = self._arrays([out], "")[0]
        count = int(number(note_count, "note_count", low=1, high=1000))
        n_steps = int(number(steps, "steps", low=0, high=1000))
        values = [number(v, n, low=0) for v, n in zip(shape, HALLUCINATE_NAMES)]
        spacing, trim, attack, sustain, release = (values + list(HALLUCINATE_DEFAULTS)[
            len(values):])[:5]
        pitch = int(values[5]) if len(values) > 5 else None
        rng = self._rng()
        yield
        from dlwa.gansynth.generate import NoteShape, hallucinate

        model = self.require_model()
        pitches = sorted(model.config.pitches)
        self.state = "hallucinating"
        self.progress(0.0)
        audio = hallucinate(model, note_count=count, steps=n_steps, spacing=spacing,
                            shape=NoteShape(trim, attack, sustain, release),
                            pitch=pitches[len(pitches) // 2] if pitch is None else pitch,
                            rng=rng, batch_size=self.batch, progress=self.progress)
        self.reply("hallucinated", self.write_array(out_name, self._to_array_rate(audio)))

    @message("load_ganspace_components <file> [amplitudes array]")
    def load_ganspace_components_1(self, path: Any, amplitudes: Any = None
                                   ) -> Generator[None, None, None]:
        """Load a GANSpace file (``dlwa ganspace gansynth``; relative to the patch); the
        amplitudes array is resized to the component count and zeroed, and ``synthesize``
        then adds its amplitudes to the latents' layer. Replies ``loaded_pca <n_components>``."""
        text = name_arg(path, "file")
        array = None if amplitudes is None else self._arrays([amplitudes], "")[0]
        yield
        from pathlib import Path

        from dlwa.gansynth.ganspace import GANSpace

        model = self.require_model()
        file = Path(text).expanduser()
        if not file.is_absolute():
            file = Path(self._canvas_dir) / file
        space = GANSpace.load(file)
        space.check_model(model)
        if array is not None:
            self.write_array(array, np.zeros(space.n_components, np.float32))
        self.space, self.amplitudes = space, array
        self.reply("loaded_pca", space.n_components)

    @message("synthesize_noz <out> <pitch> [edits… or an array] [-- <out> <pitch> …]")
    def synthesize_noz_1(self, *atoms: Any) -> Generator[None, None, None]:
        """Notes without latents: the layer is the PCA's mean plus the edits (numbers, or
        an array's values, in standard deviations). Groups are separated by ``--``;
        replies ``synthesized``."""
        groups: list[list[Any]] = [[]]
        for atom in atoms:
            if atom == "--":
                groups.append([])
            else:
                groups[-1].append(atom)
        requests = []
        for group in groups:
            if len(group) < 2:
                raise ValueError("synthesize_noz takes <out> <pitch> [edits or array] for each "
                                 "group: groups are separated by --")
            out = self._arrays([group[0]], "")[0]
            pitch = number(group[1], "pitch", low=0, high=127)
            edits: list[float] = []
            for item in group[2:]:
                if isinstance(item, str):
                    edits += [float(v) for v in self.read_array(item)[0]]
                else:
                    edits.append(number(item, "edit"))
            requests.append((out, int(pitch), edits))
        yield
        from dlwa.gansynth.ganspace import synthesize_edited

        model = self.require_model()
        if self.space is None:
            raise ValueError("no GANSpace loaded: send 'load_ganspace_components <file>' first")
        width = max(len(e) for _, _, e in requests)
        width = min(width, self.space.n_components)  # an amplitudes array may be longer
        rows = np.zeros((len(requests), max(width, 1)), np.float64)
        for i, (_, _, edits) in enumerate(requests):
            rows[i, :min(len(edits), width)] = edits[:width]
        self.state = "synthesizing"
        notes = synthesize_edited(model, self.space, [p for _, p, _ in requests], rows,
                                  batch_size=self.batch, progress=self.progress)
        for (out, _, _), note in zip(requests, notes):
            self.write_array(out, self._to_array_rate(note))
        self.reply("synthesized")

    @message("batch <n>")
    def batch_1(self, value: Any) -> None:
        """Notes per generator call (1…256); the notes do not depend on it."""
        self.batch = self._batch(value)
        self.done("batch", self.batch)

    @message("seed <n|random>")
    def seed_1(self, value: Any) -> None:
        """Restart the latents of ``randomize_z`` and ``hallucinate`` from seed ``n``: the
        same seed then the same messages give the same latents (``random``: unrepeatable)."""
        self.seed = None if value == "random" else int(number(value, "seed", low=0))
        self.rng = np.random.default_rng(self.seed)
        self.done("seed", "random" if self.seed is None else self.seed)

    @message("out_sample_rate <Hz, 0 for Pd's>")
    def out_sample_rate_1(self, value: Any) -> None:
        """The rate of the notes written into arrays; 0 (the default) is Pd's, so they play
        right with ``[tabplay~]``; the model's own (e.g. 16000) writes them unresampled."""
        rate = number(value, "out_sample_rate", low=0, high=MAX_RATE)
        if 0 < rate < MIN_RATE:
            raise ValueError(f"out_sample_rate must be 0 or at least {MIN_RATE:g} Hz: "
                             f"got {rate:g}")
        self.out_sample_rate = rate
        self.done("out_sample_rate", rate)
        if self.model is not None:  # what `loaded` said has changed
            self.reply("note", *self._note_format())

    @message("precision <float32|bfloat16>")
    def precision_1(self, value: Any) -> None:
        """The generator's arithmetic: bfloat16 is about twice as fast on CPUs with AVX-512
        BF16 or AMX (and slower on others); float32 is exact."""
        if value not in PRECISIONS:
            raise ValueError(f"precision must be float32 or bfloat16: got '{value}'")
        self.precision = str(value)
        if self.model is not None:
            self.model.precision = self.precision
        self.done("precision", self.precision)

    @message("pitches")
    def pitches_1(self) -> None:
        """Reply ``pitches <p…>``: the MIDI pitches the loaded model was trained on."""
        self.reply("pitches", *self.require_model().config.pitches)

    # ----- helpers

    def _batch(self, value: Any) -> int:
        return int(number(value, "batch", low=1, high=MAX_BATCH))

    def _rng(self) -> np.random.Generator:
        """A generator for one message, drawn from the object's (so a job on another thread
        never shares one with the next message)."""
        return np.random.default_rng(self.rng.integers(2**63))

    def _arrays(self, names: Iterable[Any], missing: str) -> list[str]:
        """Check that each array exists (before any work); return their names."""
        checked = [name_arg(n, "array") for n in names]
        if not checked:
            raise ValueError(missing)
        for name in checked:
            self.buffer(name)
        return checked

    def _array_rate(self) -> int:
        return round(self.out_sample_rate or pyext._samplerate())

    def _note_format(self) -> tuple[int, int]:
        """``(audio_length, sample_rate)`` of a note as written into an array."""
        from dlwa.audio.resample import resampled_length

        config = self.model.config
        rate = self._array_rate()
        return resampled_length(config.audio_length, orig_sample_rate=config.sample_rate,
                                sample_rate=rate), rate

    def _to_array_rate(self, audio: np.ndarray) -> np.ndarray:
        """Model-rate audio resampled (soxr) to the arrays' rate."""
        rate, model_rate = self._array_rate(), self.model.config.sample_rate
        if rate == model_rate:
            return audio
        from dlwa.audio.resample import resample

        return resample(audio, orig_sample_rate=model_rate, sample_rate=rate)

    def status_items(self) -> Iterable[tuple[Any, ...]]:
        """``batch``, ``seed``, ``out_sample_rate`` and, with a model, ``note`` and ``pitches``."""
        items: list[tuple[Any, ...]] = [
            ("batch", self.batch), ("seed", "random" if self.seed is None else self.seed),
            ("out_sample_rate", self.out_sample_rate), ("precision", self.precision)]
        if self.model is not None:
            items += [("note", *self._note_format()), ("pitches", *self.model.config.pitches)]
        return items
