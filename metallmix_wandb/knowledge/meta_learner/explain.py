"""explain: knowledge base -> XGBoost meta-learner -> TreeSHAP summary and digest -> artifact + cache.

Run by `sync` after each successful sync and by `metallmix-wandb explain`. Also writes each run's
3 most influential features into its Qdrant payload.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.meta_learner.features import MetaLearnerError
from metallmix_wandb.knowledge.meta_learner.quality import LodoQuality
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.knowledge.meta_learner.shap_summary import Groups, ShapSummary, digest, local_top, summarise

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.knowledge.store import ExperimentStore

__all__ = ["KnowledgeReport", "MetaLearnerError", "ShapSummaries", "explain", "summaries"]


class KnowledgeReport(BaseModel):
    project: str
    runs: int
    datasets: int
    quality: LodoQuality
    digest: str
    top_features: list[str] = Field(description="most influential parameters/meta-features, first first")
    cache_dir: str
    files: list[str]
    artifact: str
    wandb_mode: str | None = None
    wandb_run: str | None = Field(None, description="run path online; the offline run folder offline")
    wandb_error: str | None = None
    shap_top3_written: int = 0
    variant: str = Field("", description="the meta-learner variant and its settings (variants.py)")
    seconds: dict[str, float] = Field(default_factory=dict)

    @property
    def quality_line(self) -> str:
        return self.quality.line()


class ShapSummaries(NamedTuple):
    """The SHAP view of a fitted learner: what `explain` stores and a LODO fold's digest reads."""

    rank: ShapSummary
    raw: ShapSummary
    values: Any
    groups: Groups


def summaries(learner: MetaLearner, metric: str) -> ShapSummaries:
    """SHAP summaries of both targets (within-dataset percentile and the raw metric), on the learner's
    own training table; also used by the evaluation's folds."""
    table = learner.table
    assert table is not None, "explain needs a freshly fitted learner (MetaLearner.fit keeps its table)"
    layout = learner.layout
    groups = {c.name: (c.feature, c.category) for c in layout.columns}
    common = {"log_columns": layout.log_columns, "groups": groups, "unvaried": layout.unvaried}
    values, base = learner.shap_values(table.X, "rank")
    raw_values, raw_base = learner.shap_values(table.X, "raw")
    rank = summarise(values, table.X, layout.names, base_value=base,
                     target=f"{metric} (percentile within dataset)", **common)
    raw = summarise(raw_values, table.X, layout.names, base_value=raw_base, target=metric, **common)
    return ShapSummaries(rank, raw, values, groups)


def explain(store: ExperimentStore, settings: Any, space: SearchSpace | None = None,
            log_to_wandb: bool = True, n_jobs: int | None = None) -> KnowledgeReport:
    """Fit, validate (LODO) and explain the meta-learner on every experiment in the store; write the
    knowledge to the local cache and (unless `log_to_wandb` is False or W&B is disabled) a W&B
    artifact. Raises MetaLearnerError when the runs cannot train a useful model."""
    from metallmix_wandb.knowledge.meta_learner.artifact import (
        artifact_name,
        log_knowledge_artifact,
        publish_cache,
        save_shap_plots,
        write_bundle,
    )
    from metallmix_wandb.knowledge.meta_learner.model import DEFAULT_N_JOBS, MetaLearner

    project = settings.project
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    experiments = list(store.all())
    if not experiments:
        raise MetaLearnerError(
            f"the knowledge base has no experiments for '{project}': run `metallmix-wandb sync` first")
    jobs = n_jobs or getattr(settings, "n_jobs", None) or DEFAULT_N_JOBS
    learner = MetaLearner.fit(experiments, space, metric=settings.metric, n_jobs=jobs)
    seconds.update(learner.info.timings)
    t1 = time.perf_counter()
    rank, raw, values, groups = summaries(learner, settings.metric)
    table, layout = learner.table, learner.layout
    quality = learner.info.quality
    text = digest(rank, raw, metric=settings.metric, runs=len(table.score), datasets=len(table.datasets),
                  quality_line=quality.line(), project=project)
    local = local_top(values, table.X, layout.names, k=3, groups=groups)
    seconds["shap_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    written = store.set_shap_top3({path: [e.model_dump(mode="json") for e in top]
                                   for path, top in zip(table.run_paths, local, strict=True)})
    seconds["qdrant_s"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    index: dict[str, list[int]] = {}
    for j, c in enumerate(layout.columns):
        index.setdefault(c.feature, []).append(j)
    manifests = []
    folder = publish_cache(project, Path(settings.cache_dir), lambda tmp: manifests.append(write_bundle(
        tmp, project, learner, rank, raw, text, store.scaler(),
        lambda f: save_shap_plots(f, values, table.X, layout.names, index, layout.log_columns))))
    manifest = manifests[0]
    seconds["write_s"] = time.perf_counter() - t3
    report = KnowledgeReport(
        project=project, runs=len(table.score), datasets=len(table.datasets), quality=quality, digest=text,
        top_features=[f.feature for f in rank.features[:5]], cache_dir=str(folder),
        files=sorted(manifest.files),
        artifact=artifact_name(project), shap_top3_written=written, variant=learner.info.settings.line(),
    )
    mode = (getattr(settings, "wandb_mode", None) or "").lower()
    if log_to_wandb and mode != "disabled":
        t4 = time.perf_counter()
        summary = {f"quality/{k}": v for k, v in quality.model_dump(exclude={"per_dataset", "note"}).items()
                   if isinstance(v, int | float) and not isinstance(v, bool)}
        logged = log_knowledge_artifact(folder, manifest, project, settings.entity, settings.offline, summary)
        report.wandb_mode, report.wandb_error = logged.mode, logged.error
        report.wandb_run = logged.run_dir if logged.mode == "offline" else logged.run_path
        report.artifact = logged.artifact
        seconds["wandb_s"] = time.perf_counter() - t4
    seconds["total_s"] = time.perf_counter() - t
    report.seconds = seconds
    return report
