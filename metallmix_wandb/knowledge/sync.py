"""sync: runs (W&B API or offline folders) -> Experiment records -> Qdrant."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from pydantic import BaseModel

from metallmix_wandb.knowledge.base import RunSource
from metallmix_wandb.knowledge.store import ExperimentStore
from metallmix_wandb.knowledge.experiments import MetricNames, to_experiment
from metallmix_wandb.knowledge.records import Experiment, SkippedRun
from metallmix_wandb.knowledge.scaling import fit_scaler


class SyncReport(BaseModel):
    source: str
    collection: str
    read: int
    synced: int
    skipped: list[SkippedRun]
    total: int
    datasets: int
    rescaled: bool
    seconds: float

    @property
    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped))


class NothingToSyncError(RuntimeError):
    pass


def read_experiments(
    source: RunSource, names: MetricNames, on_run: Callable[[], None] = lambda: None
) -> tuple[list[Experiment], list[SkippedRun], int]:
    """Convert every run; each unusable one becomes a SkippedRun with its reason."""
    synced_at = datetime.now(timezone.utc).isoformat()
    experiments: list[Experiment] = []
    skipped: list[SkippedRun] = []
    read = 0
    for item in source:
        read += 1
        on_run()
        if isinstance(item, tuple):
            skipped.append(SkippedRun(path=item[0], reason=item[1], detail=item[2]))
            continue
        result = to_experiment(item, names, run_path=source.run_path(item))
        if isinstance(result, SkippedRun):
            skipped.append(result)
        else:
            result.synced_at = synced_at
            experiments.append(result)
    return experiments, skipped, read


def _one_meta_per_dataset(experiments: Iterable[Experiment]) -> list[dict]:
    by_dataset: dict[str, dict] = {}
    for exp in sorted(experiments, key=lambda e: (e.dataset, e.run_path)):
        by_dataset.setdefault(exp.dataset, {}).update(exp.meta_features)
    return [by_dataset[d] for d in sorted(by_dataset)]


def sync(
    source: RunSource,
    store: ExperimentStore,
    names: MetricNames,
    on_run: Callable[[], None] = lambda: None,
) -> SyncReport:
    """Upsert new experiments. When they change the scaler (a new dataset, a new meta-feature), every
    point is re-embedded from its stored payload so old and new vectors stay comparable."""
    start = time.perf_counter()
    new, skipped, read = read_experiments(source, names, on_run)
    existing = {e.run_path: e for e in store.all()}
    if not new and not existing:
        reasons = ", ".join(f"{n} {r}" for r, n in Counter(s.reason for s in skipped).items()) or "no runs found"
        raise NothingToSyncError(f"no usable runs in {source.describe()} ({reasons})")
    merged = {**existing, **{e.run_path: e for e in new}}
    scaler = fit_scaler(_one_meta_per_dataset(merged.values()))
    stored = store.scaler()
    rescaled = stored is None or not scaler.same_as(stored)
    if rescaled:
        store.reset(scaler)
        store.upsert(merged.values(), scaler)
    else:
        store.upsert(new, scaler)
    return SyncReport(
        source=source.describe(), collection=store.collection, read=read, synced=len(new), skipped=skipped,
        total=store.count(), datasets=len({e.dataset for e in merged.values()}), rescaled=rescaled,
        seconds=time.perf_counter() - start,
    )
