"""The extension point of `evaluate`: a `Method` answers "which config?" for one hidden dataset from a
`FoldContext` (what the fold knows without that dataset) and returns its scored results.

A method never scores by itself: it hands its choice (or its search) to `ctx.scorer`, so it runs the
same in lookup and train mode. Tested in tests/evaluate/methods/test_registry.py and through every
method's end-to-end test (tests/evaluate/test_pipeline.py, test_tune_mode.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol, EvaluateRequest, EvaluationError, LLMEndpoint
from metallmix_wandb.evaluate.scoring import Scorer, SearchFn, TrialScorer
from metallmix_wandb.knowledge.records import Experiment, MetaValue
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.evaluate.fold import FoldKnowledge
    from metallmix_wandb.knowledge.store import ExperimentStore


@dataclass(frozen=True)
class FoldContext:
    """One hidden dataset and what a method may use to answer for it: never the dataset's own runs."""

    scorer: Scorer
    space: SearchSpace
    request: EvaluateRequest
    store: ExperimentStore
    meta: dict[str, MetaValue]
    others: Mapping[str, list[Experiment]]
    """The other datasets' runs, by dataset."""
    fold: FoldKnowledge | None = None
    """The meta-learner and SHAP digest fitted without the hidden dataset (for methods that `needs_fold`)."""
    llm: LLMEndpoint | None = None
    """The model a per-LLM method runs for."""

    @property
    def dataset(self) -> str:
        return self.scorer.dataset

    @property
    def other_experiments(self) -> list[Experiment]:
        return [e for exps in self.others.values() for e in exps]

    def knowledge(self) -> FoldKnowledge:
        if self.fold is None:
            raise EvaluationError("this method needs the fold's meta-learner (needs_fold)")
        return self.fold

    def model(self) -> LLMEndpoint:
        if self.llm is None:
            raise EvaluationError("this method runs once per LLM (per_model)")
        return self.llm

    def trials(self) -> TrialScorer:
        if not isinstance(self.scorer, TrialScorer):
            raise EvaluationError("--method tune runs in lookup mode only (each trial looks up the table): "
                                  "pass --lookup")
        return self.scorer


class Method(Protocol):
    """One way to choose a config for a hidden dataset (attributes read-only: a class's constants or a
    frozen dataclass's fields)."""

    @property
    def name(self) -> str:
        """Its name in the registry (evaluate/methods/__init__.py); results carry it (or `<prefix>:<model>`)."""
        ...

    @property
    def family(self) -> Family: ...

    @property
    def protocols(self) -> tuple[EvalProtocol, ...]:
        """The `evaluate --method` protocols it takes part in."""
        ...

    @property
    def switch(self) -> str | None:
        """The --baselines name that turns it on (its own name for a baseline); None: always on."""
        ...

    @property
    def per_model(self) -> bool:
        """Runs once per LLM evaluated (ctx.llm), on the datasets the LLMs run on, after the other methods."""
        ...

    @property
    def needs_fold(self) -> bool:
        """Runs on the fold: once the meta-learner is fitted without the hidden dataset (ctx.knowledge()).
        False: runs first, before any fit (the searches), and alone asks for none."""
        ...

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        """Its scored answer(s) for ctx's hidden dataset (one per seed for a stochastic method)."""
        ...


def enabled(method: Method, req: EvaluateRequest) -> bool:
    """Whether the request runs this method (LLMs permitting, for a per-model one)."""
    return req.protocol in method.protocols and (method.switch is None or method.switch in req.baselines)


def in_space(space: SearchSpace, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """A past run's config restricted to the space's parameters and validated; None when it does not fit."""
    flat = space.flatten(config)
    result = space.validate_config({k: v for k, v in flat.items() if k in space.params})
    return result.config if result.ok else None


@dataclass(frozen=True)
class SearchMethod:
    """A budgeted search baseline (random search, BO): `search` run once per seed against the table in
    lookup mode, or as the W&B sweep method of the same name in train mode. Both protocols run it at
    the same budget and seeds as the methods it is compared with."""

    name: str
    search: SearchFn
    family: Family = "search"
    protocols: tuple[EvalProtocol, ...] = ("recommend", "tune")
    per_model: bool = False
    needs_fold: bool = False

    @property
    def switch(self) -> str:
        return self.name

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        req = ctx.request
        return [ctx.scorer.search(self.name, self.search, ctx.space, req.budget, seed) for seed in req.seeds]
