"""`meta-learner`: the argmax of the meta-learner fitted without the hidden dataset (what `recommend
--no-llm` answers), its one config. Tested through tests/evaluate/test_pipeline.py and test_tune_mode.py."""

from __future__ import annotations

from metallmix_wandb.evaluate.methods.base import FoldContext
from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol


class MetaLearnerChoice:
    name = "meta-learner"
    family: Family = "meta"
    protocols: tuple[EvalProtocol, ...] = ("recommend",)
    switch = name
    per_model = False
    needs_fold = True

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        best = ctx.knowledge().learner().best_config(ctx.meta, ctx.space, seed=0)
        return [ctx.scorer.result(self.name, self.family, best.config, compute_s=best.seconds, source=self.name)]


META_LEARNER = MetaLearnerChoice()
