"""GANSpace through the gansynth object in real Pd (batch mode), with the shipped model and
its shipped PCA: amplitudes steer ``synthesize`` (all zero: plain ``synthesize``), and
``synthesize_noz`` gives the same notes at batch 1 and 8."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dlwa import checkpoints, pd_runner

pytestmark = pytest.mark.pd

PCA = checkpoints.PROJECT_CHECKPOINTS / "gansynth_all_instruments" / "ganspace.npz"


def test_ganspace_messages_in_pd(tmp_path):
    pd_runner.build_external()
    patch = pd_runner.Patch()
    for name in ("z1", "out1", "out2", "amps"):
        patch.array(f"gs-{name}", 10)
    obj = patch.obj("pyext. dlwa.pd gansynth")
    printer = patch.obj("print gs")
    patch.connect(obj, 0, printer, 0)
    writer = patch.obj("soundfiler")

    def save(array: str, name: str) -> tuple[str, int, int]:
        return (f"write -bytes 4 {tmp_path / name}.wav gs-{array}", writer, 0)

    patch.sequence(
        ("load all_instruments", obj, 1),
        ("seed 3", obj, 1),
        ("randomize_z gs-z1", obj, 1),
        ("synthesize gs-z1 gs-out1 60", obj, 1),
        save("out1", "plain"),
        (f"load_ganspace_components {PCA} gs-amps", obj, 1),
        ("synthesize gs-z1 gs-out2 60", obj, 1),
        save("out2", "zero_amplitudes"),
        ("\\; gs-amps 0 3 -2", -1, 0),
        ("synthesize gs-z1 gs-out2 60", obj, 1),
        save("out2", "steered"),
        ("batch 1", obj, 1),
        ("synthesize_noz gs-out1 60 1 -2 -- gs-out2 64 gs-amps", obj, 1),
        save("out1", "noz_b1_60"), save("out2", "noz_b1_64"),
        ("batch 8", obj, 1),
        ("synthesize_noz gs-out1 60 1 -2 -- gs-out2 64 gs-amps", obj, 1),
        save("out1", "noz_b8_60"), save("out2", "noz_b8_64"),
        ("synthesize_noz gs-out1 27", obj, 1),
        ("\\; pd quit", -1, 0),
    )
    run = pd_runner.run_patch(patch.write(tmp_path / "ganspace.pd"), timeout_s=120).check()
    replies = run.printed("gs")
    assert replies, run.output
    assert replies[0].startswith("loaded ") and "loaded_pca 64" in replies, run.output
    assert replies.count("synthesized") == 5, run.output
    errors = [r for r in replies if r.startswith("error")]
    assert errors == ["error pitch 27 is not one this model was trained on (MIDI 36–84)"], \
        run.output

    def wav(name: str) -> np.ndarray:
        return sf.read(tmp_path / f"{name}.wav", dtype="float32")[0]

    plain = wav("plain")
    np.testing.assert_allclose(wav("zero_amplitudes"), plain, atol=1e-4 * np.abs(plain).max())
    assert not np.allclose(wav("steered"), plain, atol=1e-3 * np.abs(plain).max())
    for pitch in (60, 64):
        one, eight = wav(f"noz_b1_{pitch}"), wav(f"noz_b8_{pitch}")
        np.testing.assert_allclose(eight, one, atol=1e-3 * np.abs(one).max())
    assert not np.allclose(wav("noz_b1_60"), wav("noz_b1_64"))
