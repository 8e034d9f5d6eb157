"""LLM text -> validated answer: find the JSON object, read its configs, keep only valid ones.

A local model may answer with prose around the JSON, a ```json fence, trailing chatter or a reply
cut off by the token limit. `parse_answer` recovers what it can, validates every config against the
search space, and returns only valid configs (the rest with their errors, for a repair prompt). It
never raises on any text except `LLMOutputError`, whose message says what was wrong in words a
repair prompt can send back. Pure: no network, no client. A judge's scores are read by the judge
(llm/judge.py), with `extract_json` from here.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from metallmix_wandb.space.search_space import SearchSpace

Extraction = Literal["strict", "lenient", "fenced", "embedded", "truncated"]
"""How the object was found: the whole reply (strict JSON, or `lenient`: raw control characters such
as newlines inside strings, which llama.cpp grammars let through), a ```json fence, the first object
embedded in prose, or the longest usable prefix of a cut-off reply."""

MAX_TEXT = 200_000  # longer replies are cut before parsing (bounds the work on arbitrary input)
MAX_STARTS = 64  # '{' positions tried when the object is embedded in prose
MAX_DEPTH = 64  # deeper nesting is not an answer (and would make salvage quadratic)
MAX_CONFIGS = 50  # configs read from one reply
MAX_EXPLANATION = 4000

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_EXPLANATION_KEY = re.compile(r'"explanation"\s*:\s*$')


class LLMOutputError(ValueError):
    """The reply holds no usable JSON object; the message says why (it is sent back to the model)."""


class ParsedAnswer(BaseModel):
    """What a reply gave: only valid configs in `configs`; the others with their errors in `invalid`."""

    configs: list[dict[str, Any]] = Field(default_factory=list, description="valid, flat, deduplicated")
    invalid: list[tuple[Any, list[str]]] = Field(default_factory=list, description="(raw config, errors)")
    explanation: str = ""
    raw_valid_json: bool = Field(description="the whole reply was one JSON object, nothing else")
    extraction: Extraction = "strict"
    shape_problems: list[str] = Field(default_factory=list)
    format_score: int = Field(ge=0, le=4, description="how well the reply kept to the format, computed in code")

    @property
    def ok(self) -> bool:
        return bool(self.configs)

    def problems(self) -> list[str]:
        """Everything wrong with the reply, for a repair prompt."""
        out = list(self.shape_problems)
        if self.extraction == "truncated":
            out.insert(0, "the reply was cut off before the JSON object closed: keep the explanation short")
        elif self.extraction == "lenient":
            out.insert(0, "raw control characters (such as line breaks) inside a JSON string: escape them")
        for i, (_, errors) in enumerate(self.invalid, start=1):
            out.extend(f"configs[{i}]: {e}" for e in errors)
        return out


# --------------------------------------------------------------------------- finding the JSON


def _loads(text: str, strict: bool = False) -> Any:
    """json.loads (raw control characters in strings allowed unless `strict`); None if it fails."""
    try:
        return json.loads(text, strict=strict)
    except (ValueError, RecursionError):
        return None


def _closers(stack: Sequence[str]) -> str:
    return "".join("}" if c == "{" else "]" for c in reversed(stack))


def salvage_truncated(s: str) -> dict[str, Any] | None:
    """The longest prefix of a cut-off object that parses once its brackets are closed.

    Cuts only where a value has ended (at `,`, after `}`/`]`, after `{`/`[`), so a cut-off number or
    string never becomes a different valid value ("partial_1" of "partial_10"). The one exception is
    a cut-off top-level "explanation" string, which is closed and marked with an ellipsis.
    """
    stack: list[str] = []
    in_str = esc = False
    str_start = 0
    cuts: deque[tuple[int, tuple[str, ...]]] = deque(maxlen=40)  # the latest cut points are the useful ones
    for i, ch in enumerate(s):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str, str_start = True, i
        elif ch in "{[":
            stack.append(ch)
            if len(stack) > MAX_DEPTH:
                return None
            cuts.append((i + 1, tuple(stack)))
        elif ch in "}]":
            if not stack or (ch == "}") != (stack[-1] == "{"):
                return None  # mismatched: malformed, not truncated
            stack.pop()
            if not stack:
                return None  # the object closed: it is malformed, not truncated
            cuts.append((i + 1, tuple(stack)))
        elif ch == ",":
            cuts.append((i, tuple(stack)))
    if not stack:
        return None
    candidates: list[str] = []
    if in_str and len(stack) == 1 and _EXPLANATION_KEY.search(s[:str_start]):
        body = s[str_start + 1:]
        for drop in range(0, 7):  # a cut-off escape (\u00) needs a few characters dropped
            part = body[: len(body) - drop] if drop else body
            candidates.append(s[: str_start + 1] + part + '..."}')
    candidates.extend(s[:cut] + _closers(st) for cut, st in reversed(cuts))
    for cand in candidates:
        obj = _loads(cand)
        if isinstance(obj, dict):
            return obj or None  # `{}` from `{"conf` recovered nothing
    return None


def extract_json(text: Any) -> tuple[Any, Extraction]:
    """The first JSON object in a reply, and how it was found; LLMOutputError if there is none."""
    if not isinstance(text, str):
        raise LLMOutputError(f"the reply is not text (got {type(text).__name__})")
    text = text[:MAX_TEXT]
    stripped = text.strip()
    if not stripped:
        raise LLMOutputError("the reply is empty: expected one JSON object")
    for strict, how in ((True, "strict"), (False, "lenient")):
        whole = _loads(stripped, strict=strict)
        if isinstance(whole, (dict, list)):
            return whole, how  # type: ignore[return-value]
    for match in _FENCE.finditer(text):
        obj = _loads(match.group(1).strip())
        if isinstance(obj, dict):
            return obj, "fenced"
    decoder = json.JSONDecoder(strict=False)
    starts = [m.start() for m in re.finditer(r"\{", text)][:MAX_STARTS]
    if not starts:
        raise LLMOutputError("no JSON object in the reply: expected one object starting with '{'")
    first_error, after = "", -1
    for pos in starts:
        if pos < after:
            continue  # inside a balanced {...} already tried: its inner objects are not the answer
        try:
            obj, _ = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as e:
            first_error = first_error or str(e)
            end = _span_end(text, pos)
            if end is None:  # never closes: a cut-off reply, not prose with a stray brace
                return _salvage_or_raise(text, pos)
            after = end
            continue
        if isinstance(obj, dict):
            return obj, "embedded"
    raise LLMOutputError(f"the JSON object in the reply is not valid JSON ({first_error or 'unreadable'})")


def _salvage_or_raise(text: str, pos: int) -> tuple[dict[str, Any], Extraction]:
    salvaged = salvage_truncated(text[pos:])
    if salvaged is None:
        raise LLMOutputError(
            f"the reply was cut off: the JSON object starting at character {pos} never closes and "
            "nothing usable could be recovered (raise max_tokens, or ask for a shorter explanation)"
        )
    return salvaged, "truncated"


def _span_end(s: str, pos: int) -> int | None:
    """The index just past the bracket closing the one at `pos` (strings skipped); None if never."""
    depth, in_str, esc = 0, False, False
    for i in range(pos, len(s)):
        ch = s[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


# --------------------------------------------------------------------------- reading the answer


def _raw_configs(obj: Any, space: SearchSpace, problems: list[str]) -> list[Any]:
    """The configs the reply meant, accepting the usual near-misses (each noted as a shape problem)."""
    if isinstance(obj, list):
        problems.append('top level is an array: expected {"configs": [...], "explanation": "..."}')
        return obj
    if not isinstance(obj, dict):
        problems.append("top level is not a JSON object")
        return []
    for key in ("configs", "config"):
        if key in obj:
            if key == "config":
                problems.append('key "config" used instead of "configs"')
            value = obj[key]
            if isinstance(value, list):
                return value
            if isinstance(value, dict):
                problems.append(f'"{key}" is an object: expected an array of configurations')
                return [value]
            problems.append(f'"{key}" is not an array of configurations')
            return []
    flat = space.flatten({k: v for k, v in obj.items() if k != "explanation"})
    if any(name in space.params for name in flat):
        problems.append('a bare configuration: expected {"configs": [...], "explanation": "..."}')
        return [{k: v for k, v in obj.items() if k != "explanation"}]
    problems.append('no "configs" key')
    return []


def _explanation(obj: Any, problems: list[str]) -> str:
    value = obj.get("explanation") if isinstance(obj, dict) else None
    if value is None:
        problems.append('no "explanation"')
        return ""
    if not isinstance(value, str):
        problems.append('"explanation" is not a string')
        value = json.dumps(value, ensure_ascii=False, default=str)
    value = value.strip()
    return value if len(value) <= MAX_EXPLANATION else value[:MAX_EXPLANATION] + "..."


def format_score(extraction: Extraction | None, shape_problems: int, n_valid: int, n_invalid: int) -> int:
    """0-4 from how the reply kept to the format (the judge's `format` criterion, computed in code).

    4 = one strict JSON object of the right shape, every config valid; -1 if it had to be dug out of
    prose or a fence or held raw control characters, -2 if it was cut off; -1 for shape slips; -1 if some configs were invalid, -2 if
    none was valid. 0 when no JSON object could be found at all.
    """
    if extraction is None:
        return 0
    score = 4
    score -= {"strict": 0, "lenient": 1, "fenced": 1, "embedded": 1, "truncated": 2}[extraction]
    score -= 1 if shape_problems else 0
    if n_valid == 0:
        score -= 2
    elif n_invalid:
        score -= 1
    return max(0, score)


def parse_answer(text: Any, space: SearchSpace, max_configs: int | None = None) -> ParsedAnswer:
    """Parse and validate one reply; raises only LLMOutputError (no JSON object to be found)."""
    obj, how = extract_json(text)
    try:
        return _read(obj, how, space, max_configs)
    except LLMOutputError:
        raise
    except Exception as e:  # noqa: BLE001 - the contract: any text gives an answer or LLMOutputError
        raise LLMOutputError(f"the reply could not be read ({type(e).__name__}: {e})") from None


def _read(obj: Any, how: Extraction, space: SearchSpace, max_configs: int | None) -> ParsedAnswer:
    problems: list[str] = []
    if isinstance(obj, dict):
        extra = [k for k in obj if k not in ("configs", "config", "explanation") and k not in space.params]
        if extra and ("configs" in obj or "config" in obj):
            problems.append(f"unexpected top-level keys {extra[:5]}")
    raws = _raw_configs(obj, space, problems)
    explanation = _explanation(obj, problems)
    if len(raws) > MAX_CONFIGS:
        problems.append(f"{len(raws)} configurations: only the first {MAX_CONFIGS} were read")
        raws = raws[:MAX_CONFIGS]
    valid: list[dict[str, Any]] = []
    invalid: list[tuple[Any, list[str]]] = []
    seen: set[str] = set()
    for raw in raws:
        result = space.validate_config(raw)
        if not result.ok or result.config is None:
            invalid.append((raw, result.errors or ["invalid"]))
            continue
        key = json.dumps(result.config, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            valid.append(result.config)
    if max_configs is not None and len(valid) > max_configs:
        problems.append(f"{len(valid)} valid configurations: at most {max_configs} were asked for")
        valid = valid[:max_configs]
    return ParsedAnswer(
        configs=valid, invalid=invalid, explanation=explanation, raw_valid_json=how == "strict" and isinstance(obj, dict),
        extraction=how, shape_problems=problems,
        format_score=format_score(how, len(problems), len(valid), len(invalid)),
    )


def format_score_of(text: Any, space: SearchSpace, max_configs: int | None = None) -> int:
    """The code-computed format score of any reply (0 when no JSON object can be found)."""
    try:
        return parse_answer(text, space, max_configs).format_score
    except LLMOutputError:
        return 0
