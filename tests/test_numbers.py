"""numbers.py: the shared finite checks, short formatting and plain scalars every feature uses."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from metallmix_wandb.numbers import finite_or_none, fixed, is_finite, plain_scalar, short


@pytest.mark.parametrize("value", [0, 1, -3, 0.5, 1e300, -1e-300, np.float64(0.25)])
def test_real_numbers_are_finite(value: object) -> None:
    assert is_finite(value)


@pytest.mark.parametrize("value", [True, False, math.nan, math.inf, -math.inf, np.float64("nan"), None, "1.0",
                                   [1.0], {"a": 1}, Decimal("1"), 1 + 2j, np.float32(2.0), np.int64(3)])
def test_bools_nan_inf_text_and_other_types_are_not(value: object) -> None:
    assert not is_finite(value)


def test_numpy_scalars_count_once_plain() -> None:
    # numpy scalars other than float64 (a float subclass) are not Python numbers: plain_scalar them first.
    assert is_finite(plain_scalar(np.float32(2.0))) and is_finite(plain_scalar(np.int64(3)))


def test_finite_or_none_gives_a_plain_float_or_none() -> None:
    assert finite_or_none(3) == 3.0 and type(finite_or_none(3)) is float
    assert type(finite_or_none(np.float64(0.5))) is float
    assert finite_or_none(Fraction(1, 4)) is None  # not an int or float
    for bad in (True, math.nan, -math.inf, "2", None):
        assert finite_or_none(bad) is None


def test_short_keeps_four_significant_digits_for_floats_only() -> None:
    assert short(0.123456) == "0.1235"
    assert short(123456.0) == "1.235e+05"
    assert short(2.0) == "2"
    assert short(np.float64(1 / 3)) == "0.3333"  # numpy floats are floats
    assert short(123456) == "123456"  # ints are exact
    assert short("US") == "US" and short(None) == "None" and short(True) == "True"


def test_fixed_formats_a_cell_or_a_dash() -> None:
    assert fixed(0.81234) == "0.8123"
    assert fixed(None) == "-"
    assert fixed(12.5, ".1f") == "12.5"
    assert fixed(1e-5, "g") == "1e-05"
    assert fixed(0.0, ".2%") == "0.00%"


def test_plain_scalar_unwraps_numpy_and_leaves_the_rest() -> None:
    for value, expected in [(np.int64(7), 7), (np.float32(0.5), 0.5), (np.bool_(True), True)]:
        out = plain_scalar(value)
        assert out == expected and type(out) is type(expected)
    text = np.str_("x")
    assert plain_scalar(text) is text  # a str subclass already: left alone like any str
    assert json.dumps([plain_scalar(np.int64(3)), plain_scalar(np.float64(0.25))]) == "[3, 0.25]"
    items = [1, 2.5, "text", b"bytes", None, [1, 2], {"a": 1}]
    for value in items:
        assert plain_scalar(value) is value  # str/bytes are never `.item()`-ed, others have no `.item`
