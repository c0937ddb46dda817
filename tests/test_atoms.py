"""The stand-in's conversions where they can differ from a careless copy of Pd's rules."""

from __future__ import annotations

import numpy as np

from dlwa.pd.atoms import format_atoms, format_message, python_to_pd


def test_numbers_become_32_bit_floats_as_in_a_pd_atom():
    selector, atoms = python_to_pd(0.1)
    assert selector == "float" and atoms == [float(np.float32(0.1))] and atoms[0] != 0.1
    _, atoms = python_to_pd([1e-7 + 1, "a"])
    assert atoms[0] == float(np.float32(1e-7 + 1))


def test_symbols_print_escaped_as_pd_prints_them():
    assert format_atoms(["a b", "c,d", "e;f", "g\\h"]) == "a\\ b c\\,d e\\;f g\\\\h"
    assert format_message("sel", ["back\\slash"]) == "sel back\\\\slash"
