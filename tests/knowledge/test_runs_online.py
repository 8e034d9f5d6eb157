"""The online adapter over W&B's public API.

Why a fake: no W&B server can run here (the server is proprietary and needs Docker), so
`wandb.Api()` cannot be reached. The fake is thin and mirrors the parts of `wandb.Api` /
`wandb.apis.public.Run` the adapter uses (checked against wandb 0.31 below); everything after it
(experiment rules, Qdrant, the sync pipeline) is real.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import wandb
from wandb.apis.public import Run

from metallmix_wandb.knowledge.store import ExperimentStore, open_client
from metallmix_wandb.knowledge.runs_online import OnlineRunSource
from metallmix_wandb.knowledge.experiments import MetricNames
from metallmix_wandb.knowledge.sync import sync
from tests.support.wandb_runs import meta


@dataclass
class FakeSummary:
    _json_dict: dict[str, Any]


@dataclass
class FakeRun:
    id: str
    state: str
    config: dict[str, Any]
    summary: FakeSummary
    rows: list[dict[str, Any]] = field(default_factory=list)
    entity: str = "team"
    project: str = "proj"
    name: str | None = None
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    tags: list[str] = field(default_factory=list)
    created_at: str = "2026-11-01T00:00:00Z"
    history_calls: int = 0

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    def scan_history(self, keys: list[str] | None = None, page_size: int = 1000, min_step: int | None = None,
                     max_step: int | None = None) -> Iterator[dict[str, Any]]:
        self.history_calls += 1
        yield from self.rows


class FakeApi:
    default_entity = "team"

    def __init__(self, runs: list[FakeRun]) -> None:
        self._runs = runs
        self.calls: list[tuple[str, Any]] = []

    def runs(self, path: str, filters: dict[str, Any] | None = None, order: str = "+created_at",
             per_page: int = 50, include_sweeps: bool = True, lazy: bool = True) -> list[FakeRun]:
        self.calls.append((path, filters))
        return self._runs


def test_fake_matches_the_real_public_interface() -> None:
    real = inspect.signature(wandb.Api.runs).parameters
    assert {"path", "filters", "per_page"} <= set(real)
    assert {"page_size", "keys"} <= set(inspect.signature(Run.scan_history).parameters)
    for attr in ("id", "state", "config", "summary", "path", "name", "entity", "scan_history"):
        assert hasattr(Run, attr), attr
    # group, job_type, notes, tags, created_at, project come from the run's GraphQL attrs via __getattr__;
    # the adapter reads them with getattr(..., None) so a missing one is not an error.
    assert hasattr(Run, "__getattr__") and "project" in inspect.signature(Run.__init__).parameters


def _run(i: int, state: str = "finished", acc: float | None = 0.8) -> FakeRun:
    summary = {"test/acc": acc, "train_time_s": 5.0, "_runtime": 6.0} if acc is not None else {"_runtime": 1.0}
    return FakeRun(id=f"r{i}", state=state, config={"dataset": f"d{i % 2}", "lr": 0.1 * i, **meta(100 * (i + 1), 2)},
                   summary=FakeSummary(summary), rows=[{"epoch": 0, "val/acc": 0.5}, {"epoch": 1, "val/acc": 0.6}])


def test_online_sync_reads_history_only_for_finished_runs(tmp_path: Path) -> None:
    runs = [_run(0), _run(1), _run(2, state="crashed"), _run(3, state="running"), _run(4, acc=None)]
    api = FakeApi(runs)
    with ExperimentStore(open_client(path=tmp_path / "q"), "c") as store:
        report = sync(OnlineRunSource(api, project="proj"), store, MetricNames())
        assert api.calls == [("team/proj", None)]
        assert report.synced == 2 and report.skip_counts == {"crashed": 1, "running": 1, "missing metric": 1}
        assert [r.history_calls for r in runs] == [1, 1, 0, 0, 1]
        exp = store.search({"n_instances": 100.0, "n_classes": 2.0}, k=1)[0].experiment
        assert exp.run_path == "team/proj/r0" and exp.trajectory.best_value == 0.6


def test_one_broken_run_does_not_stop_the_sync(tmp_path: Path) -> None:
    broken = _run(1)

    def boom(**_: Any) -> Iterator[dict[str, Any]]:
        raise RuntimeError("history file deleted")
        yield {}

    broken.scan_history = boom  # type: ignore[method-assign]
    with ExperimentStore(open_client(path=tmp_path / "q"), "c") as store:
        report = sync(OnlineRunSource(FakeApi([_run(0), broken]), project="proj"), store, MetricNames())
    assert report.synced == 1 and report.skipped[0].reason == "unreadable"
    assert "history file deleted" in report.skipped[0].detail
