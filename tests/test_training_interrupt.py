"""Ctrl-C during training saves the run, says how to resume, and the run resumes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa import checkpoints
from dlwa.audio.io import save_audio
from dlwa.ddsp import train as ddsp_train
from dlwa.ddsp.model import DDSPConfig
from dlwa.melody_rnn import train as melody_train
from dlwa.melody_rnn.model import get_config

SR = 16000
TINY = DDSPConfig(rnn_channels=16, ch=16, layers_per_stack=1, n_harmonics=8, n_noise_bands=9,
                  reverb_length=256)
RESUME_LINE = "saved; run the same command with --resume to continue"


def tones(duration_s: float, seed: int) -> np.ndarray:
    """Harmonic notes with short gaps: pitched, monophonic audio to train on."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    pitches = 60 + rng.integers(0, 12, size=int(np.ceil(duration_s / 0.25)))
    f0 = 440.0 * 2 ** ((pitches[(t // 0.25).astype(int)] - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.minimum(1.0, (t % 0.25) / 0.01) * ((t % 0.25) < 0.22)
    return (0.3 * tone * envelope).astype(np.float32)


def interrupt_at(module, name: str, monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    """Make the ``call``-th call (from 1) of ``module.name`` raise KeyboardInterrupt."""
    real = getattr(module, name)
    calls = []

    def step(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, step)


def test_ddsp_interrupt_saves_and_resumes(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "audio"
    folder.mkdir()
    for i in range(3):
        save_audio(folder / f"take{i}.wav", tones(2.5, i), sample_rate=SR)
    out = tmp_path / "run"
    config = ddsp_train.TrainConfig(n_steps=6, batch_size=2, example_s=1.0, save_every=2)
    interrupt_at(ddsp_train, "training_step", monkeypatch, call=4)  # in step 4: 3 are done
    logs: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        ddsp_train.train(folder, out, model_config=TINY, train_config=config, log=logs.append)
    monkeypatch.undo()
    assert f"interrupted at step 3: {RESUME_LINE}" in logs
    assert f"saved step 2 to {out}" in logs  # periodic saves are reported
    assert torch.load(out / ddsp_train.STATE_FILE, weights_only=False)["step"] == 3
    assert checkpoints.read_config(out)["training"]["steps"] == 3
    logs.clear()
    ddsp_train.train(folder, out, train_config=config, log=logs.append, resume=True)
    assert logs[0].startswith("resuming from step 3")
    assert torch.load(out / ddsp_train.STATE_FILE, weights_only=False)["step"] == 6


def test_melody_rnn_interrupt_saves_and_resumes(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    melodies = []
    for _ in range(12):
        melody = np.full(64, -2, dtype=np.int64)
        melody[::2] = rng.choice([60, 62, 64, 65, 67], 32)
        melodies.append(melody)
    config = get_config("basic_rnn", layer_sizes=(8,))
    options = melody_train.TrainOptions(n_updates=8, batch_size=4, eval_every=4)
    out = tmp_path / "m"
    interrupt_at(melody_train, "_update", monkeypatch, call=6)  # 5 updates are done
    logs: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        melody_train.train(melodies[:10], melodies[10:], config=config, out=out,
                           options=options, log=logs.append)
    monkeypatch.undo()
    assert f"interrupted at step 5: {RESUME_LINE}" in logs
    assert f"saved step 4 to {out}" in logs  # periodic saves are reported
    assert torch.load(out / melody_train.STATE_FILE, weights_only=True)["update"] == 5
    assert checkpoints.read_config(out)["training"]["updates"] == 5
    logs.clear()
    melody_train.train(melodies[:10], melodies[10:], config=config, out=out, options=options,
                       log=logs.append, resume=True)
    assert logs[0] == f"resuming {out} at update 5"
    assert checkpoints.read_config(out)["training"]["updates"] == 8


def test_progress_bar_on_a_terminal_and_lines_at_saves(tmp_path: Path, monkeypatch,
                                                       capsys) -> None:
    """A tqdm bar (count/total, loss, ETA) on stderr; a progress line at each save."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    melodies = [np.tile(np.array([60, -2, 64, -2, 67, -2, -1, -2]), 8) for _ in range(8)]
    config = get_config("basic_rnn", layer_sizes=(8,))
    options = melody_train.TrainOptions(n_updates=4, batch_size=4, eval_every=2,
                                        max_minutes=60)
    logs: list[str] = []
    melody_train.train(melodies[:6], melodies[6:], config=config, out=tmp_path / "m",
                       options=options, log=logs.append)
    bar = capsys.readouterr().err
    assert "4/4" in bar and "loss" in bar and "60 min cap" in bar
    progress = [line for line in logs if line.startswith("update ")]
    assert [line.split()[1] for line in progress] == ["2/4", "4/4"]
    assert all("ETA" in line and "the 60 min cap stops it in" in line for line in progress)


def test_sigterm_interrupts_a_training_command_like_ctrl_c(monkeypatch, capsys) -> None:
    """`kill` (SIGTERM) reaches a training run as KeyboardInterrupt, so it saves and says
    how to resume (background runs ignore Ctrl-C's SIGINT). SIGUSR1 stands in for SIGTERM,
    so that a missing handler records the signal instead of ending the test run."""
    import os
    import signal

    from dlwa import cli
    from dlwa.training import interrupted_by_sigterm

    seen = []
    monkeypatch.setattr(signal, "SIGTERM", signal.SIGUSR1)
    previous = signal.signal(signal.SIGUSR1, lambda *_: seen.append("not interrupted"))
    try:
        def handler(args):
            seen.append(args.command)
            os.kill(os.getpid(), signal.SIGTERM)
            return 0

        parser = cli.build_parser()
        args = parser.parse_args(["train", "gansynth", "data", "--out", "o"])
        args.handler = handler
        monkeypatch.setattr(parser, "parse_args", lambda argv=None: args)
        monkeypatch.setattr(cli, "build_parser", lambda: parser)
        assert cli.main(["train"]) == 130
        assert "interrupted" in capsys.readouterr().err and seen == ["train"]
        with pytest.raises(KeyboardInterrupt), interrupted_by_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # the handler from before is back
        assert seen == ["train", "not interrupted"]
    finally:
        signal.signal(signal.SIGUSR1, previous)
