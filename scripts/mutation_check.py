#!/usr/bin/env python3
"""Mutation check: does the test suite notice plausible bugs? (Not run in CI.)

Each mutation is one text substitution in one file of ``src/`` (or of the external's
C++ in ``pyext_py3/src/``, whose mutations rebuild the copy's external and run the real-Pd
conversion tests). It must match exactly
once (else it is reported as "does not apply" and skipped). The check never edits the
checkout: it copies ``src/``, ``tests/``, ``checkpoints/``, ``pd_patches/`` and
``pyproject.toml`` into a temporary folder, applies one mutation there at a time (the
file is restored from the original text afterwards), and runs the mutation's tests
(``pytest -x``, headless, with a timeout) with the copy's ``src`` first on ``PYTHONPATH``.
A mutation is *caught* when pytest fails; the first failing test is named.

    .venv/bin/python scripts/mutation_check.py              # all mutations
    .venv/bin/python scripts/mutation_check.py -k tone      # names containing "tone"
    .venv/bin/python scripts/mutation_check.py --list       # check that each applies once

Each set of tests is first run once without a mutation; if one already fails, nothing is
counted (exit 2), since every mutation would look caught.

Exit status: 0 when every mutation applies and is caught, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("src", "tests", "checkpoints", "pd_patches", "pyproject.toml", "setup.py", "pyext_py3")
TIMEOUT_S = 600


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to root
    old: str
    new: str
    tests: tuple[str, ...]
    root: str = "src/dlwa"

    @property
    def in_pd(self) -> bool:
        """A mutation of the external: its tests run real Pd on the copy's build."""
        return self.root.startswith("pyext_py3")


CORE = ("tests/ddsp/test_core.py", "tests/ddsp/test_core_delays.py", "tests/ddsp/test_model.py")
LOUD = ("tests/audio/test_loudness.py",)
SPEC = ("tests/audio/test_spectral.py", "tests/audio/test_mel.py")
DDSP_IMPORT = ("tests/ddsp/test_convert.py",)
MELODY_IMPORT = ("tests/melody_rnn/test_melody_convert.py",)
ATOMS = ("tests/test_atoms.py", "tests/contract/test_contract_standin.py",
         "tests/test_standin_limits.py",
         "tests/test_pd_objects.py", "tests/test_pd_jobs.py")
TONE = ("tests/test_pd_objects.py",)
MELODY = ("tests/melody_rnn/test_melody_rnn_object.py",)
TT = ("tests/ddsp/test_pd_timbre_transfer.py",)
LIVE = ("tests/ddsp/test_stream.py", "tests/ddsp/test_pd_ddsp_stream.py")
TRAIN = ("tests/test_training_warnings.py",)
DISTRIBUTED = ("tests/training/test_distributed.py",)
RESUME = ("tests/training/test_kill_and_resume.py",)
SLURM = ("tests/training/test_slurm.py",)
BOARD = ("tests/training/test_tensorboard.py",)
SRN_IMPORT = ("tests/samplernn/test_samplernn_convert.py",)
SRN = ("tests/samplernn/test_samplernn_model.py", "tests/samplernn/test_samplernn_generate.py")
SRN_PD = ("tests/samplernn/test_samplernn_pd_object.py",)
SRN_TRAIN = ("tests/samplernn/test_samplernn_train.py",)
RAVE = ("tests/rave/test_rave_model.py", "tests/rave/test_rave_stream.py")
RAVE_PD = ("tests/rave/test_rave_pd_object.py",)
RAVE_TRAIN = ("tests/rave/test_rave_train.py",)
GS_TRAIN = ("tests/gansynth/test_gansynth_train.py",)
GS_HARMONIC = ("tests/gansynth/test_gansynth_harmonic.py",)
GS_FINETUNE = ("tests/gansynth/test_gansynth_finetune.py",)
GS_BLOCKS = ("tests/gansynth/test_gansynth_blocks.py",)
BRIDGE = ("tests/pd/test_pyext_convert.py", "tests/contract/test_contract_pd.py")


def m(name: str, path: str, old: str, new: str, tests: tuple[str, ...]) -> Mutation:
    return Mutation(name, path, old, new, tests)


def cpp(name: str, path: str, old: str, new: str) -> Mutation:
    return Mutation(name, path, old, new, BRIDGE, root="pyext_py3/src")


MUTATIONS = [
    # ----- DSP core
    m("nyquist: keep harmonics up to the sample rate", "ddsp/core.py",
      "frequencies_hz < sample_rate / 2", "frequencies_hz < sample_rate", CORE),
    m("upsample: interpolation weights swapped", "ddsp/core.py",
      "segment[..., left] * (1 - weight) + segment[..., left + 1] * weight",
      "segment[..., left] * weight + segment[..., left + 1] * (1 - weight)", CORE),
    m("hann window symmetric instead of periodic", "ddsp/core.py",
      "torch.hann_window(size, periodic=True", "torch.hann_window(size, periodic=False", CORE),
    m("fft_convolve: delay compensation ignored", "ddsp/core.py",
      "full[:, delay_compensation:delay_compensation + n_samples]", "full[:, :n_samples]",
      CORE),
    m("filtered noise: no delay compensation", "ddsp/core.py",
      "delay_compensation=max(0, (ir.shape[-1] - 1) // 2 - 1)", "delay_compensation=0", CORE),
    m("harmonic synth: amplitudes not gated below 20 Hz", "ddsp/synths.py",
      "(f0_hz >= MIN_F0_HZ)", "(f0_hz >= 0.0)", CORE),
    m("harmonic synth: harmonic numbers from 0", "ddsp/synths.py",
      "torch.arange(1, n_harmonics + 1,", "torch.arange(0, n_harmonics,", CORE),
    m("harmonic synth: distribution normalised by max, not sum", "ddsp/synths.py",
      "distribution.sum(-1, keepdim=True)", "distribution.amax(-1, keepdim=True)", CORE),
    m("noise: initial bias ignored", "ddsp/synths.py",
      "exp_sigmoid(magnitudes + self.initial_bias)", "exp_sigmoid(magnitudes)", CORE),
    m("reverb: first IR tap not masked", "ddsp/synths.py",
      "mask[0] = 0.0", "mask[0] = 1.0", CORE),
    m("reverb: dry signal dropped", "ddsp/synths.py",
      "return audio + core.fft_convolve(audio, impulse_response)",
      "return core.fft_convolve(audio, impulse_response)", CORE),
    m("A-weighting: f^2 term once, not twice", "audio/loudness.py",
      "+ 2 * np.log10(f_sq)", "+ np.log10(f_sq)", LOUD),
    m("A-weighting: +2 dB offset dropped", "audio/loudness.py",
      "weight = 2.0 + 20.0 * (", "weight = 20.0 * (", LOUD),
    m("loudness: ref_db added instead of subtracted", "audio/loudness.py",
      "torch.clamp(mean_power, min=min_power)) - ref_db",
      "torch.clamp(mean_power, min=min_power)) + ref_db", LOUD),
    m("loudness: A-weighting not applied", "audio/loudness.py",
      "mean_power = (power * weights).mean(dim=-1)", "mean_power = power.mean(dim=-1)", LOUD),
    m("spectral: power ignored", "audio/spectral.py",
      "return magnitude if power == 1.0 else magnitude**power", "return magnitude", SPEC),
    m("mel: HTK break frequency 770 Hz", "audio/mel.py",
      "2595.0 * np.log10(1.0 + f / 700.0)", "2595.0 * np.log10(1.0 + f / 770.0)", SPEC),
    m("mel: mel_to_hz without the -1", "audio/mel.py",
      "700.0 * (10.0 ** (m / 2595.0) - 1.0)", "700.0 * (10.0 ** (m / 2595.0))", SPEC),
    m("fft_frequencies up to the sample rate", "audio/mel.py",
      "np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)",
      "np.linspace(0.0, sample_rate, n_fft // 2 + 1)", SPEC),
    # ----- importers
    m("ddsp import: GRU gates r and z swapped", "ddsp/convert.py",
      "np.concatenate([r, z, h], axis=-1).T", "np.concatenate([z, r, h], axis=-1).T",
      DDSP_IMPORT),
    m("ddsp import: GRU input and recurrent biases swapped", "ddsp/convert.py",
      "_gru_gates(bias[0], units)", "_gru_gates(bias[1], units)", DDSP_IMPORT),
    m("ddsp import: layer-norm gamma read as beta", "ddsp/convert.py",
      'get(f"{layer}/layer_with_weights-1/gamma")', 'get(f"{layer}/layer_with_weights-1/beta")',
      DDSP_IMPORT),
    m("ddsp import: output bias dropped", "ddsp/convert.py",
      'state["decoder.dense_out.bias"] = get("decoder/dense_out/bias")',
      'state["decoder.dense_out.bias"] = 0 * get("decoder/dense_out/bias")', DDSP_IMPORT),
    m("melody import: LSTM gates in TF order", "melody_rnn/convert.py",
      "order = np.r_[i, f, j, o]", "order = np.r_[i, j, f, o]", MELODY_IMPORT),
    m("melody import: forget bias not added", "melody_rnn/convert.py",
      "bias[f] += FORGET_BIAS", "bias[f] += 0.0", MELODY_IMPORT),
    m("melody import: output bias dropped", "melody_rnn/convert.py",
      'state["output.bias"] = t["fully_connected/biases"]',
      'state["output.bias"] = 0 * t["fully_connected/biases"]', MELODY_IMPORT),
    m("melody import: attention matrix transposed", "melody_rnn/convert.py",
      'state["layers.0.attn_w"] = t[wrap + "attention/attn_w"][0, 0]',
      'state["layers.0.attn_w"] = t[wrap + "attention/attn_w"][0, 0].T', MELODY_IMPORT),
    # ----- the bridge's conversions (stand-in)
    m("atoms: integral floats stay floats", "pd/atoms.py",
      "    if math.isfinite(x) and x == int(x):\n        return int(x)",
      "    if math.isfinite(x) and x == int(x):\n        return x", ATOMS),
    m("atoms: numbers not rounded to float32", "pd/atoms.py",
      "return float(np.float32(x))", "return float(x)", ATOMS),
    m("atoms: floats printed with repr, not %g", "pd/atoms.py",
      'return f"{x:g}"', 'return f"{x}"', ATOMS),
    m("atoms: backslash not escaped in symbols", "pd/atoms.py",
      'ch in " ,;\\\\"', 'ch in " ,;"', ATOMS),
    m("atoms: (selector, list) not an anything message", "pd/atoms.py",
      "len(items) == 2 and isinstance(items[0], str)",
      "len(items) == 3 and isinstance(items[0], str)", ATOMS),
    m("atoms: a lone number parsed as a list", "pd/atoms.py",
      '("float" if len(atoms) == 1 else "list")', '"list"', ATOMS),
    # (An empty list instead of a bang is no bug: Pd treats an empty list as a bang.)
    # ----- tone: each parameter ignored
    m("tone: timbre ignored", "pd/tone.py",
      "self.timbre = Timbre(check_harmonics(amplitudes), self.timbre.decay_s)",
      "check_harmonics(amplitudes)", TONE),
    m("tone: decay ignored", "pd/tone.py",
      "self.timbre = Timbre(self.timbre.harmonics, decay)", "decay = decay", TONE),
    m("tone: render amplitudes ignored", "pd/tone.py",
      "timbre = Timbre(check_harmonics(amplitudes), timbre.decay_s)",
      "check_harmonics(amplitudes)", TONE),
    m("tone: render amplitudes replace the timbre setting", "pd/tone.py",
      "            timbre = Timbre(check_harmonics(amplitudes), timbre.decay_s)",
      "            timbre = self.timbre = Timbre(check_harmonics(amplitudes), timbre.decay_s)",
      TONE),
    m("tone: render ignores the decay", "pd/tone.py",
      "decay_s=timbre.decay_s, peak=PEAK", "decay_s=0.6, peak=PEAK", TONE),
    m("tone: render ignores the pitch", "pd/tone.py",
      "midi_to_hz(pitch)", "midi_to_hz(69)", TONE),
    m("tone: a loaded decay ignored", "pd/tone.py",
      "Timbre(check_harmonics([float(h) for h in harmonics]), decay)",
      "Timbre(check_harmonics([float(h) for h in harmonics]), 0.6)", TONE),
    # ----- melody_rnn: each parameter ignored
    m("melody_rnn: temperature ignored", "pd/melody_rnn.py",
      "GenerateOptions(temperature=self.temperature,", "GenerateOptions(temperature=1.0,",
      MELODY),
    m("melody_rnn: beam size ignored", "pd/melody_rnn.py",
      "beam_size=size,", "beam_size=1,", MELODY),
    m("melody_rnn: beam branch_factor ignored", "pd/melody_rnn.py",
      "branch_factor=branch,", "branch_factor=1,", MELODY),
    m("melody_rnn: beam steps_per_iteration ignored", "pd/melody_rnn.py",
      "steps_per_iteration=steps, seed", "steps_per_iteration=1, seed", MELODY),
    m("melody_rnn: seed ignored", "pd/melody_rnn.py",
      "seed=self.seed,", "seed=None,", MELODY),
    m("melody_rnn: seed random ignored", "pd/melody_rnn.py",
      'self.seed = None if seed == "random"', 'self.seed = self.seed if seed == "random"',
      MELODY),
    m("melody_rnn: fixed tempo ignored", "pd/melody_rnn.py",
      "qpm = self.fixed_qpm or estimate_qpm(phrase)", "qpm = estimate_qpm(phrase)", MELODY),
    m("melody_rnn: tempo auto ignored", "pd/melody_rnn.py",
      'self.fixed_qpm = None if qpm == "auto"', 'self.fixed_qpm = self.fixed_qpm if qpm == "auto"',
      MELODY),
    m("melody_rnn: length number ignored", "pd/melody_rnn.py",
      'self.length, self.length_unit = number(n, "length", low=0.0625, high=high), unit',
      'number(n, "length", low=0.0625, high=high); self.length_unit = unit', MELODY),
    m("melody_rnn: length unit ignored", "pd/melody_rnn.py",
      'number(n, "length", low=0.0625, high=high), unit',
      'number(n, "length", low=0.0625, high=high), "bars"', MELODY),
    m("melody_rnn: generate seconds ignored", "pd/melody_rnn.py",
      'yield from self._answer(number(seconds, "seconds", low=0.05, high=120.0),',
      'yield from self._answer(self.length,', MELODY),
    m("melody_rnn: duet on ignored", "pd/melody_rnn.py",
      'self.duet_on = bool(number(on, "on", low=0, high=1))',
      'self.duet_on = bool(number(on, "on", low=0, high=1)) or True', MELODY),
    m("melody_rnn: duet wait_ms ignored", "pd/melody_rnn.py",
      'self.reply("duet_wait", self.duet_wait_ms)', 'self.reply("duet_wait", 600.0)', MELODY),
    m("melody_rnn: duet max_phrase_s ignored", "pd/melody_rnn.py",
      "end - 1000.0 * self.duet_max_phrase_s", "end - 1000.0 * 10.0", MELODY),
    m("melody_rnn: time ignored", "pd/melody_rnn.py",
      'self.clock_ms = number(ms, "time", low=0.0)', 'number(ms, "time", low=0.0)', MELODY),
    # ----- timbre_transfer: each setting and run argument ignored
    m("timbre_transfer: run arguments ignored", "pd/timbre_transfer.py",
      "zip(RUN_PARAMETERS, parameters)", "zip(RUN_PARAMETERS, ())", TT),
    m("timbre_transfer: f0_octave_shift ignored", "pd/timbre_transfer.py",
      'f0_octave_shift=settings["f0_octave_shift"]', "f0_octave_shift=0.0", TT),
    m("timbre_transfer: f0_confidence_threshold ignored", "pd/timbre_transfer.py",
      'f0_confidence_threshold=settings["f0_confidence_threshold"]',
      "f0_confidence_threshold=0.0", TT),
    m("timbre_transfer: loudness_db_shift ignored", "pd/timbre_transfer.py",
      'loudness_db_shift=settings["loudness_db_shift"]', "loudness_db_shift=0.0", TT),
    m("timbre_transfer: in_sample_rate ignored", "pd/timbre_transfer.py",
      'self.read_array(in_array, settings["in_sample_rate"] or None)',
      "self.read_array(in_array, None)", TT),
    m("timbre_transfer: out_sample_rate ignored", "pd/timbre_transfer.py",
      'round(settings["out_sample_rate"] or pyext._samplerate())',
      "round(pyext._samplerate())", TT),
    m("timbre_transfer: adjust ignored", "pd/timbre_transfer.py",
      'adjust=bool(settings["adjust"])', "adjust=True", TT),
    m("timbre_transfer: quiet ignored", "pd/timbre_transfer.py",
      'quiet=settings["quiet"]', "quiet=20.0", TT),
    m("timbre_transfer: autotune ignored", "pd/timbre_transfer.py",
      'autotune=settings["autotune"]', "autotune=0.0", TT),
    m("timbre_transfer: tracker ignored", "pd/timbre_transfer.py",
      "tracker=self.tracker)", 'tracker="yin")', TT),
    m("timbre_transfer: normalize peak ignored", "pd/timbre_transfer.py",
      "audio * (target / top)", "audio * (DEFAULT_PEAK / top)", TT),
    # ----- live DDSP: the stream and [ddsp~]
    m("ddsp~ stream: controls applied at once, no glide", "ddsp/stream.py",
      "alpha = 1.0 / GLIDE_FRAMES", "alpha = 1.0", LIVE),
    m("ddsp~ stream: loudness window not levelled", "ddsp/stream.py",
      "self.offset_db = 10.0 * math.log10(TRAIN_N_FFT / self.n_fft)", "self.offset_db = 0.0",
      LIVE),
    m("ddsp~ stream: quiet ignored", "ddsp/stream.py",
      'loudness -= self.glide["quiet"] * (1.0 - min(max(value, 0.0), 1.0))', "pass", LIVE),
    m("ddsp~ stream: octave shift never learned", "ddsp/stream.py",
      "if not on and self.pitch_weight >= MIN_NOTE_S * self.frame_rate:", "if False:", LIVE),
    m("ddsp~ stream: model swap without hand-over", "ddsp/stream.py",
      "self._pending = self.synth.take_over(old, (recent[0], recent[1]))",
      "self._pending = np.zeros(0, np.float32)", LIVE),
    m("ddsp~ stream: reverb without its dry path", "ddsp/stream.py",
      "audio = audio + self.reverb.push(audio)", "audio = self.reverb.push(audio)", LIVE),
    m("ddsp~ stream: FIFO one sample short", "ddsp/stream.py",
      "return int(max(0, (n - self._out.available(rendered)).max()))",
      "return int(max(0, (n - self._out.available(rendered)).max())) - 1", LIVE),
    m("ddsp~: a control not passed to the stream", "pd/ddsp_stream.py",
      "            stream.set(**self._params_changes())", "            pass", LIVE),
    m("ddsp~: chunk message ignored", "pd/ddsp_stream.py",
      "self._chunk = int(chunk)", "self._chunk = self._chunk", LIVE),
    m("ddsp~: features never sent", "pd/ddsp_stream.py",
      "        if (self.send_features and frames", "        if (False and frames", LIVE),
    m("ddsp~: reset ignored", "pd/ddsp_stream.py",
      "        self._reset = True\n", "        pass\n", LIVE),
    # ----- the external's conversions (C++; each rebuilds the copy's external)
    cpp("bridge: integral floats stay float", "convert.cpp",
        "return PyLong_FromLongLong((long long)f);", "return PyFloat_FromDouble(f);"),
    cpp("bridge: complex list items pass", "convert.cpp",
        '    if (is_complex(v)) {\n        complex_error(v, "sent to Pd");\n        return -1;',
        '    if (false) {\n        complex_error(v, "sent to Pd");\n        return -1;'),
    cpp("bridge: (selector, atoms) sent as a list", "convert.cpp",
        "bool anything = a && b && is_str(a) && is_sequence(b);", "bool anything = false;"),
    # (An empty sequence sent as an empty list instead of a bang is no bug: Pd treats an
    # empty list as a bang, so no test can tell them apart.)
    cpp("bridge: symbol atoms arrive as None", "convert.cpp",
        "return symbol_from_pd(a->a_w.w_symbol);", "Py_RETURN_NONE;"),
    cpp("bridge: numbers sent as symbols", "convert.cpp",
        '    if (is_number(v) && !is_sequence(v)) {\n        out.sel = "float";',
        '    if (is_number(v) && !is_sequence(v)) {\n        out.sel = "symbol";'),
    # ----- training hygiene
    m("ddsp training: float() of a loss that requires grad", "ddsp/train.py",
      "float(loss.detach()) * placement.share", "float(loss) * placement.share", TRAIN),
    # ----- training at scale: DDP, resume, --force, SLURM, TensorBoard
    m("training: every process trains on the whole batch", "training/distributed.py",
      "return slice(start, start + base + (1 if self.rank < extra else 0))",
      "return slice(0, n)", DISTRIBUTED),
    m("ddsp training: noise from the global RNG, not the step's", "ddsp/train.py",
      "generator=step_generator(seed, step),", "generator=None,", DISTRIBUTED + RESUME),
    m("ddsp training: one process's loss logged as the batch's", "ddsp/train.py",
      "return placement.mean_of_shares(float", "return (float", DISTRIBUTED),
    m("melody training: each process draws its own dropout", "melody_rnn/train.py",
      "logits, _ = model(inputs, dropout_masks=local_masks)", "logits, _ = model(inputs)",
      DISTRIBUTED),
    m("melody training: resume ignores the saved weights", "melody_rnn/train.py",
      '    if "model" in state:\n        model.load_state_dict(state["model"])',
      '    if "model" in state:\n        pass', RESUME),
    m("training: a half-written state is left behind", "training/run.py",
      "                leftover.unlink(missing_ok=True)", "                pass", RESUME),
    m("--force: the old model is not put back when the data fails", "training/output.py",
      "            os.replace(aside, out)\n", "            pass\n", RESUME),
    m("--slurm: a resubmitted job starts over", "training/slurm.py",
      "then resume=(--resume); fi", "then resume=(); fi", SLURM),
    m("melody training: the bigram baseline not logged", "melody_rnn/train.py",
      '                    scalars["validation/bigram_nll"] = baseline.nll\n', "", BOARD),
    m("ddsp training: no resynthesis example logged", "ddsp/train.py",
      "                log_example(run.tb, model, example, step)", "                pass", BOARD),
    # ----- SampleRNN
    m("samplernn import: GRU gates left in Keras order", "samplernn/convert.py",
      "    return np.concatenate([r, z, h])", "    return np.concatenate([z, r, h])",
      SRN_IMPORT),
    m("samplernn import: LSTM's Keras bias dropped", "samplernn/convert.py",
      '                out[f"{torch_name}.bias_ih_l0"] = bias\n',
      '                out[f"{torch_name}.bias_ih_l0"] = np.zeros_like(bias)\n', SRN_IMPORT),
    m("samplernn: frame tier reads the current frame (sees the future)", "samplernn/model.py",
      "frame_out, frame_state = self.frame_rnn(x[:, big - fs:-fs], big_out, frame_state)",
      "frame_out, frame_state = self.frame_rnn(x[:, big:], big_out, frame_state)", SRN),
    m("samplernn generate: the seed is not fed through the tiers", "samplernn/generate.py",
      "        history[:, n_known - seed_codes.shape[1]:n_known] = seed_codes\n", "", SRN),
    m("samplernn kernel: the draw ignores the temperature", "samplernn/_fast.c",
      "            double temperature = temps[b * N + i];",
      "            double temperature = 1.0;", SRN),
    m("samplernn envelope: curves bend the other way", "samplernn/envelope.py",
      "return a + (b - a) * (1.0 - np.exp(c * x)) / (1.0 - math.exp(c))",
      "return a + (b - a) * (1.0 - np.exp(-c * x)) / (1.0 - math.exp(-c))", SRN),
    m("samplernn Pd object: --out_sr only sets the count (the course's bug)", "pd/samplernn.py",
      "        if round(out_rate) != rate:", "        if False:", SRN_PD),
    m("samplernn Pd object: the last temperature not repeated", "pd/samplernn.py",
      "        temps += [temps[-1]] * (len(outs) - len(temps))",
      "        temps += [1.0] * (len(outs) - len(temps))", SRN_PD),
    m("samplernn train: the RNN state reset every subsequence", "samplernn/train.py",
      "                if sub == 0:\n                    rnn_state = None",
      "                if True:\n                    rnn_state = None", SRN_TRAIN),
    m("data: few files split by file", "data/examples.py",
      "return 0 < validation_fraction < 1 and n_files * validation_fraction < 1 - 1e-9",
      "return False", ("tests/data/test_examples.py",)),
    # ----- RAVE
    m("rave stream: inputs decimated from the first sample of each ratio", "rave/stream.py",
      "x.reshape(p.in_channels, -1, p.in_ratio)[:, :, -1]",
      "x.reshape(p.in_channels, -1, p.in_ratio)[:, :, 0]", RAVE),
    m("rave stream: outputs tiled instead of held", "rave/stream.py",
      "y = np.repeat(y, p.out_ratio, axis=1)", "y = np.tile(y, (1, p.out_ratio))", RAVE),
    m("rave stream: one sample too few held back after resampling", "rave/stream.py",
      "        return int(short)", "        return int(short) - 1", RAVE),
    m("rave model: a bool attribute set from any text as True", "rave/model.py",
      '            if value.lower() in ("true", "false"):', '            if True:', RAVE),
    m("rave info: in and out channels swapped", "rave/model.py",
      "            methods[str(name)] = MethodParams(*(int(v) for v in params))",
      "            methods[str(name)] = MethodParams(*(int(v) for v in params[[2, 1, 0, 3]]))",
      RAVE),
    m("[rave~]: enable 0 still plays", "pd/rave.py",
      "        if stream is None or not self.enabled:", "        if stream is None:", RAVE_PD),
    m("[rave~]: set without the lock, and not applied", "pd/rave.py",
      "            model.set(name, list(values))", "            pass", RAVE_PD),
    m("[rave~]: a loaded model is never swapped in", "pd/rave.py",
      "            self.stream = self._new_stream(model, x.shape[1])\n        stream = self.stream",
      "            pass\n        stream = self.stream", RAVE_PD),
    m("rave training: resume starts over", "rave/train.py",
      "                ckpt_path=str(out / STATE_FILE) if resume else None)",
      "                ckpt_path=None)", RAVE_TRAIN),
    # ----- GANSynth training on a CPU
    m("gansynth cpu schedule: starts at the third block", "gansynth/train.py",
      "CPU_START_BLOCKS = 4", "CPU_START_BLOCKS = 3", GS_TRAIN),
    m("gansynth weighted schedule: a skipped phase still trains", "gansynth/train.py",
      "            if max(0, images) < start + length:",
      "            if max(0, images) <= start + length:", GS_TRAIN),
    m("gansynth classifier warm-up: the discriminator never steps", "gansynth/train.py",
      "        loss.backward()\n        opt_d.step()\n        recent.append",
      "        loss.backward()\n        recent.append", GS_TRAIN),
    m("gansynth harmonic loss: the instantaneous frequency term dropped", "gansynth/train.py",
      "    return (outside - inside + (if_error * where).sum(-1) / marked).mean()",
      "    return (outside - inside).mean()", GS_HARMONIC),
    m("gansynth harmonic map: the generator gets zeros", "gansynth/model.py",
      "                where = one_hot.to(x.dtype) @ block.harmonics.to(x.dtype)",
      "                where = 0 * one_hot.to(x.dtype) @ block.harmonics.to(x.dtype)",
      GS_HARMONIC),
    m("gansynth harmonic map: harmonics a bin off", "gansynth/model.py",
      "    position = harmonics / nyquist * n_freq - 1\n",
      "    position = harmonics / nyquist * n_freq\n", GS_HARMONIC),
    m("gansynth init-from: the normaliser is fitted again", "gansynth/train.py",
      "fit=state is None and start is None)", "fit=state is None)", GS_FINETUNE),
    m("gansynth init-from: the model grows again from the first block", "gansynth/train.py",
      "            weights = [0.0] * (2 * config.blocks - 2) + [1.0]",
      "            weights = []", GS_FINETUNE),
    m("gansynth init-from: the run's discriminator is left out", "gansynth/train.py",
      "        if self.model is not None:\n            model.load_state_dict",
      "        if False:\n            model.load_state_dict", GS_FINETUNE),
    m("gansynth init-from: the weights are not loaded", "gansynth/train.py",
      "        start.load_into(model)\n", "        pass\n", GS_FINETUNE),
    m("gansynth grown blocks: the model plays every block", "gansynth/model.py",
      "        last = self.config.blocks - 1\n",
      "        last = self.config.num_resolutions - 1\n", GS_BLOCKS),
    m("gansynth grown blocks: the schedule grows every block", "gansynth/train.py",
      "if weights else Schedule.sized(config.blocks, images, batch_size))",
      "if weights else Schedule.sized(config.num_resolutions, images, batch_size))", GS_BLOCKS),
    m("gansynth grown blocks: fine-tuned at the top of every block", "gansynth/train.py",
      "            weights = [0.0] * (2 * config.blocks - 2) + [1.0]",
      "            weights = [0.0] * (2 * config.num_resolutions - 2) + [1.0]", GS_BLOCKS),
    m("gansynth grown blocks: GANSpace offers the blocks it does not play",
      "gansynth/ganspace.py", "for b in range(1, config.blocks + 1) for i in (0, 1)]",
      "for b in range(1, config.num_resolutions + 1) for i in (0, 1)]", GS_BLOCKS),
    m("gansynth pitch sampling: uniform draws as the data do", "gansynth/train.py",
      '    pool = torch.unique(labels) if sampling == "uniform" else labels\n',
      "    pool = labels\n", GS_FINETUNE),
    m("gansynth --learning-rate: not passed on", "gansynth/cli.py",
      "                                   learning_rate=args.learning_rate,\n",
      "                                   learning_rate=8e-4,\n", GS_FINETUNE),
    m("gansynth harmonic loss: partial frequency as a plain time mean", "gansynth/train.py",
      "    weights = torch.exp(PARTIAL_WEIGHT_SHARPNESS * images[:, 0].detach().float())\n",
      "    weights = torch.ones_like(images[:, 0].float())\n", GS_HARMONIC),
    m("gansynth harmonic loss: weights differentiated", "gansynth/train.py",
      "    weights = torch.exp(PARTIAL_WEIGHT_SHARPNESS * images[:, 0].detach().float())\n",
      "    weights = torch.exp(PARTIAL_WEIGHT_SHARPNESS * images[:, 0].float())\n", GS_HARMONIC),
    m("gansynth bench: multiply-adds without the phases' border", "benchmarks/gansynth.py",
      "                border = (1 - half) // 2 - (-half) // 2\n", "                border = 0\n",
      ("tests/gansynth/test_gansynth_arithmetic.py",)),
]


def applies(mutation: Mutation, text: str) -> int:
    return text.count(mutation.old)


def copy_tree(work: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info",
                                    "build")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=ignore)
        else:
            shutil.copy2(source, work / name)


def first_failure(output: str) -> str:
    for pattern in (r"^FAILED (\S+)", r"^ERROR (\S+)", r"_{3,} (test\S*) _{3,}"):
        found = re.search(pattern, output, re.MULTILINE)
        if found:
            return found.group(1)
    return "pytest failed (see its output)"


def pytest_command(mutation: Mutation, work: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(work / "src"), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DLWA_REQUIRE_PD", None)
    marks = [] if mutation.in_pd else ["-m", "not pd"]
    if mutation.in_pd:
        env["DLWA_REQUIRE_PD"] = "1"  # the copy's tests build the copy's external
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *marks,
               *mutation.tests]
    return command, env


def baseline_failures(mutations: list[Mutation], work: Path) -> dict[tuple[str, ...], str]:
    """Each distinct test set run once without a mutation: a set that already fails would
    count every mutation as caught, so those are reported instead."""
    failing: dict[tuple[str, ...], str] = {}
    for tests in dict.fromkeys((mu.tests, mu.in_pd) for mu in mutations):
        mutation = next(mu for mu in mutations if (mu.tests, mu.in_pd) == tests)
        command, env = pytest_command(mutation, work)
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
        if done.returncode != 0:
            failing[mutation.tests] = first_failure(done.stdout)
    return failing


def build_extensions(work: Path) -> None:
    """Rebuild the copy's C extensions in place (setup.py: SampleRNN's kernel)."""
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace", "--force"],
                   cwd=work, capture_output=True, check=True)


def run(mutation: Mutation, work: Path) -> tuple[str, str, float]:
    """Apply ``mutation`` in the copy, run its tests, restore: (verdict, detail, seconds)."""
    target = work / mutation.root / mutation.path
    original = target.read_text()
    count = applies(mutation, original)
    if count != 1:
        return "does not apply", f"found {count} times", 0.0
    command, env = pytest_command(mutation, work)
    start = time.monotonic()
    extension = mutation.root == "src/dlwa" and mutation.path.endswith(".c")
    try:
        target.write_text(original.replace(mutation.old, mutation.new))
        if extension:  # the copy's compiled module must hold the mutation
            build_extensions(work)
        try:
            done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return "caught", f"timeout after {TIMEOUT_S} s", time.monotonic() - start
    finally:
        target.write_text(original)
        if extension:
            build_extensions(work)
    seconds = time.monotonic() - start
    if done.returncode == 0:
        return "MISSED", "", seconds
    if done.returncode in (1,):
        return "caught", first_failure(done.stdout), seconds
    return "caught", f"pytest exit {done.returncode}: {first_failure(done.stdout)}", seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only mutations whose name contains this")
    parser.add_argument("--list", action="store_true", help="check they apply; run nothing")
    args = parser.parse_args(argv)
    chosen = [mu for mu in MUTATIONS if args.k in mu.name]
    bad = 0
    with tempfile.TemporaryDirectory(prefix="dlwa-mutation-") as tmp:
        work = Path(tmp)
        copy_tree(work)
        check = subprocess.run(
            [sys.executable, "-c", "import dlwa; print(dlwa.__file__)"], cwd=work,
            env={**os.environ, "PYTHONPATH": str(work / "src")}, capture_output=True,
            text=True, check=True)
        if not check.stdout.strip().startswith(str(work)):
            print(f"the copy is not imported (got {check.stdout.strip()})", file=sys.stderr)
            return 2
        failing = {} if args.list else baseline_failures(chosen, work)
        for tests, test in failing.items():
            print(f"baseline fails: {test} (tests {' '.join(tests)}): fix it first",
                  file=sys.stderr)
        if failing:
            return 2
        print("| # | mutation | file | result | caught by | s |")
        print("|---|---|---|---|---|---|")
        for i, mutation in enumerate(chosen, 1):
            if args.list:
                count = applies(mutation, (work / mutation.root / mutation.path).read_text())
                verdict, detail, seconds = ("applies" if count == 1 else "does not apply",
                                            f"found {count} times", 0.0)
            else:
                verdict, detail, seconds = run(mutation, work)
            bad += verdict not in ("caught", "applies")
            print(f"| {i} | {mutation.name} | {mutation.root}/{mutation.path} | {verdict} | "
                  f"{detail} | {seconds:.0f} |", flush=True)
    print(f"\n{len(chosen)} mutations, {bad} missed or not applicable", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
