"""evaluate: leave-one-dataset-out. For each dataset: hide its runs, let every method (evaluate/methods/)
choose a config for it, score the choice against the lookup table (exact metric, regret, percentile) or,
in train mode, train it and compare with the dataset's known runs.

A fold runs its methods in registry order, in three stages: the methods that need no fold (the
searches, each over the seeds); then, once the meta-learner is fitted without the dataset, the fold's
methods, reported seed by seed (a seed's `tune` beside its ablation); then, model by model, the
methods run per LLM. With `protocol="tune"` every method gets `budget` trials and the report adds
best-so-far curves. Logging and printing happen in evaluate/command.py, on the returned report.
Tested in tests/evaluate/test_pipeline.py, test_tune_mode.py and test_train_mode.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from metallmix_wandb.evaluate.fold import fit_fold
from metallmix_wandb.evaluate.lookup import LookupTable
from metallmix_wandb.evaluate.lookup_mode import LookupScorer
from metallmix_wandb.evaluate.methods import METHODS, resolve
from metallmix_wandb.evaluate.methods.base import FoldContext, Method, enabled
from metallmix_wandb.evaluate.records import (
    EvaluationReport,
    MethodResult,
    checkpoints_for,
    summarise_curves,
    summarise_methods,
)
from metallmix_wandb.evaluate.request import EvaluateRequest, EvaluationError, LLMEndpoint
from metallmix_wandb.evaluate.scoring import Scorer
from metallmix_wandb.evaluate.train_mode import TrainScorer
from metallmix_wandb.knowledge.records import Experiment, MetaValue
from metallmix_wandb.recommend.pipeline import recommendable_space
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.evaluate.launch_trainer import LaunchTrainer
    from metallmix_wandb.knowledge.store import ExperimentStore


def _group(experiments: Sequence[Experiment]) -> dict[str, list[Experiment]]:
    out: dict[str, list[Experiment]] = {}
    for e in sorted(experiments, key=lambda e: e.run_path):
        out.setdefault(e.dataset, []).append(e)
    return out


def _meta(exps: Sequence[Experiment]) -> dict[str, MetaValue]:
    meta: dict[str, MetaValue] = {}
    for e in exps:
        meta.update(e.meta_features)
    return meta


def _select(groups: dict[str, list[Experiment]], table: LookupTable | None, wanted: Sequence[str] | None) -> list[str]:
    names = {d: (exps[0].dataset_name or d) for d, exps in groups.items()}
    chosen = [d for d in sorted(groups) if table is None or d in table.datasets]
    if wanted:
        chosen = [d for d in chosen if d in wanted or names[d] in wanted]
        missing = [w for w in wanted if w not in chosen and w not in {names[d] for d in chosen}]
        if missing:
            raise EvaluationError(f"not in both the knowledge base and the lookup table: {missing}")
    if not chosen:
        raise EvaluationError("no dataset is in both the knowledge base and the lookup table")
    if len(groups) < 2:
        raise EvaluationError("leave-one-dataset-out needs runs of at least two datasets")
    for d in chosen:
        if table is not None:
            table.require_results(d)
    return chosen


def _run(methods: Sequence[Method], ctx: FoldContext) -> list[MethodResult]:
    return [r for m in methods for r in m.run(ctx)]


def _seed_by_seed(results: list[MethodResult]) -> list[MethodResult]:
    """Stable: one-shot results (no seed) keep their order."""
    return sorted(results, key=lambda r: -1 if r.seed is None else r.seed)


def evaluate(experiments: Sequence[Experiment], store: ExperimentStore, space: SearchSpace, table: LookupTable | None,
             req: EvaluateRequest, llms: Sequence[LLMEndpoint] = (),
             on_step: Callable[[str], None] = lambda _: None,
             trainer: LaunchTrainer | None = None) -> EvaluationReport:
    """Run every method on every selected dataset (LODO) and return the scored, ranked report. With a
    lookup `table` every choice is scored exactly; with a `trainer` instead (train mode) every choice
    is trained (evaluate/train_mode.py) and compared with the dataset's known runs."""
    if (table is None) == (trainer is None):
        raise EvaluationError("pass a lookup table (lookup mode) or a trainer (train mode)")
    if req.protocol == "tune" and table is None:
        raise EvaluationError("--method tune runs in lookup mode only (each trial looks up the table): pass --lookup")
    space = recommendable_space(space)
    groups = _group(experiments)
    datasets = _select(groups, table, req.datasets)
    chosen = [m for m in map(resolve, METHODS) if enabled(m, req)]
    first = [m for m in chosen if not m.per_model and not m.needs_fold]
    on_fold = [m for m in chosen if not m.per_model and m.needs_fold]
    per_model = [m for m in chosen if m.per_model]
    tune = req.protocol == "tune"
    needs_fold = tune or bool(on_fold) or bool(llms)
    results: list[MethodResult] = []
    fold_seconds: dict[str, float] = {}
    for i, dataset in enumerate(datasets):
        exps = groups[dataset]
        name = exps[0].dataset_name or dataset
        scorer: Scorer
        if table is not None:
            scorer = LookupScorer(table, dataset, name)
        else:
            assert trainer is not None
            scorer = TrainScorer(trainer, dataset, name, [e.summary.get(req.metric) for e in exps])
        others = {d: e for d, e in groups.items() if d != dataset}
        ctx = FoldContext(scorer=scorer, space=space, request=req, store=store, meta=_meta(exps), others=others)
        on_step(f"{name}: searches")
        results += _run(first, ctx)
        if not needs_fold:
            continue
        use_llm = bool(llms) and (req.llm_datasets is None or i < req.llm_datasets)
        on_step(f"{name}: fitting the meta-learner without it")
        fold = fit_fold(ctx.other_experiments, space, req.metric, n_jobs=req.n_jobs, with_digest=use_llm,
                        project=req.project)
        fold_seconds[name] = fold.seconds
        ctx = replace(ctx, fold=fold)
        if tune:
            on_step(f"{name}: tuning ({req.budget} trials x {len(req.seeds)} seeds)")
        results += _seed_by_seed(_run(on_fold, ctx))
        if use_llm:
            on_step(f"{name}: tuning with the LLM(s)" if tune else f"{name}: asking the LLM(s)")
            results += [r for llm in llms for r in _run(per_model, replace(ctx, llm=llm))]
    methods = list(dict.fromkeys(r.method for r in results))
    notes = []
    names = {d: groups[d][0].dataset_name or d for d in datasets}
    if table is not None and (gaps := table.gap_note(datasets, names)):
        hit = sum(r.missing for r in results)
        notes.append(f"{gaps}; {hit} of {len(results)} answers chose a missing config")
    if req.llm_datasets is not None and llms:
        ran = min(req.llm_datasets, len(datasets))
        notes.append(f"LLM methods ran on the first {ran} of {len(datasets)} datasets")
    return EvaluationReport(
        project=req.project, metric=req.metric, mode="lookup" if table is not None else "train",
        protocol=req.protocol, budget=req.budget, seeds=list(req.seeds), methods=methods,
        datasets=[groups[d][0].dataset_name or d for d in datasets], space=space.to_sweep_config(),
        results=results, summary=summarise_methods(results),
        curves=summarise_curves(results, checkpoints_for(req.budget)) if tune else [], fold_seconds=fold_seconds,
        notes=notes, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
