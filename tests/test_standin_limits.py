"""The headless stand-in refuses what the external refuses (issue #13, item 7)."""

from __future__ import annotations

import numpy as np
import pytest

from dlwa.pd import standin
from dlwa.pd.standin import Buffer, Symbol, _class


class echo(_class):
    _inlets = 1
    _outlets = 1

    def _anything_1(self, *args):
        self._outlet(1, *args)


@pytest.fixture(autouse=True)
def host():
    standin.reset()
    standin.make_array("a", 4, [1, 2, 3, 4])
    yield
    standin.reset()


@pytest.mark.parametrize("value", [1 + 2j, np.complex64(1), np.array([1 + 1j, 2]),
                                   [1.0, 2 + 0j]])
def test_complex_values_raise_instead_of_losing_their_imaginary_part(value):
    obj = standin.create(echo)
    with pytest.raises(TypeError, match="complex value"):
        obj._outlet(1, value)
    with pytest.raises(TypeError, match="complex value"):
        Buffer("a").write(value if np.ndim(value) else [value])
    assert list(standin.array("a")) == [1, 2, 3, 4]


def test_lone_surrogates_raise_instead_of_becoming_empty_symbols():
    obj = standin.create(echo)
    for args in (("\udcff",), ("\udcff", [1, 2]), ("ok", ["\udcff"])):
        with pytest.raises(UnicodeEncodeError):
            obj._outlet(1, *args)
    assert standin.outputs(obj) == []


def test_buffer_limits_raise_without_changing_the_array():
    buf = Buffer("a")
    with pytest.raises(ValueError, match="no data"):
        buf.write([])
    with pytest.raises(OverflowError, match="more than a Pd array can hold"):
        buf.resize(2**32 + 10)
    with pytest.raises(OverflowError):
        buf.resize(2**31)
    assert list(standin.array("a")) == [1, 2, 3, 4]


def test_symbol_of_a_number_is_a_type_error():
    with pytest.raises(TypeError):
        Symbol(5)


def test_stop_count_only_grows():
    obj = standin.create(echo)
    assert obj._stopcount == 0 and not obj._shouldexit
    standin.stop(obj)
    standin.stop(obj)
    assert obj._stopcount == 2 and not obj._shouldexit  # no handler ran: cleared at once


def test_documented_bounds_pass_as_pd_sends_them():
    """A bound typed in a patch reaches Python as a 32-bit float (0.01 → 0.0099999998)."""
    from dlwa.pd.base import number

    low = float(np.float32(0.01))
    assert low < 0.01
    assert number(low, "temperature", low=0.01, high=10.0) == low
    with pytest.raises(ValueError, match="between 0.01 and 10"):
        number(0.0099, "temperature", low=0.01, high=10.0)
    with pytest.raises(ValueError):
        number(float(np.float32(10.001)), "temperature", low=0.01, high=10.0)
