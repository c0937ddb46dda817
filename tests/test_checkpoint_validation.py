"""Corrupt checkpoints: every variant is one clear line, never a traceback (issue #13, item 5).

Each variant is written into a fresh copy of a shipped checkpoint (``ddsp_violin``,
``melody_rnn_basic``) and loaded three ways: the library loader must raise CheckpointError
with one line naming the file and the field; ``dlwa transfer ddsp`` / ``dlwa generate
melody_rnn`` must exit non-zero with exactly one ``error`` line; the Pd object (headless
stand-in) must answer ``load <dir>`` with one ``error`` reply and still load a good model.
A handful of variants also go through real Pd in one batch run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from dlwa import checkpoints, cli, pd_runner
from dlwa.checkpoints import CheckpointError
from dlwa.ddsp.model import load_model
from dlwa.melody_rnn.generate import load_generator
from dlwa.pd import melody_rnn, standin, timbre_transfer

DDSP, MELODY = "ddsp_violin", "melody_rnn_basic"
CONFIG, WEIGHTS, STATS = "config.json", "weights.safetensors", "dataset_statistics.json"
GONE = object()  # a value that deletes the key


# ----- corruptions: each takes the checkpoint directory and damages one thing


def config_key(key: str, value: object) -> Callable[[Path], None]:
    """Set (or delete, with GONE) ``config.<key>`` in config.json."""
    return meta_key(key, value, section="config")


def meta_key(key: str, value: object, section: str | None = None) -> Callable[[Path], None]:
    def mutate(path: Path) -> None:
        meta = json.loads((path / CONFIG).read_text())
        target = meta[section] if section else meta
        if value is GONE:
            del target[key]
        else:
            target[key] = value
        (path / CONFIG).write_text(json.dumps(meta))  # NaN is written as NaN
    return mutate


def config_text(text: str) -> Callable[[Path], None]:
    return lambda path: (path / CONFIG).write_text(text)


def tensors(change: Callable[[dict[str, torch.Tensor]], None]) -> Callable[[Path], None]:
    def mutate(path: Path) -> None:
        state = load_file(path / WEIGHTS)
        change(state)
        save_file(state, path / WEIGHTS)
    return mutate


def tensor(name: str, change: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Path], None]:
    def apply(state: dict[str, torch.Tensor]) -> None:
        state[name] = change(state[name]).contiguous()
    return tensors(apply)


def poke(value: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def change(t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        t.view(-1)[3] = value
        return t
    return change


def stats_key(key: str, value: object) -> Callable[[Path], None]:
    def mutate(path: Path) -> None:
        stats = json.loads((path / STATS).read_text())
        if value is GONE:
            del stats[key]
        else:
            stats[key] = value
        (path / STATS).write_text(json.dumps(stats))
    return mutate


def write_bytes(name: str, data: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    return lambda path: (path / name).write_bytes(data((path / name).read_bytes()))


def deeply_nested(path: Path) -> None:
    depth = 100_000
    (path / CONFIG).write_text('{"kind": "ddsp", "format_version": 1, "config": {}, '
                               '"training": ' + "[" * depth + "]" * depth + "}")


def huge_config(path: Path) -> None:
    text = (path / CONFIG).read_text()
    (path / CONFIG).write_text(text[:-2] + " " * (checkpoints.MAX_JSON_BYTES + 1) + text[-2:])


def drop(name: str) -> Callable[[dict[str, torch.Tensor]], None]:
    return lambda state: state.pop(name)


@dataclass(frozen=True)
class Variant:
    id: str
    base: str
    mutate: Callable[[Path], None]
    file: str  # the file the message must name
    says: str  # a piece of the message naming the field and what is expected


F0_W = "decoder.f0_stack.0.weight"  # [128, 1] in the shipped violin
GRU_W = "decoder.rnn.weight_ih_l0"
OUT_W = "output.weight"  # MelodyRNN's last layer

VARIANTS = [
    # DDSP config fields: type, range, relations, missing and unknown keys
    Variant("ch-string", DDSP, config_key("ch", "abc"), CONFIG,
            'config.ch must be an integer from 1 to 4096, got "abc"'),
    Variant("ch-fraction", DDSP, config_key("ch", 127.5), CONFIG, "config.ch must be an integer"),
    Variant("ch-nan", DDSP, config_key("ch", float("nan")), CONFIG, "config.ch must be an integer"),
    Variant("ch-negative", DDSP, config_key("ch", -5), CONFIG, "got -5"),
    Variant("ch-1e7-float", DDSP, config_key("ch", 1e7), CONFIG, "config.ch must be an integer"),
    Variant("ch-1e7", DDSP, config_key("ch", 10_000_000), CONFIG, "from 1 to 4096, got 10000000"),
    Variant("frame-rate-0", DDSP, config_key("frame_rate", 0), CONFIG,
            "config.frame_rate must be an integer from 1 to 1000, got 0"),
    Variant("frame-rate-not-dividing", DDSP, config_key("frame_rate", 7), CONFIG,
            "config.frame_rate must be a divisor of sample_rate 16000"),
    Variant("sample-rate-0", DDSP, config_key("sample_rate", 0), CONFIG,
            "config.sample_rate must be an integer from 1000 to 384000, got 0"),
    Variant("n-harmonics-0", DDSP, config_key("n_harmonics", 0), CONFIG,
            "config.n_harmonics must be an integer from 1 to 1024, got 0"),
    Variant("n-harmonics-missing", DDSP, config_key("n_harmonics", GONE), CONFIG,
            "config.n_harmonics is missing"),
    Variant("n-harmonics-other-model", DDSP, config_key("n_harmonics", 60), WEIGHTS,
            "tensor 'decoder.dense_out.weight' has shape [114, 128], the model expects "
            "[126, 128]"),
    Variant("reverb-string", DDSP, config_key("reverb", "yes"), CONFIG,
            "config.reverb must be true or false"),
    Variant("unknown-key", DDSP, config_key("colour", 3), CONFIG, "unknown key 'config.colour'"),
    # DDSP config.json as a whole
    Variant("config-missing", DDSP, meta_key("config", GONE), CONFIG, "has no 'config'"),
    Variant("config-a-list", DDSP, meta_key("config", [1, 2]), CONFIG,
            "config must be a JSON object, got a list"),
    Variant("sample-rate-string", DDSP, meta_key("sample_rate", "16k"), CONFIG,
            'sample_rate must be an integer number of Hz'),
    Variant("sample-rate-disagrees", DDSP, meta_key("sample_rate", 22050), CONFIG,
            "sample_rate must equal config.sample_rate (16000), got 22050"),
    Variant("kind-other", DDSP, meta_key("kind", "melody_rnn"), CONFIG,
            "kind is 'melody_rnn': this is a 'melody_rnn' checkpoint, not 'ddsp'"),
    Variant("training-a-string", DDSP, meta_key("training", "x"), CONFIG,
            "training must be a JSON object"),
    Variant("tracker-unknown", DDSP, meta_key("tracker", "pesto", section="training"), CONFIG,
            'training.tracker must be one of "yin"'),
    Variant("extras-a-string", DDSP, meta_key("extras", "abc"), CONFIG,
            "extras must be a list of file names"),
    Variant("extras-escape", DDSP, meta_key("extras", ["../x.json"]), CONFIG,
            "extras must be a list of file names"),
    Variant("not-json", DDSP, config_text("{ nope"), CONFIG, "is not valid JSON"),
    Variant("deeply-nested", DDSP, deeply_nested, CONFIG, "nested too deeply"),
    Variant("huge-config", DDSP, huge_config, CONFIG,
            "more than the 8388608 a dlwa JSON file may have"),
    # DDSP weights
    Variant("transposed", DDSP, tensor(F0_W, lambda t: t.T), WEIGHTS,
            f"tensor '{F0_W}' has shape [1, 128], the model expects [128, 1]"),
    Variant("nan-weight", DDSP, tensor(GRU_W, poke(float("nan"))), WEIGHTS,
            f"tensor '{GRU_W}' holds NaN (1 of "),
    Variant("inf-weight", DDSP, tensor(GRU_W, poke(float("inf"))), WEIGHTS,
            f"tensor '{GRU_W}' holds infinity"),
    Variant("3e38-weight", DDSP, tensor(GRU_W, poke(3e38)), WEIGHTS,
            f"tensor '{GRU_W}' holds values up to 3e+38"),
    Variant("int8-cast", DDSP, tensor(GRU_W, lambda t: t.to(torch.int8)), WEIGHTS,
            f"tensor '{GRU_W}' has dtype int8, the model expects float32"),
    Variant("float16-cast", DDSP, tensors(lambda s: s.update(
        {k: v.half() for k, v in s.items()})), WEIGHTS, "has dtype float16"),
    Variant("tensor-missing", DDSP, tensors(drop(F0_W)), WEIGHTS, f"missing keys: {F0_W}"),
    Variant("tensor-extra", DDSP, tensors(lambda s: s.update(extra=torch.zeros(2))), WEIGHTS,
            "unexpected keys: extra"),
    Variant("weights-truncated", DDSP, write_bytes(WEIGHTS, lambda b: b[: len(b) // 2]),
            WEIGHTS, "is not a valid safetensors file"),
    Variant("weights-huge", DDSP, write_bytes(WEIGHTS, lambda b: b + bytes(17 * 2**20)),
            WEIGHTS, "far more than the"),
    # DDSP dataset statistics
    Variant("stats-mean-string", DDSP, stats_key("mean_pitch_midi", "abc"), STATS,
            'mean_pitch_midi must be a finite number from 0 to 127, got "abc"'),
    Variant("stats-mean-missing", DDSP, stats_key("mean_pitch_midi", GONE), STATS,
            "mean_pitch_midi is missing"),
    Variant("stats-quantile-nan", DDSP, stats_key("loudness_quantiles_db", [-50, float("nan")]),
            STATS, "loudness_quantiles_db[1] must be a finite number"),
    Variant("stats-quantiles-number", DDSP, stats_key("loudness_quantiles_db", 3), STATS,
            "loudness_quantiles_db must be a list of at least 2 items"),
    Variant("stats-quantiles-decreasing", DDSP, stats_key("loudness_quantiles_db", [0, -10]),
            STATS, "loudness_quantiles_db must be non-decreasing"),
    Variant("stats-unknown-key", DDSP, stats_key("colour", 1), STATS, "unknown key 'colour'"),
    Variant("stats-a-list", DDSP, lambda p: (p / STATS).write_text("[1]"), STATS,
            "must hold a JSON object"),
    Variant("stats-file-gone", DDSP, lambda p: (p / STATS).unlink(), "",
            "extra files listed in config.json are missing: dataset_statistics.json"),
    # MelodyRNN
    Variant("layer-sizes-string", MELODY, config_key("layer_sizes", "abc"), CONFIG,
            "config.layer_sizes must be a list of 1 to 8 items, each an integer from 1 to 4096"),
    Variant("layer-size-0", MELODY, config_key("layer_sizes", [128, 0]), CONFIG,
            "config.layer_sizes[1] must be an integer from 1 to 4096, got 0"),
    Variant("layer-sizes-empty", MELODY, config_key("layer_sizes", []), CONFIG,
            "config.layer_sizes must be a list of 1 to 8 items"),
    Variant("encoding-unknown", MELODY, config_key("encoding", "bogus"), CONFIG,
            'config.encoding must be one of "one_hot", "lookback", "key", got "bogus"'),
    Variant("min-note-above-max", MELODY, config_key("min_note", 90), CONFIG,
            "config.max_note must be above min_note 90, got 84"),
    Variant("max-note-200", MELODY, config_key("max_note", 200), CONFIG,
            "config.max_note must be an integer from 1 to 128, got 200"),
    Variant("attn-length-negative", MELODY, config_key("attn_length", -1), CONFIG,
            "config.attn_length must be an integer from 0 to 1024, got -1"),
    Variant("key-12", MELODY, config_key("transpose_to_key", 12), CONFIG,
            "config.transpose_to_key must be an integer from 0 to 11 or null, got 12"),
    Variant("steps-per-quarter-8", MELODY, config_key("steps_per_quarter", 8), CONFIG,
            "config.steps_per_quarter must be 4 (16th notes, the grid dlwa plays on), got 8"),
    Variant("keep-prob-0", MELODY, config_key("dropout_keep_prob", 0), CONFIG,
            "config.dropout_keep_prob must be a finite number > 0 and <= 1, got 0"),
    Variant("name-missing", MELODY, config_key("name", GONE), CONFIG, "config.name is missing"),
    Variant("melody-config-missing", MELODY, meta_key("config", GONE), CONFIG,
            "has no 'config'"),
    Variant("melody-other-sizes", MELODY, config_key("layer_sizes", [64, 64]), WEIGHTS,
            "the model expects"),
    Variant("melody-nan-weight", MELODY, tensor(OUT_W, poke(float("nan"))), WEIGHTS,
            f"tensor '{OUT_W}' holds NaN"),
    Variant("melody-3e38-weight", MELODY, tensor(OUT_W, poke(3e38)), WEIGHTS,
            f"tensor '{OUT_W}' holds values up to 3e+38"),
    Variant("melody-int8-cast", MELODY, tensors(lambda s: s.update(
        {k: v.to(torch.int8) for k, v in s.items()})), WEIGHTS, "has dtype int8"),
]
PD_VARIANTS = {  # through real Pd: a handful, in one run
    DDSP: ["ch-string", "frame-rate-0", "n-harmonics-missing", "transposed", "nan-weight",
           "deeply-nested", "stats-mean-string"],
    MELODY: ["layer-sizes-string", "melody-nan-weight", "melody-config-missing"],
}
BY_ID = {v.id: v for v in VARIANTS}


def corrupt(variant: Variant, folder: Path) -> Path:
    """A copy of the variant's shipped checkpoint in ``folder``, damaged."""
    path = folder / variant.id
    shutil.copytree(checkpoints.PROJECT_CHECKPOINTS / variant.base, path)
    variant.mutate(path)
    return path


def load(variant: Variant, path: Path) -> object:
    return load_model(path) if variant.base == DDSP else load_generator(path)


def named(variant: Variant, path: Path) -> str:
    """The file the message must name."""
    return str(path / variant.file) if variant.file else str(path)


def check_message(text: str, variant: Variant, path: Path) -> None:
    assert "\n" not in text and "Traceback" not in text, text
    assert named(variant, path) in text, (named(variant, path), text)
    assert variant.says in text, (variant.says, text)


def check_pd_reply(reply: str, variant: Variant, path: Path) -> None:
    """A Pd ``error`` reply: atoms, so only the file and the first word of the text are checked
    (Pd escapes commas inside symbols)."""
    assert reply.startswith("error ") and named(variant, path) in reply, reply
    assert variant.says.split()[0] in reply, (variant.says, reply)


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("in") / "in.wav"
    t = np.arange(8000) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    return path


def cli_args(variant: Variant, path: Path, wav: Path, tmp_path: Path) -> list[str]:
    if variant.base == DDSP:
        return ["transfer", "ddsp", "--model", str(path), str(wav), str(tmp_path / "out.wav")]
    return ["generate", "melody_rnn", "--model", str(path), "--bars", "1",
            "--out", str(tmp_path / "out.mid")]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_corrupt_checkpoint_is_one_clear_line(variant: Variant, tmp_path: Path, wav: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = corrupt(variant, tmp_path)
    # (a) the library
    with pytest.raises(CheckpointError) as info:
        load(variant, path)
    check_message(str(info.value), variant, path)
    # (b) the command line: exit 2, one line on stderr, nothing written
    assert cli.main(cli_args(variant, path, wav, tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dlwa "), err
    check_message(err.strip(), variant, path)
    assert not list(tmp_path.glob("out.*"))
    # (c) the Pd object (headless): one error reply, then a good model still loads
    standin.reset()
    module, good = (timbre_transfer, "violin") if variant.base == DDSP else (
        melody_rnn, MELODY)
    obj = standin.create(module, canvas_dir=tmp_path)
    standin.send_message(obj, 1, f"load {path}")
    replies = standin.outputs(obj)
    assert len(replies) == 1, replies
    check_pd_reply(replies[0], variant, path)
    standin.send_message(obj, 1, f"load {good}")
    assert standin.outputs(obj)[-1].startswith("loaded "), "a good model loads after"
    assert "Traceback" not in capsys.readouterr().err
    standin.reset()


def test_every_shipped_checkpoint_passes() -> None:
    from dlwa.gansynth.model import load_model as load_gansynth
    from dlwa.rave.model import NNModel, find_model
    from dlwa.samplernn.model import load_model as load_samplernn

    def load_rave(name: str) -> NNModel:  # a RAVE model is its nn~ TorchScript file
        return NNModel(find_model(checkpoints.PROJECT_CHECKPOINTS / name))

    loaders = {"ddsp": load_model, "melody_rnn": load_generator, "gansynth": load_gansynth,
               "samplernn": load_samplernn, "rave": load_rave}
    names = checkpoints.list_checkpoints(checkpoints.PROJECT_CHECKPOINTS)
    assert len(names) >= 7
    for name in names:
        kind = checkpoints.read_config(checkpoints.PROJECT_CHECKPOINTS / name)["kind"]
        loaders[kind](name)  # a new kind must say how it loads
    assert load_model(DDSP, quantize=True).model.decoder is not None  # --int8: cast at load


def test_cli_process_prints_no_traceback(tmp_path: Path, wav: Path) -> None:
    variant = BY_ID["transposed"]  # a torch size mismatch was a 39-line dump
    path = corrupt(variant, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "dlwa", *cli_args(variant, path, wav, tmp_path)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    check_message(proc.stderr.strip(), variant, path)


@pytest.mark.pd
def test_real_pd_objects_answer_one_error_line_then_load(pd_external: Path,
                                                         tmp_path: Path) -> None:
    patch = pd_runner.Patch()
    for receiver, module, printer in (("ck-tt", "timbre_transfer", "tt"),
                                      ("ck-mr", "melody_rnn", "mr")):
        r = patch.obj(f"r {receiver}")
        obj = patch.obj(f"pyext. dlwa.pd {module}")
        p = patch.obj(f"print {printer}")
        patch.connect(r, 0, obj, 1)
        patch.connect(obj, 0, p, 0)
    send, paths = [], {}
    for base, receiver, good in ((DDSP, "ck-tt", "violin"), (MELODY, "ck-mr", MELODY)):
        for variant_id in PD_VARIANTS[base]:
            paths[variant_id] = corrupt(BY_ID[variant_id], tmp_path)
            send.append(f"{receiver} load {paths[variant_id]}")
        send.append(f"{receiver} load {good}")
    send.append("pd quit")
    run = pd_runner.run_patch(patch.write(tmp_path / "corrupt.pd"), timeout_s=120,
                              send=send).check()
    assert "Traceback" not in run.output, run.output
    for printer, base, loaded in (("tt", DDSP, "loaded ddsp_violin"),
                                  ("mr", MELODY, f"loaded {MELODY}")):
        replies = run.printed(printer)
        assert len(replies) == len(PD_VARIANTS[base]) + 1, run.output
        for reply, variant_id in zip(replies, PD_VARIANTS[base]):
            check_pd_reply(reply, BY_ID[variant_id], paths[variant_id])
        assert replies[-1] == loaded, run.output
