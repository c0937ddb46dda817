"""The DDSP importer against fixtures made by the ddsp package (scripts/make_ddsp_fixtures.py).

The fixture is DDSP's solo-instrument autoencoder at toy size (GRU 16, stacks 2 x 12, 8
harmonics, 9 noise bands, 300-tap reverb) saved by TensorFlow, with every variable set to
random values unlike its initial ones (biases, LayerNorm gammas and betas, the GRU's input
and recurrent biases drawn apart), and its outputs on fixed features. Decoder outputs and
controls agree within 1e-5 of each output's largest value (about 1e-6 seen), filtered noise
(same noise input) and reverb to float32 rounding. The fixture's Harmonic uses
``use_angular_cumsum = True``: with ``phase_accumulation="ddsp_angular_cumsum"`` (ddsp's
float32 phase sums, reproduced) the harmonic signal and the full output agree within 2e-6
(3e-7 seen). dlwa's default float64 phase differs from ddsp's float32 rounding by a growing
amount: 3e-5 over the first 1024 samples, 1.5e-4 by sample 4096.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa import cli
from dlwa.ddsp import convert
from dlwa.ddsp.model import load_model, scale_inputs

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def expected():
    return np.load(FIXTURES / "expected.npz")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("imported") / "ddsp_fixture"
    convert.import_checkpoint(FIXTURES, out)
    return load_model(out)


def test_tensor_bundle_reader_finds_every_variable() -> None:
    tensors = convert.read_tensor_bundle(FIXTURES / "ckpt-1")
    names = [n for n in tensors if n.startswith("model/")]
    assert len(names) == 30
    assert tensors["model/decoder/rnn/rnn/cell/kernel/.ATTRIBUTES/VARIABLE_VALUE"].shape == (24, 48)
    assert tensors["model/processor_group/reverb/ir/.ATTRIBUTES/VARIABLE_VALUE"].shape == (300,)


def test_fixture_variables_are_all_unlike_their_initial_values() -> None:
    # Zero biases or betas, or unit gammas, would let a mapping bug in them pass unseen.
    tensors = convert.read_tensor_bundle(FIXTURES / "ckpt-1")
    variables = {name.removesuffix(convert.VALUE_SUFFIX): value
                 for name, value in tensors.items() if name.startswith("model/")}
    initial = {"bias": 0.0, "beta": 0.0, "gamma": 1.0, "kernel": 0.0, "recurrent_kernel": 0.0,
               "ir": 0.0}
    for name, value in variables.items():
        differs = np.abs(value - initial[name.rsplit("/", 1)[-1]]) > 1e-4
        assert differs.mean() > 0.9, name
    gru_bias = variables["model/decoder/rnn/rnn/cell/bias"]
    assert gru_bias.shape == (2, 48) and np.abs(gru_bias[0] - gru_bias[1]).min() > 1e-3


def test_every_imported_parameter_is_trained(imported) -> None:
    for name, value in imported.model.state_dict().items():
        if name.endswith(("weight", "bias", "ir")) and value.numel() > 1:
            trivial = (value == 0).float().mean() + (value == 1).float().mean()
            assert trivial < 0.1, name
    rnn = imported.model.decoder.rnn
    assert not torch.allclose(rnn.bias_ih_l0, rnn.bias_hh_l0)


def test_gin_gives_the_model_sizes() -> None:
    config = convert.config_from_gin(convert.read_gin(FIXTURES / "operative_config-0.gin"))
    assert (config.rnn_channels, config.ch, config.layers_per_stack) == (16, 12, 2)
    assert (config.n_harmonics, config.n_noise_bands, config.reverb_length) == (8, 9, 300)
    assert (config.sample_rate, config.frame_rate) == (16000, 250)


def test_decoder_and_controls_match_ddsp(imported, expected) -> None:
    f0 = torch.from_numpy(expected["f0_hz"])[None]
    loudness = torch.from_numpy(expected["loudness_db"])[None]
    with torch.no_grad():
        raw, _ = imported.model.decoder(*scale_inputs(f0, loudness))
        controls, _ = imported.model.controls(f0, loudness)
    for ours, theirs in [(raw["amplitudes"], "raw_amps"),
                         (raw["harmonic_distribution"], "raw_harmonic_distribution"),
                         (raw["noise_magnitudes"], "raw_noise_magnitudes"),
                         (controls["amplitudes"], "amplitudes"),
                         (controls["harmonic_distribution"], "harmonic_distribution"),
                         (controls["noise_magnitudes"], "noise_magnitudes")]:
        scale = np.abs(expected[theirs]).max()
        np.testing.assert_allclose(ours[0].numpy(), expected[theirs], rtol=0, atol=1e-5 * scale,
                                   err_msg=theirs)


def _synthesize(imported, expected) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Harmonic signal, filtered noise and full output on the fixture's features."""
    f0 = torch.from_numpy(expected["f0_hz"])[None]
    loudness = torch.from_numpy(expected["loudness_db"])[None]
    noise = torch.from_numpy(expected["noise"])[None]
    with torch.no_grad():
        controls, _ = imported.model.controls(f0, loudness)
        harmonic, _ = imported.model.harmonic.get_signal(
            controls["amplitudes"], controls["harmonic_distribution"], controls["f0_hz"],
            n_samples=4096)
        filtered = imported.model.noise.get_signal(controls["noise_magnitudes"],
                                                   n_samples=4096, noise=noise)
        audio = imported.model(f0, loudness, noise=noise)
    return harmonic[0], filtered[0], audio[0]


def test_audio_matches_ddsp(imported, expected) -> None:
    bindings = convert.read_gin(FIXTURES / "operative_config-0.gin")
    assert convert.ddsp_phase_accumulation(bindings) == "ddsp_angular_cumsum"
    assert imported.model.harmonic.phase_accumulation == "float64"  # dlwa's default
    with torch.no_grad():
        reverb = imported.model.reverb(torch.from_numpy(
            expected["harmonic"] + expected["filtered_noise"])[None])
    np.testing.assert_allclose(reverb[0].numpy(), expected["audio"], atol=1e-6, rtol=0)

    imported.model.harmonic.phase_accumulation = convert.ddsp_phase_accumulation(bindings)
    try:
        harmonic, filtered, audio = _synthesize(imported, expected)
    finally:
        imported.model.harmonic.phase_accumulation = "float64"
    noise_scale = np.abs(expected["filtered_noise"]).max()
    np.testing.assert_allclose(filtered.numpy(), expected["filtered_noise"], rtol=0,
                               atol=1e-5 * noise_scale)
    np.testing.assert_allclose(harmonic.numpy(), expected["harmonic"], atol=2e-6, rtol=0)
    np.testing.assert_allclose(audio.numpy(), expected["audio"], atol=2e-6, rtol=0)

    # Default float64 phase: sums rounded differently from ddsp's float32 ones, a
    # difference that grows with time (3e-5 over the first 1024 samples, 1.5e-4 by 4096), so
    # only a looser bound holds for the whole clip in general.
    harmonic, _, audio = _synthesize(imported, expected)
    np.testing.assert_allclose(harmonic[:1024].numpy(), expected["harmonic"][:1024], atol=1e-4)
    np.testing.assert_allclose(audio.numpy(), expected["audio"], atol=3e-4)


def test_statistics_come_from_the_pickle(imported, expected) -> None:
    assert imported.statistics["mean_pitch_midi"] == 64.5
    np.testing.assert_allclose(imported.statistics["loudness_quantiles_db"],
                               np.interp(np.linspace(0, 1, 101), np.linspace(0, 1, 101),
                                         expected["loudness_quantiles"]), atol=1e-6)


def test_cli_import_and_bad_folders(tmp_path: Path) -> None:
    assert cli.main(["import", "ddsp", str(FIXTURES), "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "weights.safetensors").is_file()
    with pytest.raises(convert.DDSPImportError, match="no ckpt-<step>.index"):
        convert.import_checkpoint(tmp_path, tmp_path / "x")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "ckpt-1.index").write_bytes(b"not a table")
    with pytest.raises(convert.DDSPImportError, match="not a TensorFlow checkpoint index"):
        convert.read_tensor_bundle(tmp_path / "bad" / "ckpt-1")


def test_unsupported_models_are_named() -> None:
    bindings = convert.read_gin(FIXTURES / "operative_config-0.gin")
    bindings["RnnFcDecoder.rnn_type"] = "lstm"
    with pytest.raises(convert.DDSPImportError, match="rnn_type = 'lstm'"):
        convert.config_from_gin(bindings)
