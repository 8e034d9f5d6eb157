"""The knowledge of one leave-one-dataset-out fold: a meta-learner and a SHAP digest fitted WITHOUT
the hidden dataset, in the shape `pipelines.recommend.recommend` reads from a `Knowledge` (its
`learner()`, `digest` and `summary`), so recommend runs unchanged on a fold. Tested through
tests/evaluate/test_pipeline.py and test_tune_mode.py."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.knowledge.meta_learner.shap_summary import ShapSummary

LODO_FOLDS = 2
"""Folds of the fit's own quality check: it only sets the interval margin here (the evaluation itself
is the real leave-one-dataset-out test), so two keep a fold's fit short."""


class FoldKnowledge:
    """A fitted meta-learner + digest for one fold; duck-types `Knowledge` for `recommend`."""

    def __init__(self, learner: MetaLearner, digest: str, seconds: float, summary: ShapSummary | None = None) -> None:
        self._learner = learner
        self.digest = digest
        self.seconds = seconds
        self.summary = summary  # the ranking model's SHAP summary the digest was written from

    def learner(self, n_jobs: int | None = None) -> MetaLearner:
        return self._learner


def fit_fold(others: Sequence[Experiment], space: SearchSpace, metric: str, *, n_jobs: int = 1, seed: int = 0,
             with_digest: bool = True, project: str = "") -> FoldKnowledge:
    """Fit on the other datasets' runs; the digest (TreeSHAP) only when an LLM will read it."""
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.knowledge.meta_learner.shap_summary import ShapSummary
    from metallmix_wandb.knowledge.meta_learner.shap_summary import digest

    start = time.perf_counter()
    folds = LODO_FOLDS if len({e.dataset for e in others}) >= 2 else 1
    learner = MetaLearner.fit(others, space, metric=metric, n_jobs=n_jobs, seed=seed, max_folds=folds)
    text, summary = "", None
    if with_digest:
        from metallmix_wandb.knowledge.meta_learner.explain import summaries

        rank, raw, _, _ = summaries(learner, metric)
        summary = rank
        table = learner.table
        assert table is not None
        text = digest(rank, raw, metric=metric, runs=len(table.score), datasets=len(table.datasets),
                      quality_line=learner.info.quality.line(), project=project)
    return FoldKnowledge(learner, text, time.perf_counter() - start, summary)
