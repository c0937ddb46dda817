"""The .mag importer against bundles and outputs made by Magenta itself.

tests/fixtures/melody_rnn/ was made by scripts/make_melody_rnn_fixtures.py in the
reference environment (TensorFlow + magenta 2.1.4): Magenta built each configuration at
toy size with random weights, wrote the bundle with create_bundle_file, reloaded it and
recorded its encoder inputs and softmax for two fixed melodies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa import checkpoints
from dlwa.melody_rnn.convert import BundleError, convert_bundle, import_bundle, read_bundle
from dlwa.melody_rnn.generate import load_generator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "melody_rnn"
CONFIGS = ["basic_rnn", "lookback_rnn", "attention_rnn"]


@pytest.mark.parametrize("name", CONFIGS)
def test_imported_model_reproduces_magenta(name, tmp_path):
    out = import_bundle(FIXTURES / f"{name}.mag", tmp_path / name)
    generator = load_generator(out)
    assert generator.config.name == name and generator.config.layer_sizes == (16, 12)
    reference = np.load(FIXTURES / f"{name}.npz")
    for i in range(2):
        events = reference[f"events_{i}"]
        inputs = generator.model.encoding.inputs(events)
        np.testing.assert_array_equal(inputs, reference[f"inputs_{i}"])
        with torch.no_grad():
            logits, _ = generator.model(torch.from_numpy(inputs)[None])
        softmax = torch.softmax(logits[0], dim=-1).numpy()
        np.testing.assert_allclose(softmax, reference[f"softmax_{i}"], atol=1e-5, rtol=0)


def test_bundle_metadata_and_checkpoint_record(tmp_path):
    bundle = read_bundle(FIXTURES / "attention_rnn.mag")
    assert bundle.generator_id == "attention_rnn"
    assert bundle.bundle_description == "dlwa importer test fixture"
    assert len(bundle.checkpoint_files) == 1 and bundle.metagraph
    out = import_bundle(FIXTURES / "attention_rnn.mag", tmp_path / "a")
    meta = checkpoints.read_config(out)
    assert meta["kind"] == "melody_rnn" and meta["training"]["generator_id"] == "attention_rnn"
    assert meta["config"]["attn_length"] == 40


def test_not_a_bundle_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.mag"
    bad.write_bytes(b"\x0a\x03abc")
    with pytest.raises(BundleError, match="not a Magenta generator bundle"):
        convert_bundle(bad)
    with pytest.raises(FileNotFoundError):
        read_bundle(tmp_path / "missing.mag")


def test_wrong_generator_is_refused(tmp_path):
    from note_seq.protobuf import generator_pb2

    message = generator_pb2.GeneratorBundle.FromString((FIXTURES / "basic_rnn.mag").read_bytes())
    message.generator_details.id = "drums_rnn"
    bad = tmp_path / "drums.mag"
    bad.write_bytes(message.SerializeToString())
    with pytest.raises(BundleError, match="'drums_rnn' is not a MelodyRNN"):
        convert_bundle(bad)


def test_tf_1_0_variable_names_are_understood():
    from dlwa.melody_rnn.convert import (
        canonical_names,
        config_from_tensors,
        read_v1_checkpoint,
        to_state_dict,
    )

    tensors = read_v1_checkpoint(read_bundle(FIXTURES / "attention_rnn.mag").checkpoint_files[0])
    old_style = {(k.replace("/kernel", "/weights").replace("/bias", "/biases")
                  if k.startswith("rnn/") else k): v for k, v in tensors.items()}
    assert "fully_connected/weights" in old_style
    config = config_from_tensors("attention_rnn", canonical_names(old_style))
    new = to_state_dict(tensors, config)
    old = to_state_dict(old_style, config)
    assert new.keys() == old.keys()
    assert all(np.array_equal(new[k], old[k]) for k in new)


def test_bundle_fields_are_read_by_name(tmp_path):
    from note_seq.protobuf import generator_pb2

    message = generator_pb2.GeneratorBundle(checkpoint_file=[b"one", b"two"],
                                            metagraph_file=b"graph")
    message.generator_details.id = "lookback_rnn"
    message.generator_details.description = "a description"
    message.bundle_details.description = "a bundle"
    path = tmp_path / "two.mag"
    path.write_bytes(message.SerializeToString())
    bundle = read_bundle(path)
    assert (bundle.generator_id, bundle.description, bundle.bundle_description) == (
        "lookback_rnn", "a description", "a bundle")
    assert bundle.checkpoint_files == [b"one", b"two"] and bundle.metagraph == b"graph"
    with pytest.raises(BundleError, match="expected one V1 checkpoint file .* found 2"):
        convert_bundle(path)
    del message.checkpoint_file[:]
    path.write_bytes(message.SerializeToString())
    with pytest.raises(BundleError, match="no generator id or no checkpoint"):
        read_bundle(path)
