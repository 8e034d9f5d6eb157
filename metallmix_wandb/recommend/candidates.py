"""The LLM chooses inside the meta-learner's confidence set (DESIGN.md §4): which candidates are offered,
the answer's schema and how it is read, and the rule that decides whether the LLM's pick stands.

- `offer`: from the meta-learner's ranking of the space, a short diverse list: the best first, then
  each next-best config that differs from every one chosen in at least one of the parameters SHAP
  finds most influential (so the LLM chooses between real alternatives, not near-copies of one);
- `decide`: the LLM's pick stands when the meta-learner's interval for it overlaps the best
  candidate's (the two are statistically indistinguishable, so what the LLM knows breaks the tie);
  and when its predicted percentile is within `TIE` of the best's (the intervals of one dataset's
  configs nearly always overlap: their errors are shared, so overlap alone does not make a tie);
  otherwise the best candidate wins, and the record says the pick was overruled and why. No answer,
  or an unusable one, gives the best candidate: a weak or hostile model cannot pull the result out
  of the set.
Pure: pydantic, the space and the SHAP summary records only. Tested in tests/recommend/test_candidates.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from metallmix_wandb.llm.output import LLMOutputError, extract_json
from metallmix_wandb.llm.schemas import config_schema, text_schema
from metallmix_wandb.numbers import short
from metallmix_wandb.recommend.record import Candidate, ScoredConfig, SetChoice

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.shap_summary import FeatureImportance, ShapSummary, ValueEffect
    from metallmix_wandb.space.search_space import SearchSpace

OFFER = 6
"""Candidates offered by default: enough to hold real alternatives, few enough for a compact prompt."""
TOP_PARAMS = 3
"""Parameters (most influential by SHAP first) a candidate must differ in from every one before it."""
OWN = 0
"""The id with which the LLM says it proposes a config of its own (in `config`)."""
TIE = 0.005
"""Largest gap in predicted percentile (0-1) between the LLM's pick and the best candidate for the pick to
stand, on top of overlapping intervals. The ~80% intervals alone are too wide to bound anything: on the
NAS-Bench-201 sub-grid every offered candidate's interval overlapped the best's (0.55-1.0), and an LLM
that always took the worst one lost 12 percentile points (median 0.881 against the meta-learner's 1.0);
with this margin it loses under 2 (tests/evaluate/test_hostile_llm.py). The LLM breaks ties."""


# --------------------------------------------------------------------------- the diverse set


def top_params(summary: ShapSummary | None, tunable: Sequence[str], n: int = TOP_PARAMS) -> list[str]:
    """The `n` tunable parameters with the largest mean |SHAP|; the space's order when there is no summary."""
    ranked = [f.feature for f in summary.features if f.source == "param"] if summary else []
    ordered = [p for p in ranked if p in tunable] + [p for p in tunable if p not in ranked]
    return ordered[:n]


def value_key(value: Any) -> Any:
    """What counts as a different value: floats at 1 significant digit (1e-3 and 1.1e-3 are the same
    choice of a continuous parameter; 1e-3 and 3e-3 are not), anything else as it is."""
    return f"{value:.1g}" if isinstance(value, float) else json.dumps(value, sort_keys=True, default=str)


def _key(config: Mapping[str, Any], params: Sequence[str]) -> tuple[Any, ...]:
    return tuple(value_key(config.get(p)) for p in params)


def diverse(ranked: Sequence[ScoredConfig], params: Sequence[str], n: int = OFFER) -> list[ScoredConfig]:
    """Greedy, best first: each next config that differs from all chosen in at least one of `params`.
    When that leaves fewer than `n`, the next best configs that differ in any parameter fill up."""
    chosen: list[ScoredConfig] = []
    seen: set[tuple[Any, ...]] = set()
    for s in ranked:
        key = _key(s.config, params)
        if key not in seen:
            seen.add(key)
            chosen.append(s)
        if len(chosen) >= n:
            return chosen
    for s in ranked:
        if len(chosen) >= n:
            break
        if all(_key(s.config, list(s.config)) != _key(c.config, list(s.config)) for c in chosen):
            chosen.append(s)
    return chosen


def value_effect(feature: FeatureImportance, value: Any) -> ValueEffect | None:
    """The SHAP summary's entry for the runs that had this value (or whose bin holds it)."""
    for e in feature.by_value:
        if e.low is not None and e.high is not None and isinstance(value, int | float):
            if e.low <= value <= e.high:
                return e
        elif e.value == short(value) or e.value == str(value):
            return e
    return None


def shap_reasons(config: Mapping[str, Any], summary: ShapSummary | None, params: Sequence[str]) -> list[str]:
    """`param=value (+0.12)` for the top parameters: the mean SHAP (on the predicted percentile) of the
    past runs with that value, taken from the summary the digest is written from (no SHAP is run)."""
    out = []
    for p in params:
        feature = summary.feature(p) if summary else None
        effect = value_effect(feature, config.get(p)) if feature else None
        if effect is not None:
            out.append(f"{p}={short(config.get(p))} ({effect.mean_shap:+.3f})")
    return out


def offer(ranked: Sequence[ScoredConfig], summary: ShapSummary | None, tunable: Sequence[str],
          n: int = OFFER) -> list[Candidate]:
    """The candidates offered to the LLM, ids 1..n, in the meta-learner's order (best first; the order may
    blend a Gaussian process with the percentile booster, so the shown scores need not fall steadily)."""
    params = top_params(summary, tunable)
    picked = diverse(ranked, params, n)
    return [Candidate(id=i, scored=s, reasons=shap_reasons(s.config, summary, params))
            for i, s in enumerate(picked, start=1)]


# --------------------------------------------------------------------------- the rule


def overlaps(a: ScoredConfig, b: ScoredConfig) -> bool:
    """The meta-learner's intervals for a and b share at least one point."""
    return a.low <= b.high and b.low <= a.high


def tied(pick: ScoredConfig, best: ScoredConfig, tie: float = TIE) -> bool:
    """The pick is statistically indistinguishable from the best: intervals overlap and the predicted
    percentiles differ by at most `tie`."""
    return overlaps(pick, best) and best.score - pick.score <= tie + 1e-12


def decide(offered: Sequence[Candidate], pick: int | None, own: ScoredConfig | None = None,
           problem: str = "", tie: float = TIE) -> SetChoice:
    """The final choice: the LLM's pick (an offered id, or `OWN` with its config scored as `own`) when it
    is `tied` with the best candidate; else the best, overruled, with why."""
    best = offered[0].scored
    if pick is None:
        return SetChoice(offered=list(offered), reason=f"the LLM gave no usable choice ({problem or 'no answer'}); "
                                                       "the meta-learner's best candidate (#1) stands")
    scored = own if pick == OWN else offered[pick - 1].scored
    what = "its own config" if pick == OWN else f"candidate #{pick}"
    if scored is None:
        raise ValueError("a config of the LLM's own needs its score")
    interval = f"predicted percentile {scored.score:.2f}, interval {scored.low:.2f}-{scored.high:.2f}"
    if tied(scored, best, tie):
        return SetChoice(offered=list(offered), pick=pick, pick_scored=scored,
                         reason=f"the LLM chose {what} ({interval}), tied with the best candidate "
                                f"({best.score:.2f}, interval {best.low:.2f}-{best.high:.2f})")
    why = (f"its interval does not overlap the best candidate's ({best.low:.2f}-{best.high:.2f})"
           if not overlaps(scored, best) else
           f"it is predicted {best.score - scored.score:.3f} below the best candidate ({best.score:.2f}), "
           f"more than the {tie:.3f} a tie allows")
    return SetChoice(offered=list(offered), pick=pick, pick_scored=scored, overruled=True,
                     reason=f"the LLM chose {what} ({interval}), but {why}: the meta-learner's best (#1) was kept")


def chosen(decision: SetChoice) -> ScoredConfig:
    """The config that stands: the LLM's pick, or the best candidate."""
    if decision.pick_scored is not None and not decision.overruled:
        return decision.pick_scored
    return decision.offered[0].scored


# --------------------------------------------------------------------------- the answer


def pick_schema(space: SearchSpace, n: int, explanation_max_chars: int | None = None,
                explanation: bool = True, exclusive: bool = False) -> dict[str, Any]:
    """{"candidate": 0..n, "config": null or a config of the space, "explanation": str}, strict; without
    "explanation" when it is asked for in a plain-text call after (recommend/explain_text.py).

    `exclusive`: two shapes, an offered id with "config": null, or 0 with a config (a top-level anyOf:
    llama.cpp's grammar takes it, OpenAI's strict mode does not). SmolLM2 otherwise wrote a whole config
    after "candidate": 1 (55 of its 68 tokens), which `read_pick` ignores and the judge then re-reads."""
    props: dict[str, Any] = {
        "candidate": {"type": "integer", "enum": list(range(OWN, n + 1))},
        "config": {"anyOf": [{"type": "null"}, config_schema(space)]},
    }
    if explanation:
        props["explanation"] = text_schema(explanation_max_chars)
    if exclusive:
        offered = {**props, "candidate": {"type": "integer", "enum": list(range(OWN + 1, n + 1))},
                   "config": {"type": "null"}}
        own = {**props, "candidate": {"type": "integer", "enum": [OWN]}, "config": config_schema(space)}
        return {"anyOf": [{"type": "object", "properties": p, "required": list(p), "additionalProperties": False}
                          for p in (offered, own)]}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def pick_format_rule(n: int, explanation: bool = True) -> str:
    """The output-format paragraph for `pick_schema`, written beside it so the two never drift."""
    why = ', "explanation": "<why>"' if explanation else ""
    rule = (
        f'Output format: one JSON object only: {{"candidate": <id 1-{n}>, "config": null{why}}}, or '
        f'"candidate": {OWN} with your own "config": a value for every "search_space" parameter, inside it.'
    )
    return rule + (' "explanation": two to four sentences on why, citing the evidence.' if explanation else "")


class PickAnswer(BaseModel):
    """What a reply chose: an offered id, or `OWN` with a valid config; or the problems, for a repair."""

    pick: int | None = None
    config: dict[str, Any] | None = None
    explanation: str = ""
    problems: list[str] = Field(default_factory=list)
    raw_valid_json: bool = False

    @property
    def ok(self) -> bool:
        return self.pick is not None


def _as_int(x: Any) -> int | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, str) and x.strip().lstrip("#").isdigit():
        return int(x.strip().lstrip("#"))
    return None


def read_pick(text: Any, n: int, space: SearchSpace) -> PickAnswer:
    """Read one reply; never raises (what was wrong is in `problems`)."""
    try:
        obj, how = extract_json(text, prefer=("candidate",))
    except LLMOutputError as e:
        return PickAnswer(problems=[str(e)])
    if not isinstance(obj, dict):
        return PickAnswer(problems=["the reply is not a JSON object"])
    explanation = obj.get("explanation") if isinstance(obj.get("explanation"), str) else ""
    strict = how == "strict"
    pick = _as_int(obj.get("candidate"))
    if pick is None or not OWN <= pick <= n:
        return PickAnswer(explanation=explanation, raw_valid_json=strict,
                          problems=[f'"candidate" must be an integer from {OWN} to {n}, got {obj.get("candidate")!r}'])
    if pick != OWN:
        return PickAnswer(pick=pick, explanation=explanation, raw_valid_json=strict)
    raw = obj.get("config")
    if not isinstance(raw, dict):
        return PickAnswer(explanation=explanation, raw_valid_json=strict,
                          problems=[f'"candidate" {OWN} needs a configuration in "config"'])
    result = space.validate_config(raw)
    if not result.ok or result.config is None:
        return PickAnswer(explanation=explanation, raw_valid_json=strict,
                          problems=[f"config: {e}" for e in result.errors or ["invalid"]])
    return PickAnswer(pick=OWN, config=result.config, explanation=explanation, raw_valid_json=strict)


def pick_format_score(text: Any, n: int, space: SearchSpace) -> int:
    """0-4, as llm/output.py's format score: 4 = one strict JSON object with a usable choice."""
    try:
        _, how = extract_json(text, prefer=("candidate",))
    except LLMOutputError:
        return 0
    answer = read_pick(text, n, space)
    score = 4 - {"strict": 0, "lenient": 1, "fenced": 1, "embedded": 1, "truncated": 2}[how]
    return max(0, score - (0 if answer.ok else 2))


Scorer = Callable[[Sequence[Mapping[str, Any]]], list[ScoredConfig]]
"""Scores configs with the meta-learner (the pipeline hands one in; this module never loads a model)."""


def decide_answer(answer: PickAnswer, offered: Sequence[Candidate], score: Scorer, tie: float = TIE) -> SetChoice:
    """`decide` for a read reply: its own config is scored first."""
    if not answer.ok:
        return decide(offered, None, problem="; ".join(answer.problems[:3]), tie=tie)
    own = score([answer.config])[0] if answer.pick == OWN and answer.config is not None else None
    return decide(offered, answer.pick, own, tie=tie)
