"""Training (smoke test, resume, held-out split) and the dlwa CLI on generated MIDI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlwa import checkpoints
from dlwa.cli import main
from dlwa.melody_rnn.data import load_melodies
from dlwa.melody_rnn.generate import Note, load_generator, read_midi_notes, write_midi
from dlwa.melody_rnn.model import get_config
from dlwa.melody_rnn.train import TrainOptions, bigram_baseline, evaluate, train

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


@pytest.fixture(scope="module")
def midi_folder(tmp_path_factory):
    """Twelve 8-bar tunes of 8th notes on a C major scale, at 120 qpm."""
    folder = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for k in range(12):
        pitches = rng.choice(SCALE, 64)
        notes = [Note(i * 0.25, i * 0.25 + 0.2, int(p), 80) for i, p in enumerate(pitches)]
        write_midi(notes, folder / f"tune{k:02d}.mid", qpm=120)
    (folder / "notes.txt").write_text("not midi")
    return folder


def test_melodies_are_extracted_and_split(midi_folder, tmp_path):
    train_set, validation = load_melodies(midi_folder, min_note=48, max_note=84,
                                          validation_fraction=0.25, cache_dir=tmp_path)
    assert len(train_set) + len(validation) == 12 and len(validation) >= 1
    assert set(train_set.sources).isdisjoint(validation.sources)
    melody = train_set.melodies[0]
    assert len(melody) == 128 and melody[0] >= 48 and list(melody[1:2]) == [-2]
    again, _ = load_melodies(midi_folder, min_note=48, max_note=84,
                             validation_fraction=0.25, cache_dir=tmp_path)  # from the cache
    assert all(np.array_equal(a, b) for a, b in zip(again.melodies, train_set.melodies))


def test_train_resumes_and_beats_nothing(midi_folder, tmp_path):
    train_set, validation = load_melodies(midi_folder, min_note=48, max_note=84,
                                          validation_fraction=0.25, cache_dir=tmp_path)
    config = get_config("lookback_rnn", layer_sizes=(16,))
    lines = []
    options = TrainOptions(n_updates=3, batch_size=4, eval_every=3)
    first = train(train_set.melodies, validation.melodies, config=config, out=tmp_path / "m",
                  options=options, log=lines.append)
    assert first is not None and (tmp_path / "m" / "training_state.pt").is_file()
    assert len((tmp_path / "m" / "train_log.jsonl").read_text().splitlines()) == 1
    assert any("ETA" in line for line in lines)
    options.n_updates = 6
    lines.clear()
    train(train_set.melodies, validation.melodies, config=config, out=tmp_path / "m",
          options=options, log=lines.append, resume=True)
    assert lines[0] == f"resuming {tmp_path / 'm'} at update 3"
    meta = checkpoints.read_config(tmp_path / "m")
    assert meta["training"]["updates"] == 6 and "validation" in meta["training"]
    metrics = evaluate(load_generator(tmp_path / "m").model, validation.melodies)
    assert 0 < metrics.nll < np.log(40) + 1 and 0 <= metrics.accuracy <= 1
    other = get_config("basic_rnn", layer_sizes=(16,))
    with pytest.raises(ValueError, match="another configuration"):
        train(train_set.melodies, validation.melodies, config=other, out=tmp_path / "m",
              options=options, log=lines.append, resume=True)


def test_bigram_baseline_on_a_scale():
    melodies = [np.array(SCALE * 4)] * 3
    metrics = bigram_baseline(melodies, melodies, min_note=48, max_note=84)
    assert metrics.accuracy == 1.0 and metrics.nll < 0.5


def test_cli_train_generate_eval(midi_folder, tmp_path, capsys):
    ckpt, cache = tmp_path / "ckpt", str(tmp_path / "cache")
    assert main(["train", "melody_rnn", str(midi_folder), "--config", "attention_rnn",
                 "--out", str(ckpt), "--smoke-test", "--cache-dir", cache]) == 0
    assert checkpoints.read_config(ckpt)["config"]["name"] == "attention_rnn"
    out = tmp_path / "answer.mid"
    assert main(["generate", "melody_rnn", "--model", str(ckpt), "--primer",
                 str(midi_folder / "tune00.mid"), "--bars", "2", "--temperature", "0.8",
                 "--beam-size", "2", "--branch-factor", "2", "--seed", "1",
                 "--out", str(out)]) == 0
    notes, qpm = read_midi_notes(out)
    primer, _ = read_midi_notes(midi_folder / "tune00.mid")
    assert qpm == pytest.approx(120) and len(notes) >= len(primer)
    assert max(n.end_s for n in notes) <= 16.0 + 2 * 2.0 + 0.3  # primer + 2 bars (+1 step)
    capsys.readouterr()
    assert main(["eval", "melody_rnn", "--model", str(ckpt), str(midi_folder), "--json",
                 "--cache-dir", cache]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_melodies"] == 12 and result["nll"] > 0 and "bigram" not in result
    assert main(["eval", "melody_rnn", "--model", str(ckpt), str(midi_folder), "--json",
                 "--baseline", "--cache-dir", cache]) == 0
    result = json.loads(capsys.readouterr().out)
    _, held_out = load_melodies(midi_folder, min_note=48, max_note=84,
                                cache_dir=tmp_path / "split")
    # beside the bigram (trained on the training split) only held-out melodies are scored
    assert result["n_melodies"] == len(held_out) < 12 and "bigram" in result


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["generate", "melody_rnn", "--model", "no_such_model", "--out",
                 str(tmp_path / "x.mid")]) == 2
    assert "no checkpoint named 'no_such_model'" in capsys.readouterr().err
    assert main(["train", "melody_rnn", str(tmp_path / "missing"), "--out",
                 str(tmp_path / "o"), "--smoke-test"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_import_then_generate(tmp_path):
    from pathlib import Path

    bundle = Path(__file__).resolve().parents[1] / "fixtures" / "melody_rnn" / "lookback_rnn.mag"
    out = tmp_path / "imported"
    assert main(["import", "melody_rnn", str(bundle), "--out", str(out)]) == 0
    assert checkpoints.read_config(out)["config"]["name"] == "lookback_rnn"
    midi = tmp_path / "x.mid"
    assert main(["generate", "melody_rnn", "--model", str(out), "--bars", "1", "--seed", "0",
                 "--out", str(midi)]) == 0
    assert midi.is_file()
