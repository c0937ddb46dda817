"""Reading nn~ models: methods and rate without torch, attributes through torch, and one
clear error for every file that is not an nn~ model."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from dlwa.rave.model import MethodParams, ModelFileError, NNModel, find_model, read_info

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rave"
RAVE = FIXTURES / "rave_small.ts"  # acids-rave 2.3.1's streaming export
TOY = FIXTURES / "toy_nn_tilde.ts"  # made with the nn-tilde package


def test_read_info_gives_the_methods_channels_ratios_and_rate_of_a_rave_export() -> None:
    info = read_info(RAVE)
    assert info.methods == {"encode": MethodParams(1, 1, 32, 512),
                            "decode": MethodParams(32, 512, 1, 1),
                            "forward": MethodParams(1, 1, 1, 1)}
    assert info.sample_rate == 16000 and info.higher_ratio == 512
    assert info.labels["encode_output"][0] == "(signal) Latent dimension 1"


def test_read_info_agrees_with_torch_on_an_nn_tilde_model() -> None:
    info = read_info(TOY)
    module = torch.jit.load(str(TOY))
    assert list(info.methods) == list(module.get_methods())
    for name, params in info.methods.items():
        assert [params.in_channels, params.in_ratio, params.out_channels,
                params.out_ratio] == getattr(module, f"{name}_params").tolist()
    assert info.labels["forward_input"] == ["(signal) left", "(signal) right"]


def test_attributes_are_typed_as_their_setters_say() -> None:
    model = NNModel(TOY)
    assert model.attributes == ["gain", "swap", "harmonic", "shape"]
    assert [model.attribute_types(a) for a in model.attributes] == [
        ["float"], ["bool"], ["int"], ["str"]]
    model.set("gain", ["0.25"])
    model.set("swap", [1])
    model.set("harmonic", [3.0])
    model.set("shape", ["square"])
    assert [model.get(a) for a in model.attributes] == [[0.25], [True], [3], ["square"]]
    y = model.call("forward", np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    np.testing.assert_allclose(y, [[0.75, 1.0], [0.25, 0.5]])  # swapped and scaled


@pytest.mark.parametrize(("attribute", "values", "expected"), [
    ("volume", [1], "toy_nn_tilde has no attribute 'volume': it has gain, swap, harmonic, shape"),
    ("gain", [1, 2], "gain takes 1 value(s) (float), got 2"),
    ("gain", ["loud"], "gain takes a float, got 'loud'"),
    ("harmonic", [1.5], "harmonic takes a whole number, got 1.5"),
    ("harmonic", [0], "toy_nn_tilde refused harmonic 0"),
    ("swap", ["maybe"], "swap takes true/false or 0/1, got 'maybe'"),
    ("shape", ["saw"], "toy_nn_tilde refused shape saw"),
])
def test_bad_attribute_values_are_one_clear_error_and_change_nothing(
        attribute: str, values: list, expected: str) -> None:
    model = NNModel(TOY)
    before = [model.get(a) for a in model.attributes]
    with pytest.raises(ValueError) as error:
        model.set(attribute, values)
    assert str(error.value) == expected
    assert [model.get(a) for a in model.attributes] == before


def test_an_unknown_method_names_the_ones_there_are() -> None:
    with pytest.raises(ValueError, match="rave_small has no method 'prior': it has encode, "
                       "decode, forward"):
        NNModel(RAVE).params("prior")


def test_files_that_are_not_nn_models_are_one_clear_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.ts"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match="notes.ts is not a TorchScript model"):
        read_info(text)
    other_zip = tmp_path / "photos.ts"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("a/b.txt", "x")
    with pytest.raises(ModelFileError, match="photos.ts is a zip file but no TorchScript"):
        read_info(other_zip)
    plain = tmp_path / "plain.ts"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(plain))
    with pytest.raises(ModelFileError, match="plain.ts is TorchScript but has no nn~ methods"):
        read_info(plain)
    with pytest.raises(ModelFileError, match="plain.ts is TorchScript but has no nn~ methods"):
        NNModel(plain)


def test_find_model_by_path_folder_and_name(tmp_path: Path, monkeypatch) -> None:
    assert find_model(TOY) == TOY
    assert find_model("toy_nn_tilde.ts", base_dir=FIXTURES) == FIXTURES / "toy_nn_tilde.ts"
    folder = tmp_path / "rave_mine"
    folder.mkdir()
    (folder / "mine.ts").write_bytes(TOY.read_bytes())
    monkeypatch.setenv("DLWA_CHECKPOINTS", str(tmp_path))
    assert find_model("mine") == folder / "mine.ts"
    with pytest.raises(FileNotFoundError, match="no RAVE model 'tuba': give a .ts file .* "
                       "or one of .*mine"):
        find_model("tuba")
