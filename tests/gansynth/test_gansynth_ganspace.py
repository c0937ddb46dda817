"""dlwa.gansynth.ganspace: layer recording, incremental PCA and edits, on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlwa.gansynth import ganspace
from dlwa.gansynth.generate import random_z, synthesize
from dlwa.gansynth.model import GANSynth, GANSynthConfig, generator_model


@pytest.fixture(scope="module")
def model() -> GANSynth:
    torch.manual_seed(0)
    config = GANSynthConfig.small(pitches=(60, 62, 64), latent_vector_size=12)
    m = generator_model(config).eval()
    with torch.no_grad():
        for name, p in m.generator.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.3)  # nothing left at its initial zero
    return m


@pytest.fixture(scope="module")
def space(model) -> ganspace.GANSpace:
    return ganspace.fit(model, layer="conv0", samples=1024, n_components=8, batch_size=256,
                        pitch=62, seed=1)


def test_layer_names_and_shapes(model):
    names = ganspace.layer_names(model.config)
    assert names[:2] == ["block1.conv0", "block1.conv1"] and len(names) == 6
    assert ganspace.resolve_layer(model.config, "conv0") == "block1.conv0"
    assert ganspace.layer_shape(model.config, "conv0") == (16, 2, 4)
    assert ganspace.layer_shape(model.config, "block3.conv1") == (8, 8, 16)
    with pytest.raises(ValueError, match="no layer 'conv9'.*block3.conv1"):
        ganspace.resolve_layer(model.config, "conv9")


def test_record_returns_the_layers_activations(model):
    z = random_z(5, 12, np.random.default_rng(0))
    got = ganspace.record(model, "block2.conv1", z, [60, 62, 64, 60, 62], batch_size=2)
    seen = {}

    def keep(name, x):
        seen[name] = x.clone()
        return x

    with torch.no_grad():
        model.generator(torch.from_numpy(z), model.one_hot([60, 62, 64, 60, 62]),
                        layer_hook=keep)
    assert got.shape == (5, 16 * 4 * 8)
    np.testing.assert_allclose(got, seen["block2.conv1"].reshape(5, -1).numpy(), atol=1e-5)


def test_fit_gives_orthonormal_directions_by_falling_variance(model, space):
    flat = space.components.reshape(8, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(8), atol=1e-4)
    assert np.all(np.diff(space.var_ratio) <= 1e-7) and 0 < space.var_ratio.sum() <= 1
    assert space.samples == 1024 and space.pitch == 62 and space.layer == "block1.conv0"
    # Against a full PCA of the same activations (the same seeded latents): the same
    # leading directions and spreads.
    z = random_z(1024, 12, np.random.default_rng(1))
    data = ganspace.record(model, "conv0", z, [62] * 1024)
    centred = data - data.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    for i in range(3):
        assert abs(float(vt[i] @ flat[i])) > 0.99
    np.testing.assert_allclose(space.stdev[:3], singular[:3] / np.sqrt(len(data) - 1),
                               rtol=0.01)
    np.testing.assert_allclose(space.global_mean.reshape(-1), data.mean(axis=0), atol=1e-5)


def test_offsets(space):
    assert not space.offset([]).any()
    np.testing.assert_allclose(space.offset([0, 2]), 2 * space.stdev[1] * space.components[1],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="9 amplitudes for 8 components"):
        space.offset(np.ones(9))


def test_relative_edits(model, space):
    z = random_z(3, 12, np.random.default_rng(2))
    plain = synthesize(model, z, [60, 62, 64])
    same = ganspace.synthesize_edited(model, space, [60, 62, 64], np.zeros(8), z=z)
    np.testing.assert_allclose(same, plain, atol=1e-5 * np.abs(plain).max())
    pushed = ganspace.synthesize_edited(model, space, [60, 62, 64], [[3.0], [0.0], [-3.0]],
                                        z=z, batch_size=2)
    assert not np.allclose(pushed[0], plain[0]) and not np.allclose(pushed[2], plain[2])
    np.testing.assert_allclose(pushed[1], plain[1], atol=1e-5 * np.abs(plain).max())


def test_absolute_edits_replace_the_layer(model, space):
    mean_notes = ganspace.synthesize_edited(model, space, [60, 64], np.zeros(8))
    # With the first block's layer replaced, nothing of z or the pitch reaches the note.
    np.testing.assert_allclose(mean_notes[0], mean_notes[1], atol=1e-6)
    moved = ganspace.synthesize_edited(model, space, [60], [2.0, -1.0])
    assert not np.allclose(moved[0], mean_notes[0])


def test_save_and_load(space, tmp_path):
    path = space.save(tmp_path / "pca")
    assert path.name == "pca.npz"
    back = ganspace.GANSpace.load(path)
    np.testing.assert_array_equal(back.components, space.components.astype(np.float32))
    assert (back.layer, back.pitch, back.samples) == (space.layer, 62, 1024)
    np.save(tmp_path / "other.npy", np.zeros(3))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    for bad in (tmp_path / "bad.npz", tmp_path / "missing.npz"):
        with pytest.raises(ValueError, match="cannot read the GANSpace file"):
            ganspace.GANSpace.load(bad)


def test_a_pca_of_another_model_is_refused(space):
    other = generator_model(GANSynthConfig.small(pitches=(60, 62, 64), fmap_max=8))
    with pytest.raises(ValueError, match="belongs to another model"):
        ganspace.synthesize_edited(other, space, [60], np.zeros(1))


def test_ganspace_and_edit_commands(tmp_path, monkeypatch, capsys):
    import soundfile as sf

    from dlwa import checkpoints, cli

    torch.manual_seed(0)
    config = GANSynthConfig.small(pitches=(60, 62, 64), latent_vector_size=12)
    state = {k: v for k, v in GANSynth(config).state_dict().items()
             if k.startswith(("generator.", "normalizer."))}
    folder = tmp_path / "ck" / "gansynth_tiny"
    checkpoints.save_checkpoint(folder, "gansynth", config.to_dict(), state,
                                sample_rate=config.sample_rate)
    monkeypatch.setenv(checkpoints.ENV_CHECKPOINTS, str(tmp_path / "ck"))
    base = ["ganspace", "gansynth", "--model", "tiny"]
    assert cli.main([*base, "--list-layers"]) == 0
    assert "block3.conv1 8x8x16" in capsys.readouterr().out
    out = folder / ganspace.PCA_FILE
    args = [*base, "--samples", "256", "--batch-size", "128", "--components", "4",
            "--out", str(out)]
    assert cli.main(args) == 0
    assert "4 components of 256 latents at pitch 62" in capsys.readouterr().out
    before = out.read_bytes()
    assert cli.main(args) == 2 and "exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert cli.main([*base, "--layer", "conv7", "--out", str(tmp_path / "x")]) == 2
    assert "no layer 'conv7'" in capsys.readouterr().err

    def notes(name, *extra):
        assert cli.main(["generate", "gansynth", "--model", "tiny", "--pitches", "60",
                         "--seed", "1", "--out-dir", str(tmp_path / name), *extra]) == 0
        return sf.read(tmp_path / name / "60_0.wav")[0]

    plain, zero = notes("plain"), notes("zero", "--edits", "0")
    np.testing.assert_allclose(zero, plain, atol=1e-5 * np.abs(plain).max())
    assert not np.allclose(notes("pushed", "--edits", "0", "3"), plain)
    mean_a, mean_b = notes("noz1", "--noz"), notes("noz2", "--noz", "--seed", "9")
    np.testing.assert_array_equal(mean_a, mean_b)  # no latent: the seed plays no part


# ----- the course's pickles


def course_pickle(path, *, rng_seed=0, protocol=None):
    """A PCA pickle as the course's gansynth_ganspace writes one: a dict with the fitted
    scikit-learn estimator and TensorFlow-layout (NHWC) arrays, pickle.dump'ed."""
    import pickle

    from sklearn.decomposition import IncrementalPCA

    rng = np.random.default_rng(rng_seed)
    data = rng.standard_normal((64, 2 * 4 * 16)).astype(np.float32)
    estimator = IncrementalPCA(n_components=5).fit(data)
    comp = estimator.components_.reshape(5, 2, 4, 16)  # [n, h, w, c]
    content = {"layer": "conv0", "estimator": estimator, "comp": comp,
               "stdev": np.sqrt(estimator.explained_variance_),
               "var_ratio": estimator.explained_variance_ratio_,
               "global_mean": estimator.mean_.reshape(2, 4, 16)}
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=protocol)
    return content


@pytest.mark.parametrize("protocol", [2, 3, 5])
def test_course_pickle_imports_with_the_same_edits(tmp_path, protocol):
    path = tmp_path / f"pruu_conv0_ipca_{64}.pickle"
    original = course_pickle(path, protocol=protocol)
    space = ganspace.import_course_pickle(path)
    assert space.layer == "block1.conv0" and space.samples == 64 and space.pitch == 32
    assert space.components.shape == (5, 16, 2, 4) and space.global_mean.shape == (16, 2, 4)
    amplitudes = np.array([1.5, -2.0, 0.0, 0.5])
    # The course's offset, in its own layout, then turned channels-first.
    theirs = np.tensordot(amplitudes * original["stdev"][:4], original["comp"][:4], axes=1)
    np.testing.assert_allclose(space.offset(amplitudes), theirs.transpose(2, 0, 1), atol=1e-5)
    np.testing.assert_allclose(space.global_mean,
                               original["global_mean"].transpose(2, 0, 1), atol=1e-6)


def test_a_pickle_that_runs_code_is_refused_without_running_it(tmp_path):
    import pickle

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps({"layer": "conv0", "comp": Evil()}))
    with pytest.raises(ValueError, match="cannot read the PCA pickle.*refusing builtins.exec"):
        ganspace.import_course_pickle(path)
    assert not marker.exists()
    (tmp_path / "list.pickle").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match="not a course GANSpace pickle"):
        ganspace.import_course_pickle(tmp_path / "list.pickle")


def test_import_ganspace_command(tmp_path, capsys):
    from dlwa import cli

    course_pickle(tmp_path / "model_conv0_ipca_64.pickle")
    args = ["import", "ganspace", str(tmp_path / "model_conv0_ipca_64.pickle"),
            "--out", str(tmp_path / "pca")]
    assert cli.main(args) == 0
    assert "block1.conv0: 5 components of 16x2x4" in capsys.readouterr().out
    assert ganspace.GANSpace.load(tmp_path / "pca.npz").n_components == 5
    assert cli.main(args) == 2 and "exists" in capsys.readouterr().err


def test_a_pickle_from_numpy_1_imports(tmp_path):
    """The course wrote its pickles with numpy 1.x, whose arrays name numpy.core.*."""
    path = tmp_path / "old.pickle"
    original = course_pickle(path, protocol=3)
    data = path.read_bytes()
    assert b"numpy._core.multiarray\n" in data  # GLOBAL opcodes: text lines, any length
    path.write_bytes(data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))
    space = ganspace.import_course_pickle(path)
    np.testing.assert_allclose(space.stdev, original["stdev"], rtol=1e-6)
