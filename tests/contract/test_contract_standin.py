"""The pyext contract (``contract_table.ROWS``) run through the headless stand-in."""

from __future__ import annotations

import importlib
import sys

import contract_table as table
import pytest

from dlwa.pd import standin


@pytest.fixture
def contract_module(monkeypatch, tmp_path):
    """``pyext_contract`` imported with the stand-in as ``pyext``, in a fresh host."""
    standin.reset()
    monkeypatch.setitem(sys.modules, "pyext", standin)
    monkeypatch.delitem(sys.modules, table.MODULE, raising=False)
    module = importlib.import_module(table.MODULE)
    yield module
    sys.modules.pop(table.MODULE, None)
    standin.reset()


def run_rows(module, canvas_dir):
    standin.set_samplerate(table.SAMPLE_RATE)
    standin.make_array(table.ARRAY, table.ARRAY_SIZE)
    contract = standin.create(module.Contract, *table.CONSTRUCTOR_ARGS, canvas_dir=canvas_dir)
    steps = standin.create(module.Steps, canvas_dir=canvas_dir)
    targets = {"in1": (contract, 1), "in2": (contract, 2), "steps1": (steps, 1),
               "steps2": (steps, 2)}
    results = []
    for target, message, _, _ in table.ROWS:
        if target == "bound":
            standin.send_to(table.BOUND, message)
        else:
            obj, inlet = targets[target]
            standin.send_message(obj, inlet, message)
        printed = standin.outputs(contract) + standin.outputs(steps) + standin.sent(table.SENT)
        results.append((printed, standin.console()))
    return results


def test_contract_rows_through_standin(contract_module, tmp_path):
    table.write_patch(tmp_path)
    results = run_rows(contract_module, tmp_path)
    assert table.check_rows(results) == []


def test_patch_lists_every_row():
    text = table.contract_patch()
    assert text.count("contract-mark") == len(table.ROWS) + 2  # marks + the [r] box
    assert "pd quit" in text
