"""The Recommendation record (DESIGN.md §4) and the pure choices behind it.

Tested through the pipeline and the command (tests/cli/test_recommend_cli.py) and by the evaluation
(tests/evaluate/), which reads these records back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from metallmix_wandb.knowledge.records import MetaValue
from metallmix_wandb.numbers import short
from metallmix_wandb.safe_text import keep_head

MAX_STORED_REPLY = 20_000
"""Characters of the raw LLM reply a Recommendation keeps (an answer is a few hundred): a 1 MB reply
must not be stored whole in `recommendation.json`, the run, or `--json`."""

Source = Literal["llm", "meta-learner", "meta-learner-fallback"]
"""Where the config came from: the LLM's answer, the meta-learner with no LLM asked, or the
meta-learner because the LLM gave no valid config (or could not be reached)."""


class ScoredConfig(BaseModel):
    config: dict[str, Any]
    score: float = Field(description="the meta-learner's predicted percentile within the dataset")
    low: float
    high: float
    raw_metric: float
    train_time_s: float


class Candidate(BaseModel):
    """One config the meta-learner offered the LLM to choose from (recommend/candidates.py)."""

    id: int = Field(ge=1)
    scored: ScoredConfig
    reasons: list[str] = Field(default_factory=list, description="its top SHAP reasons, from the digest's numbers")


class SetChoice(BaseModel):
    """The LLM's choice inside the meta-learner's confidence set, and whether it stood (DESIGN.md §4)."""

    offered: list[Candidate] = Field(description="best predicted first; id 1 is the meta-learner's best")
    pick: int | None = Field(None, description="the id the LLM picked; 0 = a config of its own; None = no usable answer")
    pick_scored: ScoredConfig | None = Field(None, description="the LLM's pick as the meta-learner scores it")
    overruled: bool = False
    reason: str = Field("", description="why the final choice is what it is, in one sentence")


class Evidence(BaseModel):
    """One retrieved experiment as used in the prompt (kept so `judge` can re-score later)."""

    run_path: str
    dataset: str
    distance: float
    config: dict[str, Any]
    metric: float | None
    train_time_s: float | None


class Choice(BaseModel):
    """What one branch of the pipeline chose (LLM, meta-learner, or meta-learner after the LLM failed),
    with what asking the LLM cost; the pipeline turns it into a Recommendation."""

    source: Source
    config: dict[str, Any]
    explanation: str
    predicted: ScoredConfig
    candidates: list[ScoredConfig] = Field(default_factory=list)
    llm_first_choice: dict[str, Any] | None = None
    choice_set: SetChoice | None = None
    raw_reply: str = ""
    raw_valid: bool | None = None
    repairs: int = 0
    tokens: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    prompt: list[dict[str, str]] = Field(default_factory=list, exclude=True, description=(
        "the messages the LLM was first asked with, when they hold the evidence (meta-informed): the judge "
        "continues them, so a server's prompt cache reads the evidence once (llm/judge.py judge_followup)"))

    @property
    def llm_answered(self) -> bool:
        """The config is the LLM's: only then is there a prompt mode and an answer to judge."""
        return self.source == "llm"

    @property
    def llm_asked(self) -> bool:
        """An LLM was asked (and answered, or failed): the record names its model."""
        return self.source != "meta-learner"


class Recommendation(BaseModel):
    config: dict[str, Any] = Field(description="inside the search space, always")
    explanation: str
    source: Source
    mode: str
    meta_features: dict[str, MetaValue]
    evidence: list[Evidence] = Field(default_factory=list)
    predicted: ScoredConfig
    candidates: list[ScoredConfig] = Field(default_factory=list, description="valid LLM configs, LLM order; "
                                            "or the candidates offered, best first; or (`--no-llm --candidates "
                                            "N`) the N configs to try, in order, the first `config`")
    llm_first_choice: dict[str, Any] | None = None
    choice_set: SetChoice | None = Field(None, description="the candidates offered, the LLM's pick, overruled or not")
    llm_model: str | None = None
    judge_model: str | None = None
    judge_scores: dict[str, float | None] = Field(default_factory=dict)
    judge_error: str | None = Field(None, description="why the judge gave no scores (an outage): the answer "
                                    "stands, `judge_scores` is empty")
    format_score_code: int | None = None
    raw_reply: str = ""
    raw_valid: bool | None = Field(None, description="the first LLM answer held a valid config before repair")
    repairs: int = 0
    timings: dict[str, float] = Field(default_factory=dict)
    tokens: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    metric: str = "test/acc"
    llm_explanation: str | None = Field(None, description="the LLM's own explanation, as it wrote it")
    explanation_rejected: str | None = Field(
        None, description="why the LLM's explanation failed the code check (recommend/explanation_check.py); "
        "`explanation` is then the digest's")

    @field_validator("raw_reply")
    @classmethod
    def _cap_reply(cls, value: str) -> str:
        return keep_head(value, MAX_STORED_REPLY)


def rank_candidates(scored: Sequence[ScoredConfig]) -> list[ScoredConfig]:
    """Best predicted score first; ties broken by the lower end of the interval (the safer bet),
    then by LLM order (sorted is stable)."""
    return sorted(scored, key=lambda s: (-round(s.score, 9), -round(s.low, 9)))


def meta_learner_explanation(config: Mapping[str, Any], predicted: ScoredConfig, digest: str, metric: str,
                             fallback_reason: str | None = None) -> str:
    """A deterministic explanation for a config the meta-learner chose (no LLM involved)."""
    lines = []
    if fallback_reason:
        lines.append(f"The LLM gave no usable configuration ({fallback_reason}); this is the meta-learner's choice.")
    cfg = ", ".join(f"{k}={short(v)}" for k, v in config.items())
    lines.append(
        f"The meta-learner's best configuration for this dataset is {cfg}. It is predicted to rank at the "
        f"{predicted.score:.0%} percentile of configurations on this dataset (80% interval "
        f"{predicted.low:.0%}–{predicted.high:.0%}), with {metric} ≈ {predicted.raw_metric:.3f} and about "
        f"{predicted.train_time_s:.0f} s of training."
    )
    digest_lines = [ln.strip() for ln in digest.splitlines()]
    key_lines = [ln for ln in digest_lines if ln[:2] in {"1.", "2.", "3."}]
    key_lines += [ln for ln in digest_lines if ln.startswith(("Helps most", "Hurts most"))]
    if key_lines:
        lines.append("What the past runs show (SHAP, hyperparameters):\n" + "\n".join(key_lines))
    return "\n\n".join(lines)
