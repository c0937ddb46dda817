#!/usr/bin/env python3
"""Render solo-instrument training audio for DDSP from Essen folk melodies (deterministic).

Recipe (``shared/reference/data-recipes.md`` §1.5):

1. The Essen ABC files from music21's bundled corpus are converted with ``abc2midi -NGUI``
   (melody only) in a temporary folder.
2. Tunes are taken in a seeded random order. Each is made monophonic (highest note at an
   onset, earlier notes cut at the next onset), stretched in time by a random factor in
   [0.6, 1.1], and shifted by whole octaves so its median pitch sits mid-range; tunes that
   still leave the instrument's range are skipped.
3. FluidSynth (FluidR3 GM, reverb and chorus off, 16 kHz) plays each tune on one channel in
   64-sample blocks (250 blocks/s, DDSP's frame rate). Per note: velocity ~ N(90, 12), a
   vibrato of 0–0.35 semitone at 4.5–6.5 Hz sent as pitch bend every block (GM range
   ±2 semitones), and a CC11 expression swell up or down.
4. Each tune becomes ``<instrument>/<nnn>_<tune>.wav`` (16-bit mono) with an ``.npz`` of
   ground-truth ``f0_hz`` per 64-sample block (0 in rests). A 60 Hz high-pass removes
   FluidR3's low rumble, and one gain per instrument brings the loudest file to a peak
   of 0.9, so the dynamics between tunes are kept.

Needs ``abc2midi`` (Debian ``abcmidi``), ``fluid-soundfont-gm``, and the ``ddsp-data`` extra
(``pip install -e '.[ddsp-data]'``: pyfluidsynth, music21, pretty_midi).

Usage::

    python scripts/make_ddsp_data.py --out out/ddsp_data --minutes 8
    python scripts/make_ddsp_data.py --out out/ddsp_data --instruments violin flute
    # held-out evaluation sets (other tunes: another seed) and example inputs
    python scripts/make_ddsp_data.py --out out/ddsp_heldout --minutes 1 --seed 99 \
        --instruments violin flute sax clarinet trumpet

Same arguments, same bytes: every random choice comes from ``--seed``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

SAMPLE_RATE = 16000
BLOCK = 64
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
BEND_PER_SEMITONE = 4096  # GM default bend range is ±2 semitones over ±8192


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int
    low_midi: int
    high_midi: int


INSTRUMENTS = {
    "violin": Instrument("violin", 40, 55, 96),
    "flute": Instrument("flute", 73, 60, 96),
    "sax": Instrument("sax", 65, 49, 81),  # alto sax
    # Sources for examples and held-out inputs, not trained on:
    "clarinet": Instrument("clarinet", 71, 50, 91),
    "trumpet": Instrument("trumpet", 56, 52, 86),
}
DEFAULT_INSTRUMENTS = ("flute", "sax", "violin")


def essen_midi_files(work: Path) -> list[Path]:
    """Convert the Essen ABC files bundled with music21 into one MIDI file per tune."""
    from music21 import corpus

    abc_files = sorted(
        p for p in corpus.getPaths(fileExtensions=("abc",)) if "essenfolksong" in str(p).lower()
    )
    if not abc_files:
        sys.exit("music21's corpus has no essenFolksong ABC files")
    for abc in abc_files:
        target = work / abc.name
        shutil.copy(abc, target)
        subprocess.run(["abc2midi", target.name, "-NGUI", "-silent"], cwd=work,
                       check=False, capture_output=True)
    return sorted(work.glob("*.mid"))


def monophonic_notes(path: Path) -> list[tuple[float, float, int]]:
    """(start_s, end_s, pitch) of a tune's melody, one note at a time."""
    import pretty_midi

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception:  # noqa: BLE001 - a broken tune is skipped
        return []
    notes = sorted((n.start, -n.pitch, n.end) for inst in midi.instruments for n in inst.notes)
    melody: list[tuple[float, float, int]] = []
    for start, neg_pitch, end in notes:
        if melody and abs(melody[-1][0] - start) < 1e-3:
            continue  # same onset: keep the highest
        if melody and melody[-1][1] > start:
            melody[-1] = (melody[-1][0], start, melody[-1][2])
        melody.append((start, end, -neg_pitch))
    return [n for n in melody if n[1] - n[0] > 0.03]


def fit_to_range(notes: list[tuple[float, float, int]], inst: Instrument) -> int | None:
    """Whole-octave shift that centres the tune in the range, or None if it cannot fit."""
    pitches = np.array([p for _, _, p in notes])
    middle = (inst.low_midi + inst.high_midi) / 2
    shift = 12 * round((middle - np.median(pitches)) / 12)
    if pitches.min() + shift < inst.low_midi or pitches.max() + shift > inst.high_midi:
        return None
    return int(shift)


def render_tune(
    synth: object, notes: list[tuple[float, float, int]], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Play one tune; returns (audio [n_samples] float64, f0_hz per 64-sample block)."""
    stretch = rng.uniform(0.6, 1.1)
    events = [(round(s * stretch * SAMPLE_RATE / BLOCK), round(e * stretch * SAMPLE_RATE / BLOCK),
               p) for s, e, p in notes]
    n_blocks = events[-1][1] + SAMPLE_RATE // BLOCK  # one second of release
    audio = np.zeros(n_blocks * BLOCK)
    f0_hz = np.zeros(n_blocks)
    params = [
        {"velocity": int(np.clip(rng.normal(90, 12), 40, 127)),
             "depth": rng.uniform(0.0, 0.35), "rate": rng.uniform(4.5, 6.5),
             "phase": rng.uniform(0, 2 * np.pi), "swell": rng.choice([-1.0, 1.0]) * rng.uniform(0, 50)}
        for _ in events
    ]
    index = 0
    current: int | None = None
    for block in range(n_blocks):
        while index < len(events) and events[index][0] <= block:
            if current is not None:
                synth.noteoff(0, events[current][2])
            current = index
            synth.noteon(0, events[index][2], params[index]["velocity"])
            index += 1
        if current is not None and block >= events[current][1]:
            synth.noteoff(0, events[current][2])
            current = None
        semitones = 0.0
        if current is not None:
            start, end, pitch = events[current]
            p = params[current]
            t = (block - start) * BLOCK / SAMPLE_RATE
            onset_ramp = min(1.0, t / 0.25)  # vibrato fades in over 250 ms
            semitones = p["depth"] * onset_ramp * np.sin(2 * np.pi * p["rate"] * t + p["phase"])
            frac = (block - start) / max(1, end - start)
            expression = 100 + p["swell"] * (frac if p["swell"] < 0 else frac - 1.0)
            synth.cc(0, 11, int(np.clip(expression, 30, 127)))
            f0_hz[block] = 440.0 * 2 ** ((pitch + semitones - 69) / 12)
        synth.pitch_bend(0, round(semitones * BEND_PER_SEMITONE))
        stereo = np.asarray(synth.get_samples(BLOCK), dtype=np.float64).reshape(-1, 2)
        audio[block * BLOCK:(block + 1) * BLOCK] = stereo.mean(axis=1) / 32768.0
    if current is not None:
        synth.noteoff(0, events[current][2])
    synth.all_sounds_off(0)
    synth.get_samples(8 * BLOCK)  # flush any tail
    return audio, f0_hz


def render_instrument(inst: Instrument, midi_files: list[Path], out: Path, *,
                      minutes: float, seed: int) -> None:
    import fluidsynth

    synth = fluidsynth.Synth(gain=0.5, samplerate=float(SAMPLE_RATE),
                             **{"synth.reverb.active": 0, "synth.chorus.active": 0})
    sfid = synth.sfload(str(SOUNDFONT))
    synth.program_select(0, sfid, 0, inst.program)
    rng = np.random.default_rng([seed, inst.program])
    order = rng.permutation(len(midi_files))
    folder = out / inst.name
    folder.mkdir(parents=True, exist_ok=True)
    sos = scipy.signal.butter(2, 60.0, btype="highpass", fs=SAMPLE_RATE, output="sos")
    rendered: list[tuple[str, np.ndarray, np.ndarray]] = []
    total_s = 0.0
    for i in order:
        if total_s >= minutes * 60:
            break
        notes = monophonic_notes(midi_files[i])
        if len(notes) < 8:
            continue
        shift = fit_to_range(notes, inst)
        if shift is None:
            continue
        notes = [(s, e, p + shift) for s, e, p in notes]
        audio, f0_hz = render_tune(synth, notes, rng)
        audio = scipy.signal.sosfilt(sos, audio)
        name = f"{len(rendered):03d}_{midi_files[i].stem}"
        rendered.append((name, audio, f0_hz))
        total_s += len(audio) / SAMPLE_RATE
    gain = 0.9 / max(np.abs(a).max() for _, a, _ in rendered)
    for name, audio, f0_hz in rendered:
        sf.write(folder / f"{name}.wav", (audio * gain).astype(np.float32), SAMPLE_RATE,
                 subtype="PCM_16")
        np.savez(folder / f"{name}.npz", f0_hz=f0_hz.astype(np.float32),
                 hop_length=BLOCK, sample_rate=SAMPLE_RATE)
    synth.delete()
    print(f"{inst.name}: {len(rendered)} tunes, {total_s / 60:.1f} min in {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/ddsp_data", help="output folder")
    parser.add_argument("--instruments", nargs="+", default=list(DEFAULT_INSTRUMENTS),
                        choices=sorted(INSTRUMENTS))
    parser.add_argument("--minutes", type=float, default=8.0, help="audio per instrument")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        midi_files = essen_midi_files(Path(tmp))
        print(f"{len(midi_files)} Essen tunes")
        for name in args.instruments:
            render_instrument(INSTRUMENTS[name], midi_files, out, minutes=args.minutes,
                              seed=args.seed)


if __name__ == "__main__":
    main()
