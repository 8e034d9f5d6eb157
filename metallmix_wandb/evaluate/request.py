"""What an evaluation is asked to do, and the LLMs it evaluates. Pure (pydantic and dataclasses).

Kept apart from the pipeline so the methods (evaluate/methods/) and both scorers read the request
without importing the pipeline that runs them. Tested through tests/evaluate/test_pipeline.py and
tests/evaluate/test_tune_mode.py (every request there comes from the `evaluate` command).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from metallmix_wandb.llm.ask import ChatJSON

EvalProtocol = Literal["recommend", "tune"]
"""recommend: every method chooses one config; tune: every method gets `budget` trials."""


class EvaluationError(ValueError):
    """The evaluation cannot run (too few datasets, no overlap with the lookup table...)."""


@dataclass(frozen=True)
class LLMEndpoint:
    """One model to evaluate, and the model that judges its answers (itself when none is given)."""

    name: str
    client: ChatJSON
    judge_client: ChatJSON | None = None
    judge_name: str | None = None


class EvaluateRequest(BaseModel):
    protocol: EvalProtocol = Field("recommend", description="recommend: every method chooses one config; tune: "
                                   "every method gets `budget` trials")
    project: str = ""
    metric: str = "test/acc"
    time_metric: str = "train_time_s"
    budget: int = Field(20, ge=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    baselines: list[str] = Field(description="the --baselines chosen (evaluate/methods BASELINES); the methods "
                                 "run per LLM need none")
    datasets: list[str] | None = Field(None, description="evaluate only these (names or dataset values)")
    llm_datasets: int | None = Field(None, description="run the LLM methods on the first N datasets only")
    top_k: int = 8
    judge: bool = True
    judge_repeats: int = 1
    max_repairs: int = 2
    explanation_max_chars: int | None = None
    n_jobs: int = 1
