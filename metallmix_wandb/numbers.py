"""Small number helpers every feature needs, kept once: finite checks, short formatting, plain Python
scalars. Pure (standard library only). Tested in tests/test_numbers.py."""

from __future__ import annotations

import math
from typing import Any


def is_finite(value: Any) -> bool:
    """A real number (not a bool, not NaN/inf): what a metric, a prediction or a config value must be."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def finite_or_none(value: Any) -> float | None:
    """`value` as a float when it is a finite real number, else None (bools, text, NaN and inf)."""
    return float(value) if is_finite(value) else None


def short(value: Any) -> str:
    """Floats to 4 significant digits, anything else as `str`: configs and scores in one-line text."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def fixed(value: float | None, spec: str = ".4f") -> str:
    """A number in a table cell: `format(value, spec)`, or "-" when there is none."""
    return "-" if value is None else format(value, spec)


def plain_scalar(value: Any) -> Any:
    """numpy/pandas scalars -> the Python value (`.item()`); everything else unchanged."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, str | bytes) else value
