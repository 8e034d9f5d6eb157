"""LLM text -> validated answer: find the JSON object, read its configs, keep only valid ones.

A local model may answer with prose around the JSON, a ```json fence, trailing chatter or a reply
cut off by the token limit; a reasoning model thinks first, in `<think>` tags, often writing a draft
object or two there or in the prose before its answer. So the answer is the *last* complete object
outside `<think>` blocks (preferring one with the answer's keys), never the first brace. `parse_answer`
recovers what it can, validates every config against the
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
as newlines inside strings, which llama.cpp grammars let through), a ```json fence, the last object
embedded in prose, or the longest usable prefix of a cut-off reply."""

MAX_TEXT = 200_000  # longer replies are cut before parsing (bounds the work on arbitrary input)
MAX_STARTS = 64  # top-level objects tried (the last ones) when the answer is embedded in prose
MAX_DEPTH = 64  # deeper nesting is not an answer (and would make salvage quadratic)
MAX_CONFIGS = 50  # configs read from one reply
MAX_EXPLANATION = 4000

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_EXPLANATION_KEY = re.compile(r'"explanation"\s*:\s*$')
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
ANSWER_KEYS = ("configs", "config")


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


def without_thinking(text: str) -> str:
    """`text` without its `<think>...</think>` blocks; a lone closing tag drops everything before it
    (templates that open the block themselves), a lone opening tag everything after it (the reply was
    cut off while thinking)."""
    text = _THINK.sub(" ", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end():]
    opened = _THINK_OPEN.search(text)
    return text[: opened.start()] if opened else text


def extract_json(text: Any, prefer: Sequence[str] = ()) -> tuple[Any, Extraction]:
    """The answer object in a reply, and how it was found; LLMOutputError if there is none.

    The whole reply if it is JSON; else, outside `<think>` blocks, the last complete top-level object
    (the last one with a `prefer` key, if any has one); a cut-off object after it is salvaged when
    it is the answer (it has a `prefer` key, or nothing complete came before it)."""
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
    text = without_thinking(text)
    spans, open_at = _top_level_objects(text)
    if not spans and open_at is None:
        raise LLMOutputError("no JSON object in the reply: expected one object starting with '{'")
    fences = [m.span(1) for m in _FENCE.finditer(text)]
    found: list[tuple[dict[str, Any], Extraction]] = []
    first_error = ""
    for start, end in spans[-MAX_STARTS:]:
        obj = _loads(text[start:end])
        if isinstance(obj, dict):
            fenced = any(a <= start and end <= b for a, b in fences)
            found.append((obj, "fenced" if fenced else "embedded"))
        elif obj is None and not first_error:
            first_error = _decode_error(text[start:end])
    preferred = [f for f in found if any(k in f[0] for k in prefer)] or found
    if open_at is not None:
        salvaged = salvage_truncated(text[open_at:])
        if salvaged is not None and (not preferred or any(k in salvaged for k in prefer)):
            return salvaged, "truncated"
        if not found:
            _salvage_or_raise(text, open_at)
    if preferred:
        return preferred[-1]
    raise LLMOutputError(f"the JSON object in the reply is not valid JSON ({first_error or 'unreadable'})")


def _decode_error(text: str) -> str:
    try:
        json.loads(text, strict=False)
    except (ValueError, RecursionError) as e:
        return str(e)
    return "not an object"


def _top_level_objects(s: str) -> tuple[list[tuple[int, int]], int | None]:
    """The (start, end) of every balanced top-level `{...}` (strings skipped), in one pass, and where an
    object that never closes starts (None if every one closes). A `}` with no `{` open is prose."""
    spans: list[tuple[int, int]] = []
    depth, start, in_str, esc = 0, 0, False, False
    for i, ch in enumerate(s):
        if depth and in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif depth and ch == '"':
            in_str = True
        elif depth and ch == "}":
            depth -= 1
            if depth == 0:
                spans.append((start, i + 1))
    return spans, (start if depth else None)


def _salvage_or_raise(text: str, pos: int) -> tuple[dict[str, Any], Extraction]:
    salvaged = salvage_truncated(text[pos:])
    if salvaged is None:
        raise LLMOutputError(
            f"the reply was cut off: the JSON object starting at character {pos} never closes and "
            "nothing usable could be recovered (raise max_tokens, or ask for a shorter explanation)"
        )
    return salvaged, "truncated"


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
    obj, how = extract_json(text, prefer=ANSWER_KEYS)
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
