"""sync: runs (W&B API or offline folders) -> Experiment records -> Qdrant.

Incremental for a source that can be (`IncrementalSource`, the W&B API): the collection keeps a
watermark per source, the next sync reads only the runs updated since, and `full=True` reads everything
again and removes the points of runs deleted on the server. A source failing mid-way (`SourceError`)
does not lose the pass: what was read is stored, then `SyncAborted` says so; the watermark moves only
after a complete pass, so the next sync reads the rest.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from metallmix_wandb.knowledge.base import IncrementalSource, RunSource, SourceError
from metallmix_wandb.knowledge.experiments import MetricNames, to_experiment
from metallmix_wandb.knowledge.records import Experiment, SkippedRun
from metallmix_wandb.knowledge.scaling import fit_scaler
from metallmix_wandb.knowledge.store import ExperimentStore, StoreError, point_id


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
    deleted: int = 0
    incremental: bool = False

    @property
    def skip_counts(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped))


class NothingToSyncError(RuntimeError):
    pass


class SyncAborted(RuntimeError):
    """The source failed mid-way; `report` says what was read and stored before it did."""

    def __init__(self, message: str, report: SyncReport) -> None:
        super().__init__(message)
        self.report = report


def _read(source: RunSource, names: MetricNames, on_run: Callable[[], None]
          ) -> tuple[list[Experiment], list[SkippedRun], int, SourceError | None]:
    synced_at = datetime.now(timezone.utc).isoformat()
    experiments: list[Experiment] = []
    skipped: list[SkippedRun] = []
    read = 0
    try:
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
    except SourceError as exc:
        return experiments, skipped, read, exc
    return experiments, skipped, read, None


def _one_meta_per_dataset(pairs: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[dict]:
    """(run_path, dataset, meta) -> one merged meta per dataset, in a stable order."""
    by_dataset: dict[str, dict] = {}
    for _, dataset, meta in sorted(pairs, key=lambda p: (p[1], p[0])):
        by_dataset.setdefault(dataset, {}).update(meta)
    return [by_dataset[d] for d in sorted(by_dataset)]


def _watermark_value(names: MetricNames, since: str) -> dict[str, Any]:
    """The watermark remembers the metric names: runs skipped for lacking another metric must be re-read."""
    return {"since": since, **names.model_dump()}


def _start(source: RunSource, store: ExperimentStore, names: MetricNames, full: bool) -> bool:
    """Point an incremental source at its watermark (unless `full`); True when it reads a subset. An
    empty collection (its storage file deleted or emptied) keeps its watermark in the index, so it is
    read in full: reading only what is new would leave it missing every older run."""
    if not isinstance(source, IncrementalSource) or full:
        return False
    with store.session():
        mark = store.watermark(source.watermark_key)
        if not mark or {k: mark.get(k) for k in names.model_dump()} != names.model_dump() or not store.count():
            return False
    source.since = mark["since"]
    return True


def sync(
    source: RunSource,
    store: ExperimentStore,
    names: MetricNames,
    on_run: Callable[[], None] = lambda: None,
    *,
    full: bool = False,
    on_total: Callable[[int], None] = lambda n: None,
) -> SyncReport:
    """Upsert new experiments. When they change the scaler (a new dataset, a new meta-feature), every
    point is re-embedded from its stored payload so old and new vectors stay comparable. `on_total`
    gets the number of runs the pass will read (for a progress bar) before the first is read."""
    start = time.perf_counter()
    incremental = _start(source, store, names, full)
    on_total(source.count())
    new, skipped, read, error = _read(source, names, on_run)
    with store.session():  # one write batch: the embedded folder is held from here, not while runs are read
        stored = store.meta_by_run()
        complete_full = isinstance(source, IncrementalSource) and full and error is None
        listed = source.listed_paths() if complete_full else None
        deleted: set[str] = set()
        if listed is not None:
            prefix = f"{source.watermark_key}/"
            deleted = {p for p in stored if p.startswith(prefix) and p not in listed}
        if not new and not stored.keys() - deleted:
            if error is not None:
                raise error
            counts = Counter(s.reason for s in skipped)
            reasons = ", ".join(f"{n} {r}" for r, n in counts.items()) or "no runs found"
            raise NothingToSyncError(f"no usable runs in {source.describe()} ({reasons})")
        _keep_shap_top3(store, new, stored)
        rescaled = _store(store, new, stored, deleted) if new or deleted else False
        datasets = {d for p, (d, _) in stored.items() if p not in deleted} | {e.dataset for e in new}
        report = SyncReport(
            source=source.describe(), collection=store.collection, read=read, synced=len(new), skipped=skipped,
            total=store.count(), datasets=len(datasets), rescaled=rescaled, seconds=time.perf_counter() - start,
            deleted=len(deleted), incremental=incremental,
        )
        if error is not None:
            raise SyncAborted(str(error), report)
        if isinstance(source, IncrementalSource):
            store.set_watermark(source.watermark_key, _watermark_value(names, source.next_watermark()))
        return report


def _keep_shap_top3(store: ExperimentStore, new: list[Experiment], stored: Mapping[str, Any]) -> None:
    """A re-read run keeps the SHAP top 3 that `explain` wrote into its payload: runs carry none, so
    `sync --no-explain` would drop it (a plain `sync` rewrites it right after, from the refitted model)."""
    again = {point_id(e.run_path): e for e in new if not e.shap_top3 and e.run_path in stored}
    if not again:
        return
    with store.session() as client:
        points = client.retrieve(store.collection, ids=list(again), with_payload=["shap_top3"])
    for point in points:
        top = (point.payload or {}).get("shap_top3")
        if top:
            again[str(point.id)].shap_top3 = top


def _store(store: ExperimentStore, new: list[Experiment], stored: Mapping[str, tuple[str, Mapping[str, Any]]],
           deleted: set[str]) -> bool:
    """Write `new`, drop `deleted`; re-embed everything when the scaler changes (or no longer matches the
    collection's vector size). True if it did."""
    fresh = {e.run_path for e in new}
    pairs = [(p, d, m) for p, (d, m) in stored.items() if p not in deleted and p not in fresh]
    pairs += [(e.run_path, e.dataset, e.meta_features) for e in new]
    if not pairs:  # every point was deleted
        store.delete(deleted)
        return False
    scaler = fit_scaler(_one_meta_per_dataset(pairs))
    try:
        old = store.scaler()
    except StoreError:  # an unreadable scaler: rebuilt below
        old = None
    if old is not None and scaler.same_as(old) and store.vector_size() == scaler.dim:
        store.upsert(new, scaler)
        store.delete(deleted)
        return False
    kept = [e for e in store.all() if e.run_path not in deleted and e.run_path not in fresh]
    store.reset(scaler)
    store.upsert([*kept, *new], scaler)
    return True
