"""The code check an LLM's explanation passes before anyone sees it (issue 13, DESIGN.md §4): real
text of a sensible length, naming the chosen config's key values, quoting only numbers found in what
the model was shown. A failed check means the user gets the digest's explanation instead
(recommend/pipeline.py). Pure (standard library + pydantic).

Tested in tests/recommend/test_explanation_check.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

MIN_WORDS = 8
"""One sentence that names two config values and a reason ("resnet50 with lr 0.001 because ...") is
about 8 words; fewer cannot both name the choice and say why."""
MAX_CHARS = 1500
"""The prompt asks for two to four sentences (~40-120 words, ~250-750 characters); twice the longest
leaves room for a verbose but honest model and still catches one that rambles to the token limit."""
MIN_LETTER_SHARE = 0.6
"""Share of letters among non-space characters: English prose is ~0.8 even with numbers and names;
JSON, code, number lists and `}` `{` fall well below."""
MIN_DISTINCT_TRIGRAMS = 0.5
"""Distinct word trigrams / all trigrams: prose repeats few; a generation loop repeats most."""
FREE_INTEGERS = 10
"""Bare integers up to this (no % sign) are counts and ordinals ("the 3 closest datasets"), not metrics."""

_NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+−]?\d+)?(?:\s?%)?(?![\w])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_END = re.compile(r"[.!?][\"'’”)\]]*$")
_CODE = re.compile(r"[{}]|```|\[\s*[{\[\"]|\"\s*:")


class ExplanationVerdict(BaseModel):
    """Whether an explanation may be shown, and every reason it may not."""

    ok: bool
    reasons: list[str] = Field(default_factory=list)
    named_values: list[str] = Field(default_factory=list, description="the config values it names")
    unfound_numbers: list[str] = Field(default_factory=list, description="numbers quoted but not in the sources")

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


# --------------------------------------------------------------------------- numbers


def _parse(token: str) -> tuple[float, int, bool]:
    """(value, significant digits as written, is a percentage) of a number token."""
    t = token.replace("−", "-").replace(",", "").replace(" ", "")
    pct = t.endswith("%")
    t = t.rstrip("%").lstrip("+-")
    mantissa = re.split(r"[eE]", t)[0]
    digits = mantissa.replace(".", "").lstrip("0")
    if "." not in mantissa:
        digits = digits.rstrip("0")  # 120: trailing zeros of an integer are not significant
    return float(t), max(1, len(digits)), pct


def _round_sig(x: float, d: int) -> float:
    return 0.0 if x == 0 else round(x, d - 1 - math.floor(math.log10(abs(x))))


def _close(x: float, sig: int, v: float) -> bool:
    """`x` (written with `sig` significant digits) is `v` as written to at least 2 significant digits:
    rounded either way, or cut (one unit of its last digit)."""
    x, v = abs(x), abs(v)
    if x == v:
        return True
    if x == 0 or v == 0:
        return False
    d = max(sig, 2)
    unit = 10 ** (math.floor(math.log10(x)) - d + 1)
    return _round_sig(v, d) == _round_sig(x, d) or abs(x - v) <= unit * (1 + 1e-9)


def numbers_in(value: Any) -> list[float]:
    """Every number in a value: numbers themselves, numbers written in text, and inside lists, dicts
    (keys too) and pydantic models."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [float(value)] if math.isfinite(value) else []
    if isinstance(value, str):
        return [_parse(m.group())[0] for m in _NUMBER.finditer(value)]
    if isinstance(value, BaseModel):
        return numbers_in(value.model_dump())
    if isinstance(value, Mapping):
        return [n for k, v in value.items() for n in (*numbers_in(str(k)), *numbers_in(v))]
    if isinstance(value, Iterable):
        return [n for v in value for n in numbers_in(v)]
    return []


def signed_numbers(value: Any) -> list[float]:
    """The numbers written with an explicit sign ("+0.315", "(−0.390)") in the text of a value: how the
    digest writes a SHAP effect."""
    if isinstance(value, str):
        return [(-1 if m.group()[0] in "-−" else 1) * _parse(m.group())[0] for m in _NUMBER.finditer(value)
                if m.group()[0] in "+-−"]
    if isinstance(value, BaseModel):
        return signed_numbers(value.model_dump())
    if isinstance(value, Mapping):
        return [n for v in value.values() for n in signed_numbers(v)]
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return [n for v in value for n in signed_numbers(v)]
    return []


def _effect_found(token: str, effects: Sequence[float]) -> bool:
    """A signed number is an effect: found among the effects with the same sign ("+0.899" is not the
    predicted percentile 0.899, and "-0.2" is not a dropout of 0.2)."""
    x, sig, _ = _parse(token)
    negative = token.strip()[0] in "-−"
    return any(_close(x, sig, v) and (v < 0) == negative for v in effects)


def _found(token: str, sources: Sequence[float]) -> bool:
    x, sig, pct = _parse(token)
    if not pct and x == int(x) and abs(x) <= FREE_INTEGERS and "." not in token:
        return True
    readings = [x / 100] if pct else [x, x / 100]  # "85%" and "85" may both be a fraction's percentage
    if pct:
        readings.append(x)
    return any(_close(r, sig, v) for v in sources for r in readings)


# --------------------------------------------------------------------------- config values


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.lower()).strip()


def _names_value(text: str, norm_text: str, tokens: Sequence[str], value: Any) -> bool:
    """The explanation states `value`: a number in any format (0.001, 1e-3, 0.1%), or a name,
    case-, dash- and underscore-insensitive."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return any(_close(r, _parse(t)[1], float(value)) for t in tokens
                   for r in ((_parse(t)[0] / 100,) if _parse(t)[2] else (_parse(t)[0],)))
    name = _norm(str(value))
    return bool(name) and re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", norm_text) is not None


# --------------------------------------------------------------------------- the check


def _text_problems(text: str) -> list[str]:
    stripped = text.strip()
    words = _WORD.findall(stripped)
    if len(stripped) > MAX_CHARS:
        return [f"too long ({len(stripped)} characters, at most {MAX_CHARS})"]
    if len(words) < MIN_WORDS:
        return [f"too short ({len(words)} words, at least {MIN_WORDS})"]
    problems = []
    if not _END.search(stripped):
        problems.append("unfinished (it stops mid-sentence)")
    if _CODE.search(stripped):
        problems.append("looks like JSON or code, not prose")
    visible = [c for c in stripped if not c.isspace()]
    if sum(c.isalpha() for c in visible) < MIN_LETTER_SHARE * len(visible):
        problems.append("mostly symbols or numbers, not prose")
    lowered = [w.lower() for w in words]
    trigrams = list(zip(lowered, lowered[1:], lowered[2:], strict=False))
    if len(trigrams) >= 6 and len(set(trigrams)) < MIN_DISTINCT_TRIGRAMS * len(trigrams):
        problems.append("repeats itself (a generation loop)")
    return problems


def check_explanation(
    text: str,
    config: Mapping[str, Any],
    *,
    key_params: Sequence[str] = (),
    sources: Sequence[Any] = (),
    effects: Sequence[float] = (),
    value_effects: Sequence[tuple[str, float]] | None = None,
) -> ExplanationVerdict:
    """Check `text` explains `config`.

    `key_params`: the parameters that matter most (SHAP order); the text must name the value of one of
    the first two that has a nameable value, and at least two of the config's values in all (one when
    the config has one). `sources`: everything the model was shown or the record states (evidence,
    digest, config, prediction, meta-features); each number the text quotes must be found there. A
    number written with a sign is a SHAP effect: it must be one of the sources' signed numbers (the
    digest's) or of `effects` (those the model was told), sign included. `value_effects` (each value's
    SHAP effect in the summary), when given, also checks whose effect it is: another value's effect
    counts only when the text names that value ("partial_30 helps (+0.034)" where +0.034 is `full`'s is
    a misquote); a signed number that is no value's effect (a negative metric) only has to be found.
    """
    problems = _text_problems(text or "")
    if problems and problems[0].startswith(("too long", "too short")):
        return ExplanationVerdict(ok=False, reasons=problems)
    norm_text, tokens = _norm(text), [m.group() for m in _NUMBER.finditer(text)]
    named = [k for k, v in config.items() if _names_value(text, norm_text, tokens, v)]
    nameable = [k for k, v in config.items() if not isinstance(v, bool) and v is not None]
    need = min(2, len(nameable))
    if len(named) < need:
        problems.append(f"names {len(named)} of the chosen config's values (at least {need})")
    top = [k for k in key_params if k in nameable][:2]
    if top and not set(top) & set(named):
        problems.append("does not name the value of " + " or ".join(top) + " (the most influential by SHAP)")
    pool = numbers_in([*sources, dict(config)])
    # signed quotes: the digest's written effects, and negative values the sources hold as numbers (a
    # negated loss such as val/neg_mse -0.312 in an evidence record); numbers_in keeps a number's sign
    # and drops the sign of numbers in text, so its negatives are exactly the numeric ones
    signed = [*signed_numbers(list(sources)), *(v for v in numbers_in(list(sources)) if v < 0)]
    misattributed: list[str] = []
    if value_effects is None:
        allowed = [*signed, *effects]
        unfound = [t.strip() for t in tokens
                   if not (_effect_found(t, allowed) if t.strip()[0] in "+-−" else _found(t, pool))]
    else:
        named_effects = [*effects, *(e for v, e in value_effects if _names_value(text, norm_text, tokens, _value(v)))]
        every_effect = [e for _, e in value_effects]
        unfound = []
        for t in tokens:
            if t.strip()[0] not in "+-−":
                if not _found(t, pool):
                    unfound.append(t.strip())
            elif not _effect_found(t, named_effects):
                if _effect_found(t, every_effect):
                    misattributed.append(t.strip())
                elif not _effect_found(t, signed):
                    unfound.append(t.strip())
    if unfound:
        problems.append("quotes numbers found nowhere in the evidence: " + ", ".join(unfound[:5]))
    if misattributed:
        problems.append("quotes the SHAP effect of a value it does not name: " + ", ".join(misattributed[:5]))
    return ExplanationVerdict(ok=not problems, reasons=problems, named_values=named,
                              unfound_numbers=[*unfound, *misattributed])


def _value(text: str) -> Any:
    """A summary's value as the config holds it: a number when it reads as one, else the name."""
    try:
        return float(text)
    except ValueError:
        return text
