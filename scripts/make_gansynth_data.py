#!/usr/bin/env python3
"""Render an NSynth-like set of single notes from the FluidR3 soundfont for GANSynth.

Recipe (``shared/reference/data-recipes.md`` §1.4), deterministic:

1. One FluidSynth synth in-process (pyfluidsynth), reverb and chorus off (dry, as NSynth),
   gain 0.5, at ``--sample-rate``; FluidR3 GM loaded once.
2. For each GM program, each pitch of its natural range clipped to ``--min-pitch`` to
   ``--max-pitch`` (GANSynth's 24–84), and each velocity: note-on, ``--hold-s`` seconds,
   note-off, then the release up to ``--duration-s`` (NSynth: 3 s held, 4 s in all); then
   all sounds off and a short flush so no tail leaks into the next note. Stereo int16 is
   averaged to mono.
3. A note whose first second is nearly silent (RMS < 1e-4) is dropped and reported. With
   ``--check-pitch`` each note's pitch is tracked with dlwa's YIN and stored as
   ``tracked_pitch``; ``--drop-mistuned`` also drops notes tracked at another pitch (mostly
   low notes an octave up; YIN cannot see below 50 Hz, about MIDI 31, so those stay).
4. Written in the NSynth layout: ``audio/<family>_<source>_<program>-<pitch>-<velocity>.wav``
   (16-bit PCM, levels kept) and ``examples.json`` with NSynth's fields (``pitch``,
   ``velocity``, ``instrument_family(_str)``, ``instrument_source(_str)``, ``instrument_str``,
   ``sample_rate``, ``qualities``) plus ``program``, ``sfpreset_name`` and ``soundfont``.

Needs Debian ``libfluidsynth3`` and ``fluid-soundfont-gm`` and the ``ddsp-data`` extra
(pyfluidsynth). Usage::

    python scripts/make_gansynth_data.py --out /tmp/gansynth_fluidr3
    python scripts/make_gansynth_data.py --out /tmp/gs --velocities 75 127 --programs 0 40 73
    python scripts/make_gansynth_data.py --out /tmp/gs --check-pitch   # YIN agreement
    dlwa train gansynth /tmp/gansynth_fluidr3 --out ...   # read by dlwa.gansynth.data

Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SOUNDFONT_PACKAGE = "fluid-soundfont-gm"
SOUNDFONT_NAME = "FluidR3_GM.sf2"
USUAL_SOUNDFONT = Path("/usr/share/sounds/sf2") / SOUNDFONT_NAME
# NSynth's label indices (magenta/nsynth: instrument_family / instrument_source).
FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed",
            "string", "synth_lead", "vocal")
SOURCES = ("acoustic", "electronic", "synthetic")
SILENT_RMS = 1e-4
FLUSH_SAMPLES = 512


@dataclass(frozen=True)
class Program:
    """A GM program with its NSynth family and source and its natural MIDI range."""

    program: int
    family: str
    source: str
    low_midi: int
    high_midi: int


# The recipe's 12 programs (ranges measured there: out-of-range notes come out unvoiced
# or an octave off in FluidR3).
PROGRAMS = (
    Program(0, "keyboard", "acoustic", 21, 108),   # acoustic grand piano
    Program(11, "mallet", "acoustic", 53, 89),     # vibraphone
    Program(19, "organ", "acoustic", 24, 96),      # church organ
    Program(24, "guitar", "acoustic", 40, 88),     # nylon guitar
    Program(33, "bass", "electronic", 28, 67),     # fingered electric bass
    Program(40, "string", "acoustic", 55, 100),    # violin
    Program(42, "string", "acoustic", 36, 76),     # cello
    Program(56, "brass", "acoustic", 52, 86),      # trumpet
    Program(57, "brass", "acoustic", 34, 75),      # trombone
    Program(65, "reed", "acoustic", 49, 81),       # alto sax
    Program(71, "reed", "acoustic", 50, 91),       # clarinet
    Program(73, "flute", "acoustic", 60, 96),      # flute
)


def find_soundfont(given: str | None) -> Path:
    """``--soundfont``, else FluidR3 as ``dpkg -L fluid-soundfont-gm`` lists it, else the
    usual path; exits with the install command when none exists."""
    if given:
        return Path(given)
    try:
        listed = subprocess.run(["dpkg", "-L", SOUNDFONT_PACKAGE], capture_output=True,
                                text=True, check=False).stdout.splitlines()
    except FileNotFoundError:
        listed = []
    for line in listed:
        if line.endswith(SOUNDFONT_NAME) and Path(line).is_file():
            return Path(line)
    if USUAL_SOUNDFONT.is_file():
        return USUAL_SOUNDFONT
    sys.exit(f"{SOUNDFONT_NAME} not found: apt-get install {SOUNDFONT_PACKAGE}, "
             "or pass --soundfont")


class NoteRenderer:
    """One dry FluidSynth synth rendering single notes on channel 0."""

    def __init__(self, soundfont: Path, *, sample_rate: int) -> None:
        import fluidsynth

        self.sample_rate = sample_rate
        self.synth = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate),
                                      **{"synth.reverb.active": 0, "synth.chorus.active": 0})
        self.sfid = self.synth.sfload(str(soundfont))
        if self.sfid < 0:
            sys.exit(f"FluidSynth could not load {soundfont}")

    def select(self, program: int) -> str:
        """Select a GM program (bank 0); returns its preset name."""
        self.synth.program_select(0, self.sfid, 0, program)
        return str(self.synth.sfpreset_name(self.sfid, 0, program) or "")

    def render(self, pitch: int, velocity: int, *, n_hold: int, n_samples: int) -> np.ndarray:
        """One note: [n_samples] float32 mono, held ``n_hold`` samples then released."""
        self.synth.noteon(0, pitch, velocity)
        held = self._pull(n_hold)
        self.synth.noteoff(0, pitch)
        released = self._pull(n_samples - n_hold)
        self.synth.all_sounds_off(0)
        self._pull(FLUSH_SAMPLES)
        return np.concatenate([held, released])

    def _pull(self, n: int) -> np.ndarray:
        if n <= 0:
            return np.zeros(0, dtype=np.float32)
        stereo = np.asarray(self.synth.get_samples(n), dtype=np.float32).reshape(-1, 2)
        return stereo.mean(axis=1) / 32768.0

    def close(self) -> None:
        self.synth.delete()


def note_entry(prog: Program, pitch: int, velocity: int, *, sample_rate: int, preset: str,
               soundfont: Path) -> tuple[str, dict]:
    """NSynth-style name and ``examples.json`` entry of one note."""
    instrument = f"{prog.family}_{prog.source}_{prog.program:03d}"
    name = f"{instrument}-{pitch:03d}-{velocity:03d}"
    return name, {
        "note_str": name,
        "instrument_str": instrument,
        "instrument": prog.program,
        "instrument_family": FAMILIES.index(prog.family),
        "instrument_family_str": prog.family,
        "instrument_source": SOURCES.index(prog.source),
        "instrument_source_str": prog.source,
        "pitch": pitch,
        "velocity": velocity,
        "sample_rate": sample_rate,
        "qualities": [0] * 10,
        "qualities_str": [],
        "program": prog.program,
        "sfpreset_name": preset,
        "soundfont": soundfont.name,
    }


def render_set(args: argparse.Namespace) -> None:
    out = Path(args.out)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    soundfont = find_soundfont(args.soundfont)
    programs = [p for p in PROGRAMS if args.programs is None or p.program in args.programs]
    n_samples = round(args.duration_s * args.sample_rate)
    n_hold = round(args.hold_s * args.sample_rate)
    renderer = NoteRenderer(soundfont, sample_rate=args.sample_rate)
    plan = [(p, range(max(p.low_midi, args.min_pitch), min(p.high_midi, args.max_pitch) + 1))
            for p in programs]
    n_total = sum(len(r) for _, r in plan) * len(args.velocities)
    examples: dict[str, dict] = {}
    dropped: list[str] = []
    start, n_done = time.perf_counter(), 0
    for prog, pitches in plan:
        preset = renderer.select(prog.program)
        for pitch in pitches:
            for velocity in args.velocities:
                audio = renderer.render(pitch, velocity, n_hold=n_hold, n_samples=n_samples)
                name, entry = note_entry(prog, pitch, velocity, sample_rate=args.sample_rate,
                                         preset=preset, soundfont=soundfont)
                n_done += 1
                first_s = audio[: args.sample_rate]
                if float(np.sqrt(np.mean(first_s.astype(np.float64) ** 2))) < SILENT_RMS:
                    dropped.append(name)
                    continue
                sf.write(out / "audio" / f"{name}.wav", audio, args.sample_rate,
                         subtype="PCM_16")
                examples[name] = entry
        elapsed = time.perf_counter() - start
        eta = elapsed / n_done * (n_total - n_done)
        print(f"[{n_done}/{n_total}] program {prog.program:3d} {preset or prog.family:24s} "
              f"pitches {pitches.start}–{pitches.stop - 1}  {elapsed:5.1f} s, "
              f"ETA {eta:4.0f} s", flush=True)
    renderer.close()
    if args.check_pitch or args.drop_mistuned:
        check_pitches(out, examples, sample_rate=args.sample_rate, drop=args.drop_mistuned)
    (out / "examples.json").write_text(json.dumps(examples, indent=1, sort_keys=True))
    size_mb = sum(f.stat().st_size for f in (out / "audio").glob("*.wav")) / 1e6
    print(f"{len(examples)} notes ({len(dropped)} silent dropped"
          f"{': ' + ', '.join(dropped) if dropped else ''}), {size_mb:.0f} MB, "
          f"{time.perf_counter() - start:.1f} s → {out}")


def check_pitches(out: Path, examples: dict[str, dict], *, sample_rate: int,
                  drop: bool) -> None:
    """Track each note's pitch with dlwa's YIN (``dlwa.gansynth.data.estimate_pitch``),
    store it as ``tracked_pitch`` (−1: no clear pitch) and print where it disagrees; with
    ``drop``, notes whose clear tracked pitch differs from the label are removed."""
    from dlwa.gansynth.data import estimate_pitch

    mismatched = []
    for name, entry in examples.items():
        audio, _ = sf.read(out / "audio" / f"{name}.wav", dtype="float32")
        entry["tracked_pitch"] = estimate_pitch(audio, sample_rate=sample_rate)
        if entry["tracked_pitch"] != entry["pitch"]:
            mismatched.append(name)
    n_unclear = sum(examples[n]["tracked_pitch"] < 0 for n in mismatched)
    print(f"pitch check (YIN): {len(examples) - len(mismatched)}/{len(examples)} notes "
          f"agree; {n_unclear} unclear, {len(mismatched) - n_unclear} off:")
    for name in mismatched:
        print(f"  {name}: tracked {examples[name]['tracked_pitch']}")
    if drop:
        for name in mismatched:
            if examples[name]["tracked_pitch"] >= 0:
                (out / "audio" / f"{name}.wav").unlink()
                del examples[name]
        print(f"dropped the {len(mismatched) - n_unclear} notes tracked at another pitch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder (not in the repository)")
    parser.add_argument("--soundfont", help="SF2/SF3 file (default: FluidR3 GM from dpkg)")
    parser.add_argument("--programs", type=int, nargs="+",
                        choices=[p.program for p in PROGRAMS], help="GM programs (default all)")
    parser.add_argument("--velocities", type=int, nargs="+", default=[100])
    parser.add_argument("--min-pitch", type=int, default=24)
    parser.add_argument("--max-pitch", type=int, default=84)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--duration-s", type=float, default=4.0, help="note length")
    parser.add_argument("--hold-s", type=float, default=3.0, help="note-on to note-off")
    parser.add_argument("--check-pitch", action="store_true",
                        help="track each note's pitch (YIN) and store it as tracked_pitch")
    parser.add_argument("--drop-mistuned", action="store_true",
                        help="with the pitch check, drop notes tracked at another pitch")
    args = parser.parse_args()
    if not 0 < args.hold_s <= args.duration_s:
        parser.error(f"--hold-s must be in (0, --duration-s={args.duration_s}], "
                     f"got {args.hold_s}")
    if not 0 <= args.min_pitch <= args.max_pitch <= 127:
        parser.error("need 0 <= --min-pitch <= --max-pitch <= 127")
    if any(not 1 <= v <= 127 for v in args.velocities):
        parser.error("velocities must be 1–127, e.g. 75 127")
    render_set(args)


if __name__ == "__main__":
    main()
