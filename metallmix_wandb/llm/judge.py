"""The LLM judge (MetaLLMiX §2.4): its criteria and rubric, its prompt and schema, reading its scores,
and the repeated call whose scores are averaged.

The judge scores one recommendation against the evidence it was based on, each criterion 0-4. The
`format` criterion is also computed in code (`llm/output.py::format_score_of`) and reported beside
the judge's. Pure: the client is handed in, as in the ask/repair loop.

Tested in tests/llm/test_judge.py.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from metallmix_wandb.llm.chat import ChatJSON, ChatResult
from metallmix_wandb.llm.messages import (
    DATA_RULE,
    MAX_REPLY_CHARS,
    Message,
    cut_text,
    compact_space,
    data_block,
    experiment_table,
    plain_data,
)
from metallmix_wandb.llm.output import MAX_EXPLANATION, LLMOutputError, extract_json
from metallmix_wandb.llm.schemas import text_schema

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.records import Neighbour
    from metallmix_wandb.space.search_space import SearchSpace

CRITERIA: tuple[str, ...] = ("format", "accuracy", "completeness", "conciseness", "fluency")
"""The judge's criteria (MetaLLMiX §2.4), each scored 0-4."""

# --------------------------------------------------------------------------- prompt

JUDGE_RUBRIC = """Score each criterion with an integer from 0 (worst) to 4 (best):
- format: 4 = "raw_reply" is one JSON object in the required shape, every value inside the search space; 2 = usable only after cleanup; 0 = no usable configuration.
- accuracy: check the "explanation"'s claims against "past_experiments", "shap_digest" and "candidates". 4 = every value, metric and effect it states is there and agrees; 2 = some claims are found nowhere; 0 = a claim contradicts them (a value called good that the digest calls worst, a metric that is not there).
- completeness: 4 = it names the "chosen_config" values of the most influential parameters (first in "shap_digest") with their evidence; 2 = some chosen values without evidence, or values not chosen; 0 = none, or no explanation.
- conciseness: 4 = short, nothing repeated; 2 = padded or repetitive; 0 = rambling or empty.
- fluency: 4 = clear, grammatical, natural; 2 = understandable with effort; 0 = unreadable."""

JUDGE_RUBRIC_SHORT = """Score each criterion from 0 (worst) to 4 (best):
- format: "raw_reply" is one JSON object in the required shape, values inside the search space.
- accuracy: every claim of the "explanation" agrees with "past_experiments", "shap_digest" and "candidates".
- completeness: it names the "chosen_config" values of the first "shap_digest" parameters, with evidence.
- conciseness: short, nothing repeated.
- fluency: clear and grammatical."""
"""The same criteria in a third of the tokens, for a small local model on a CPU (the embedded demo
model reads ~140 prompt tokens/s on 2 cores; it scored the full rubric no better, README)."""

JUDGE_RUBRICS: dict[str, str] = {"full": JUDGE_RUBRIC, "short": JUDGE_RUBRIC_SHORT}

JUDGE_OUTPUT = (
    'Output format: one JSON object only: {"format": n, "accuracy": n, "completeness": n, "conciseness": n, '
    '"fluency": n, "rationale": "<one sentence>"}, each n an integer from 0 to 4.'
)

_JUDGE_CORE = (
    "You are a strict evaluator of a hyperparameter recommendation for the machine-learning task in the "
    "data's \"task\". The data block holds the evidence the assistant was shown (past experiments, SHAP "
    "digest, candidates), the search space, the chosen configuration, its explanation and the assistant's "
    "raw reply. Judge only against what is there."
)


def judge_instruction_text() -> str:
    """The judge's system message: role, data rule, rubric and output format (fixed text)."""
    return "\n\n".join([_JUDGE_CORE, DATA_RULE, JUDGE_RUBRIC, JUDGE_OUTPUT])


JUDGE_TURN = (
    "Now act as a strict evaluator of the recommendation answering the data above: the data block below "
    "holds the assistant's raw reply, the chosen configuration and its explanation. Judge only against "
    "what the data shows."
)
"""The judge's request after the recommender's own prompt (`judge_followup`): fixed text."""


def judge_followup(prompt: Sequence[Message], configs: Sequence[Mapping[str, Any]], explanation: str,
                   raw_reply: str, *, max_reply_chars: int = MAX_REPLY_CHARS, rubric: str = "full") -> list[Message]:
    """The judge's messages as a continuation of the recommender's `prompt` (its system message and the
    evidence, candidates included, exactly as the assistant was shown them), then one user turn: the
    rubric and the reply, chosen config and explanation as data. A server with a prompt cache
    (llama.cpp keeps the longest common prefix with the previous request) then reads the evidence once
    for the choice, the explanation and every judge repeat, instead of once more for the judge.
    `rubric`: a key of JUDGE_RUBRICS ("short" for the embedded demo model)."""
    fields = {"raw_reply": cut_text(raw_reply, max_reply_chars),
              "chosen_config": plain_data(dict(configs[0]) if len(configs) == 1 else [dict(c) for c in configs]),
              "explanation": plain_data(explanation)}
    turn = "\n\n".join([JUDGE_TURN, JUDGE_RUBRICS[rubric], JUDGE_OUTPUT, data_block(fields)])
    return [*(dict(m) for m in prompt), {"role": "user", "content": turn}]


def judge_messages(
    space: SearchSpace,
    meta_features: Mapping[str, Any],
    configs: Sequence[Mapping[str, Any]],
    explanation: str,
    raw_reply: str,
    neighbours: Sequence[Neighbour] = (),
    shap_digest: str = "",
    *,
    time_metric: str = "train_time_s",
    metric: str | None = None,
    candidates: Mapping[str, Any] | None = None,
    task: str = "",
    max_reply_chars: int = MAX_REPLY_CHARS,
) -> list[Message]:
    """Messages asking the judge to score one recommendation against the evidence it was based on: the
    same tables and digest the assistant was shown (`candidates`: the offered candidates' table, when
    it chose among them), then the chosen config and the explanation the rubric checks against them.
    Repeats send these exact messages, so a server with a prompt cache (llama.cpp) reads them once."""
    fields: dict[str, Any] = {"task": plain_data(task or "not given")}
    fields["new_dataset"] = {"meta_features": plain_data(dict(meta_features), digits=3)}
    fields["search_space"] = plain_data(compact_space(space))
    fields["past_experiments"] = experiment_table(neighbours, space, metric=metric, time_metric=time_metric)
    fields["shap_digest"] = plain_data(shap_digest)
    if candidates is not None:
        fields["candidates"] = candidates
    fields["raw_reply"] = cut_text(raw_reply, max_reply_chars)
    fields["chosen_config"] = plain_data(dict(configs[0]) if len(configs) == 1 else [dict(c) for c in configs])
    fields["explanation"] = plain_data(explanation)
    ask = "Score the recommendation in the data block below. Reply with the JSON object only."
    return [
        {"role": "system", "content": judge_instruction_text()},
        {"role": "user", "content": f"{ask}\n\n{data_block(fields)}"},
    ]


def judge_schema(rationale_max_chars: int | None = None) -> dict[str, Any]:
    """Five integer scores 0-4, then a short rationale (scores first survive a cut-off reply).

    `rationale_max_chars`: as `explanation_max_chars` in `answer_schema`.
    """
    score = {"type": "integer", "enum": [0, 1, 2, 3, 4]}
    props: dict[str, Any] = {c: dict(score) for c in CRITERIA}
    props["rationale"] = text_schema(rationale_max_chars)
    return {"type": "object", "properties": props, "required": [*CRITERIA, "rationale"], "additionalProperties": False}


# --------------------------------------------------------------------------- scores

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


class JudgeScores(BaseModel):
    """Scores 0-4 per criterion (None when the judge gave none); averaged over `repeats` calls."""

    format: float | None = None
    accuracy: float | None = None
    completeness: float | None = None
    conciseness: float | None = None
    fluency: float | None = None
    rationale: str = ""
    repeats: int = 1

    @property
    def mean(self) -> float | None:
        vals = [v for v in (getattr(self, c) for c in CRITERIA) if v is not None]
        return sum(vals) / len(vals) if vals else None

    def by_criterion(self) -> dict[str, float | None]:
        """Each criterion's score, then their `mean`: what a recommendation record keeps."""
        return {c: getattr(self, c) for c in CRITERIA} | {"mean": self.mean}


def _score(value: Any) -> float | None:
    """A 0-4 score from a number, "3", "3/4", "3 out of 4" or {"score": 3}; clipped; None if none."""
    if isinstance(value, Mapping):
        value = value.get("score")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        m = _NUMBER.search(value)
        value = float(m.group()) if m else None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(min(4.0, max(0.0, value)))


def parse_judge_scores(text: Any) -> JudgeScores:
    """Scores from a judge reply (keys matched case-insensitively); LLMOutputError if it has none. The
    scores are the last object with a criterion's key: a reasoning model's draft before them is skipped."""
    obj, _ = extract_json(text, prefer=CRITERIA)
    if not isinstance(obj, dict):
        raise LLMOutputError("the judge reply is not a JSON object of scores")
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}
    scores = {c: _score(lowered.get(c)) for c in CRITERIA}
    if all(v is None for v in scores.values()):
        raise LLMOutputError(f"the judge reply has none of the scores {list(CRITERIA)}")
    rationale = lowered.get("rationale", "")
    rationale = rationale if isinstance(rationale, str) else json.dumps(rationale, default=str)
    return JudgeScores(**scores, rationale=rationale[:MAX_EXPLANATION])


def average_judge_scores(scores: Sequence[JudgeScores]) -> JudgeScores:
    """The mean of repeated judgements, criterion by criterion, over the calls that gave one."""
    if not scores:
        return JudgeScores(repeats=0)
    out: dict[str, Any] = {}
    for c in CRITERIA:
        vals = [v for v in (getattr(s, c) for s in scores) if v is not None]
        out[c] = sum(vals) / len(vals) if vals else None
    rationale = next((s.rationale for s in scores if s.rationale), "")
    return JudgeScores(**out, rationale=rationale, repeats=sum(s.repeats for s in scores))


# --------------------------------------------------------------------------- the repeated call


class JudgeOutcome(BaseModel):
    """Averaged LLM judge scores, the code-computed format score, and the calls behind them."""

    scores: JudgeScores
    format_score_code: int | None = None
    calls: list[ChatResult] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list, description="judge replies that held no scores")

    @property
    def latency_s(self) -> float:
        return sum(c.latency_s for c in self.calls)

    @property
    def tokens(self) -> int:
        return sum(c.prompt_tokens + c.completion_tokens for c in self.calls)


def judge(
    client: ChatJSON,
    messages: Sequence[Message],
    *,
    repeats: int = 3,
    temperature: float | None = None,
    max_tokens: int | None = 256,
    format_score_code: int | None = None,
    schema: dict[str, Any] | None = None,
) -> JudgeOutcome:
    """Ask the judge `repeats` times (seeds 0..n-1) and average the scores that came back.

    At temperature 0 repeats are identical, so with repeats > 1 the default temperature is 0.7.
    `schema` defaults to `judge_schema()` (pass `judge_schema(rationale_max_chars=...)` for llama.cpp).
    """
    temp = temperature if temperature is not None else (0.7 if repeats > 1 else 0.0)
    schema = schema or judge_schema()
    calls: list[ChatResult] = []
    parsed: list[JudgeScores] = []
    errors: list[str] = []
    for seed in range(max(1, repeats)):
        chat = client.chat_json(messages, schema, name="judgement", max_tokens=max_tokens, temperature=temp, seed=seed)
        calls.append(chat)
        try:
            parsed.append(parse_judge_scores(chat.text))
        except LLMOutputError as e:
            errors.append(str(e))
    return JudgeOutcome(
        scores=average_judge_scores(parsed), format_score_code=format_score_code, calls=calls, errors=errors
    )
