"""Value-level operations on one hyperparameter: check, snap, sample, enumerate (JSON Schema: schema.py).

Kept apart from `search_space` so each file stays small; every function returns plain Python
values (never numpy scalars) so configs JSON-serialise.
Tested through tests/space/test_search_space.py.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from metallmix_wandb.numbers import fixed

if TYPE_CHECKING:
    from metallmix_wandb.space.spec import ParamSpec

MISSING: Any = object()
"""Marks a parameter absent from a config (None is a legitimate categorical value)."""

_REL_TOL = 1e-12  # bound slack for exp/log round-off (e.g. log_uniform exponents)
_Q_TOL = 1e-6  # how far from a multiple of q, in units of q, still counts as a multiple


# --------------------------------------------------------------------------- plain values


def plain(x: Any) -> Any:
    """Numpy scalars/arrays and tuples to plain Python, recursively, so results JSON-serialise."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return [plain(v) for v in x.tolist()]
    if isinstance(x, Mapping):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def parse_number(s: str) -> int | float | None:
    """The number a string spells, int before float ("32" -> 32, "1e-3" -> 0.001), else None: one
    reading for config values and imported table cells, so "32" is the same value in both."""
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return None


def as_number(x: Any) -> int | float | None:
    """A real number from a number or a numeric string; None for bools and anything else."""
    x = plain(x) if isinstance(x, np.generic) else x
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return x
    if isinstance(x, str) and len(x) < 100:
        return parse_number(x.strip())
    return None


def same_value(a: Any, b: Any) -> bool:
    """Categorical equality: numbers compare numerically (32.0 == 32), bools only equal bools."""
    a, b = plain(a), plain(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b) and not (isinstance(a, Mapping) and isinstance(b, Mapping)):
        return False
    if isinstance(a, (list, Mapping)):
        if len(a) != len(b):
            return False
        if isinstance(a, list):
            return all(same_value(x, y) for x, y in zip(a, b))
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - exotic objects with odd __eq__
        return False


# --------------------------------------------------------------------------- one parameter


def _short(v: Any) -> str:
    """A repr short enough for an error message."""
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def _slack(bound: float) -> float:
    return _REL_TOL * abs(bound)


def q_bounds(lo: float, hi: float, q: float) -> tuple[int, int]:
    """The first and last k with k*q inside [lo, hi] as `check_value` judges it (k0 > k1: none).

    Exact rational arithmetic, so huge bounds or tiny q cannot loop or round the wrong way.
    """
    fq, tol = Fraction(q), q * _Q_TOL
    return math.ceil(Fraction(lo - min(_slack(lo), tol)) / fq), math.floor(Fraction(hi + min(_slack(hi), tol)) / fq)


def _q_range(spec: ParamSpec) -> tuple[int, int] | None:
    """The k with k*q inside [min, max], or None when q or a bound is absent."""
    if not spec.q or spec.min is None or spec.max is None:
        return None
    return q_bounds(spec.min, spec.max, spec.q)


def _q_value(spec: ParamSpec, k: int) -> int | float:
    """k*q typed for the spec, rounded to q's decimals (0.30000000000000004 -> 0.3)."""
    q = float(spec.q or 1.0)
    if spec.kind == "int":
        return int(k * Fraction(q))
    digits = _decimals(q)
    return float(round(k * q, digits)) if digits else float(k * q)


@functools.lru_cache(maxsize=256)
def _decimals(q: float) -> int:
    """How many decimals q is written with (0.05 -> 2): k*q is rounded to them (hot: every check)."""
    exponent = Decimal(repr(q)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _is_multiple(v: float, q: float) -> bool:
    try:
        k = v / q
    except OverflowError:
        return False
    if not math.isfinite(k):
        return False
    return abs(k - round(k)) <= max(_Q_TOL, abs(k) * 1e-14)  # k carries a few ulps of error


def check_value(spec: ParamSpec, value: Any) -> tuple[Any, list[str]]:
    """(coerced value, problems); only safe coercions (numeric strings, 3.0 -> 3, 32.0 -> 32, a value
    within round-off of a bound or a multiple of q moved exactly onto it: `exact`)."""
    if spec.kind in ("constant", "categorical"):
        for v in spec.values or []:
            if same_value(value, v):
                return v, []
        if spec.kind == "constant":
            return None, [f"{spec.name}: must be the constant {_short(spec.value)}, got {_short(value)}"]
        return None, [f"{spec.name}: {_short(value)} is not one of {_short(spec.values)}"]
    n = as_number(value)
    if n is None:
        want = "an integer" if spec.kind == "int" else "a number"
        return None, [f"{spec.name}: expected {want}, got {type(value).__name__} {_short(value)}"]
    if isinstance(n, float) and math.isnan(n):
        return None, [f"{spec.name}: NaN is not a valid number"]
    if isinstance(n, float) and math.isinf(n):
        return None, [f"{spec.name}: {n} is not finite"]
    errors: list[str] = []
    v: int | float
    if spec.kind == "int":
        if isinstance(n, float) and not n.is_integer():
            errors.append(f"{spec.name}: expected an integer, got {n!r}")
        v = int(n) if isinstance(n, int) else int(round(n))
    else:
        try:
            v = float(n)
        except OverflowError:
            return None, [f"{spec.name}: {_short(value)} is too large"]
    lo, hi = spec.min, spec.max
    if lo is not None and v < lo - _slack(lo):
        errors.append(f"{spec.name}: {_short(v)} is below the minimum {fixed(lo, 'g')}")
    if hi is not None and v > hi + _slack(hi):
        errors.append(f"{spec.name}: {_short(v)} is above the maximum {fixed(hi, 'g')}")
    if spec.q and not _is_multiple(v, spec.q):
        errors.append(f"{spec.name}: {_short(v)} is not a multiple of q={fixed(spec.q, 'g')}")
    return (None, errors) if errors else (exact(spec, v), [])


def exact(spec: ParamSpec, v: int | float) -> int | float:
    """A value `check_value` accepted within its round-off slack, moved exactly inside the space:
    onto the q grid (q's decimals) and within [min, max], so 0.5000000000005 with max 0.5 is 0.5."""
    lo, hi = spec.min, spec.max
    if spec.q:
        try:
            k = round(v / spec.q)
        except (OverflowError, ValueError):  # v/q past the float range: exact arithmetic
            k = round(Fraction(v) / Fraction(spec.q))
        v = _q_value(spec, k)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            k0, k1 = _q_range(spec) or (k, k)
            v = _q_value(spec, min(max(k, k0), k1))
    if spec.kind == "int":
        lo, hi = None if lo is None else math.ceil(lo), None if hi is None else math.floor(hi)
    v = lo if lo is not None and v < lo else v
    v = hi if hi is not None and v > hi else v
    return int(v) if spec.kind == "int" else float(v)


def center(spec: ParamSpec) -> float:
    """The midpoint of a range (geometric for log distributions), else the distribution's centre."""
    lo, hi = spec.min, spec.max
    if lo is not None and hi is not None:
        return math.exp((math.log(lo) + math.log(hi)) / 2) if spec.log else (lo + hi) / 2
    mu = spec.mu or 0.0
    return math.exp(min(mu, 700.0)) if spec.log else mu


def repair_number(spec: ParamSpec, x: float) -> int | float:
    """The nearest valid value to x: clip (value space), round to q, round to int."""
    lo, hi = spec.min, spec.max
    if math.isnan(x):
        x = center(spec)
    elif math.isinf(x):
        bound = hi if x > 0 else lo
        x = bound if bound is not None else center(spec)
    if lo is not None:
        x = max(x, lo)
    if hi is not None:
        x = min(x, hi)
    if spec.q:
        kq = x / spec.q
        if not math.isfinite(kq):
            kq = center(spec) / spec.q
        k = round(kq)
        krange = _q_range(spec)
        if krange is not None:
            k = min(max(k, krange[0]), krange[1])
        return exact(spec, _q_value(spec, k))
    return exact(spec, int(round(x)) if spec.kind == "int" else x)


def _norm(s: str) -> str:
    return "".join(s.split()).lower()


def _snap_categorical(spec: ParamSpec, value: Any) -> tuple[Any, str]:
    values = spec.values or []
    if value is MISSING:
        return values[0], "missing: used the first value"
    if isinstance(value, str):
        for v in values:
            if isinstance(v, (str, bool, int, float)) and _norm(str(v)) == _norm(value):
                return v, "matched ignoring case and whitespace"
    n = as_number(value)
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if n is not None and nums and not (isinstance(n, float) and math.isnan(n)):
        try:
            target = float(n)
        except OverflowError:
            target = math.inf if n > 0 else -math.inf
        if math.isinf(target):
            best = max(nums) if target > 0 else min(nums)
        else:
            best = min(nums, key=lambda v: abs(target - v))
        return best, f"{_short(value)} is not a value: used the nearest"
    text = value if isinstance(value, str) else _short(value)
    candidates: dict[str, Any] = {}
    for v in values:
        candidates.setdefault(_norm(str(v)), v)
    match = difflib.get_close_matches(_norm(text[:200]), list(candidates), n=1, cutoff=0.6)
    if match:
        return candidates[match[0]], f"{_short(value)} is not a value: used the closest spelling"
    return values[0], f"{_short(value)} is not a value: used the first value"


def snap_value(spec: ParamSpec, value: Any) -> tuple[Any, str | None]:
    """(nearest valid value, reason) for one parameter; reason is None when nothing changed."""
    errors: list[str] = []
    if value is not MISSING:
        v, errors = check_value(spec, value)
        if not errors:
            same = type(v) is type(value) and same_value(v, value)
            return v, None if same else f"converted {_short(value)} to {_short(v)}"
    if spec.kind == "constant":
        return spec.value, "missing: used the constant" if value is MISSING else f"must be {_short(spec.value)}"
    if spec.kind == "categorical":
        return _snap_categorical(spec, value)
    if value is MISSING:
        return repair_number(spec, center(spec)), "missing: used the midpoint"
    n = as_number(value)
    if n is None:
        return repair_number(spec, center(spec)), f"{_short(value)} is not a number: used the midpoint"
    try:
        x = float(n)
    except OverflowError:
        x = math.inf if n > 0 else -math.inf
    problems = "; ".join(e.split(": ", 1)[-1] for e in errors)
    return repair_number(spec, x), f"{problems}: used the nearest valid value"


def _safe_exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def sample_value(spec: ParamSpec, rng: np.random.Generator) -> Any:
    """One draw from the parameter's W&B distribution, then repaired so it is always valid."""
    if spec.kind == "constant":
        return spec.value
    values = spec.values or []
    if spec.kind == "categorical":
        return values[int(rng.choice(len(values), p=spec.probabilities))]
    d, lo, hi = spec.distribution, spec.min, spec.max
    if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
        x = float(rng.normal(spec.mu or 0.0, spec.sigma if spec.sigma is not None else 1.0))
        x = _safe_exp(x) if spec.log else x
    elif d in ("beta", "q_beta"):
        x = float(rng.beta(spec.a or 1.0, spec.b or 1.0))
    elif lo is None or hi is None:
        x = center(spec)
    elif d == "int_uniform" and max(abs(lo), abs(hi)) < 2**62:
        return int(rng.integers(int(lo), int(hi) + 1))
    elif spec.log:
        x = _safe_exp(float(rng.uniform(math.log(lo), math.log(hi))))
    else:
        with np.errstate(all="ignore"):
            x = float(rng.uniform(lo, hi))
    return repair_number(spec, x)


class _QGrid:
    """The multiples of q inside [min, max], as a lazy sequence."""

    def __init__(self, spec: ParamSpec, k0: int, k1: int) -> None:
        self.spec, self.k0, self.n = spec, k0, max(0, k1 - k0 + 1)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int | float:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return _q_value(self.spec, self.k0 + i)


def count(values: Any) -> int:
    """len() that also works past sys.maxsize (huge int ranges, fine q grids)."""
    if isinstance(values, _QGrid):
        return values.n
    if isinstance(values, range):
        return max(0, values.stop - values.start)
    return len(values)


def discrete_values(spec: ParamSpec) -> Any:
    """A sized, indexable sequence of every valid value, or None for a continuous parameter."""
    if spec.kind in ("constant", "categorical"):
        return list(spec.values or [])
    krange = _q_range(spec)
    if krange is not None:
        return _QGrid(spec, *krange)
    if spec.kind == "int" and spec.min is not None and spec.max is not None:
        return range(math.ceil(spec.min), math.floor(spec.max) + 1)
    return None
