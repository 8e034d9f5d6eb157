"""The W&B API run source and `sync` at the wire: the real `wandb.Api` and wandb-core against the loopback
backend (tests/support/wandb_backend), with request counts per operation.

What is pinned: a first sync costs one `Runs` page per page plus one sampled-history request per stored
run (nothing for runs the page rules out); a re-sync asks only for runs updated since the watermark; a
server that fails mid-way stops the pass with a SourceError after the earlier runs are stored; `--full`
drops runs deleted in W&B; the CLI says a network or auth error in one line with exit code 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wandb
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.knowledge.base import SourceError
from metallmix_wandb.knowledge.experiments import MetricNames
from metallmix_wandb.knowledge.runs_online import OnlineRunSource, history_keys
from metallmix_wandb.knowledge.store import ExperimentStore, open_client
from metallmix_wandb.knowledge.sync import SyncAborted, sync
from tests.support.wandb_backend import Backend, World, wandb_backend_fixture
from tests.support.wandb_runs import meta

wandb_backend = pytest.fixture(wandb_backend_fixture)


@pytest.fixture(autouse=True, scope="module")
def _fresh_wandb_settings_afterwards() -> Iterator[None]:
    """wandb keeps the settings of its first use in the process (online, this backend's URL): drop
    them, so a later test's offline `wandb.init` reads its own environment again."""
    yield
    wandb.teardown()

PAST = "2026-01-01T00:00:00"


def _history(n: int = 4) -> list[dict[str, Any]]:
    return [{"epoch": e, "train/loss": 1.0 / (e + 1), "train/acc": 0.5 + e / 20, "val/loss": 1.2 / (e + 1),
             "val/acc": 0.5 + e / 40, **({"lr": 0.1} if e % 2 else {})} for e in range(n)]


def add_runs(world: World, start: int, n: int, *, state: str = "finished", when: str = PAST,
             **fields: Any) -> None:
    """Training runs r<start>..: 4 datasets, a finite test/acc, a 4-epoch curve."""
    for i in range(start, start + n):
        world.add_run("team", "proj", f"r{i:04d}", **{"state": state, "job_type": "train", **fields},
                      config={"dataset": f"/d/ds{i % 4}.npz", "learning_rate": 1e-3 * (1 + i % 5),
                              **meta(500 * (1 + i % 4), 2 + i % 3)},
                      summary={"test/acc": 0.6 + (i % 7) / 50, "train_time_s": 12.0, "_runtime": 13.0},
                      history=_history(), created_at=when, heartbeat_at=when)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ExperimentStore]:
    with ExperimentStore(open_client(path=tmp_path / "qdrant"), "metallmix__proj") as s:
        yield s


@pytest.fixture
def api(wandb_backend: Backend) -> Iterator[wandb.Api]:
    api = wandb.Api(timeout=30)
    wandb_backend.reset_counts()
    yield api
    assert wandb_backend.unknown == [], wandb_backend.unknown


def _source(api: wandb.Api, **kw: Any) -> OnlineRunSource:
    return OnlineRunSource(api, project="proj", entity="team", per_page=kw.pop("per_page", 10), workers=4,
                           backoff_s=0.0, **kw)


def test_history_keys_are_what_the_trajectory_reads() -> None:
    keys = {k: {"typeCounts": [{"type": "float", "count": 20}]}
            for k in ("val/acc", "train/acc", "val/loss", "lr")}
    keys["train/loss"] = {"typeCounts": [{"type": "float", "count": 2000}]}  # logged per batch: other rows
    assert history_keys(keys, "val/acc") == ["val/acc", "train/acc", "val/loss"]
    assert history_keys({"train/acc": {}}, "val/acc") == []


def test_first_sync_costs_a_page_per_page_and_one_history_request_per_stored_run(
        api: wandb.Api, wandb_backend: Backend, store: ExperimentStore) -> None:
    world = wandb_backend.world
    add_runs(world, 0, 25)
    add_runs(world, 100, 2, state="crashed")
    add_runs(world, 200, 2, state="running")
    add_runs(world, 300, 1, job_type="recommendation")
    world.runs[("team", "proj", "r0001")].summary.pop("test/acc")
    report = sync(_source(api), store, MetricNames())
    assert report.synced == 24 and report.read == 30 and store.count() == 24
    assert report.skip_counts == {"crashed": 2, "running": 2, "not a training run": 1, "missing metric": 1}
    assert wandb_backend.graphql_counts() == {"Runs": 3, "RunSampledHistory": 24}  # ceil(30 / 10) pages
    asked = [r.variables for r in wandb_backend.requests if r.operation == "RunSampledHistory"]
    assert all('"keys": ["_step", "val/acc", "train/acc", "train/loss", "val/loss"]' in v["specs"][0]
               for v in asked)
    exp = next(e for e in store.all() if e.run_id == "r0005")
    assert exp.trajectory.epochs == 4 and exp.trajectory.best_value == pytest.approx(0.575)
    assert exp.trajectory.train_val_gap == pytest.approx(0.65 - 0.575)
    assert exp.config["learning_rate"] == 0.001
    assert exp.run_path == "team/proj/r0005" and exp.meta_features["n_instances"] == 1000.0


def test_resync_reads_only_runs_updated_since_the_watermark(
        api: wandb.Api, wandb_backend: Backend, store: ExperimentStore) -> None:
    world = wandb_backend.world
    add_runs(world, 0, 30)
    sync(_source(api), store, MetricNames())
    wandb_backend.reset_counts()
    again = sync(_source(api), store, MetricNames())  # nothing new
    assert again.incremental and again.read == 0 and again.synced == 0 and again.total == 30
    assert wandb_backend.graphql_counts() == {"Runs": 1}
    assert '"updatedAt": {"$gt": "' in wandb_backend.requests[0].variables["filters"]

    add_runs(world, 30, 3, when="2099-01-01T00:00:00")  # new runs, and one old run relabelled in W&B
    api.run("team/proj/r0002").update()
    wandb_backend.reset_counts()
    third = sync(_source(api), store, MetricNames())
    assert (third.read, third.synced, third.total) == (4, 4, 33)
    assert wandb_backend.graphql_counts() == {"Runs": 1, "RunSampledHistory": 4}

    wandb_backend.reset_counts()
    assert sync(_source(api), store, MetricNames(), full=True).read == 33  # --full reads everything
    assert wandb_backend.count("RunSampledHistory") == 33


def test_another_metric_reads_everything_again(api: wandb.Api, wandb_backend: Backend,
                                               store: ExperimentStore) -> None:
    add_runs(wandb_backend.world, 0, 6)
    sync(_source(api), store, MetricNames())
    report = sync(_source(api), store, MetricNames(target="train_time_s"))
    assert not report.incremental and report.read == 6


def test_full_sync_removes_runs_deleted_in_wandb(api: wandb.Api, wandb_backend: Backend,
                                                 store: ExperimentStore, tmp_path: Path) -> None:
    world = wandb_backend.world
    add_runs(world, 0, 12)
    sync(_source(api), store, MetricNames())
    world.delete_run("team", "proj", "r0003")
    world.delete_run("team", "proj", "r0004")
    assert sync(_source(api), store, MetricNames()).deleted == 0  # incremental: cannot see deletions
    report = sync(_source(api), store, MetricNames(), full=True)
    assert report.deleted == 2 and store.count() == 10
    assert {e.run_id for e in store.all()} == {f"r{i:04d}" for i in range(12)} - {"r0003", "r0004"}


def test_a_server_failing_mid_way_keeps_the_runs_read_before(
        api: wandb.Api, wandb_backend: Backend, store: ExperimentStore) -> None:
    add_runs(wandb_backend.world, 0, 30)
    pages = {"n": 0}
    runs_handler = wandb_backend.handlers["Runs"]

    def failing_after_two_pages(b: Backend, r: Any) -> dict[str, Any]:
        pages["n"] += 1
        if pages["n"] == 2:  # every later page: 500s until wandb-core and the source give up
            b.fail(500, times=None, operation="Runs")
        return runs_handler(b, r)

    wandb_backend.handlers["Runs"] = failing_after_two_pages
    with pytest.raises(SyncAborted, match="listing the runs of team/proj failed after 20 runs") as info:
        sync(_source(api), store, MetricNames())
    assert info.value.report.synced == 20 and store.count() == 20
    assert store.watermark("team/proj") is None  # not advanced: the next sync reads the rest
    wandb_backend.clear_faults()
    wandb_backend.handlers["Runs"] = runs_handler
    assert sync(_source(api), store, MetricNames()).total == 30


def test_a_history_request_is_retried_then_a_persistent_failure_stops_the_pass(
        api: wandb.Api, wandb_backend: Backend, store: ExperimentStore) -> None:
    add_runs(wandb_backend.world, 0, 1)
    wandb_backend.fail(500, times=21, operation="RunSampledHistory")  # wandb-core tries 21 times, gives up
    assert sync(_source(api), store, MetricNames()).synced == 1  # ... and the source's second try succeeds
    assert wandb_backend.count("RunSampledHistory") == 22
    wandb_backend.fail(401, times=None, operation="RunSampledHistory")
    wandb_backend.reset_counts()
    with pytest.raises(SourceError, match="reading the history of team/proj/r0000 failed: .*401"):
        list(_source(api, attempts=2))
    assert wandb_backend.count("RunSampledHistory") == 2  # a 401 is not retried by wandb-core


def test_a_run_deleted_between_page_and_history_is_skipped_not_fatal(api: wandb.Api, wandb_backend: Backend,
                                                                     store: ExperimentStore) -> None:
    add_runs(wandb_backend.world, 0, 3)
    source = _source(api)
    source.count()  # the page is read
    wandb_backend.world.delete_run("team", "proj", "r0001")
    items = list(source)
    assert [i[1] for i in items if isinstance(i, tuple)] == ["unreadable"]
    assert len(items) == 3


def _cli(*args: str) -> tuple[int, str]:
    args = ("sync", "--project", "proj", "--entity", "team", "--no-explain", *args)
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_network_error_is_one_line_and_exit_1(wandb_backend: Backend, tmp_path: Path) -> None:
    add_runs(wandb_backend.world, 0, 250)  # two pages at the default page size
    q = str(tmp_path / "kb")
    runs_handler = wandb_backend.handlers["Runs"]

    def failing_after_the_first_page(b: Backend, r: Any) -> dict[str, Any]:
        b.fail(500, times=None, operation="Runs")  # every later page: 500 until everyone gives up
        return runs_handler(b, r)

    wandb_backend.handlers["Runs"] = failing_after_the_first_page
    code, out = _cli("--qdrant-path", q)
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, out
    assert lines[0].startswith("error: listing the runs of team/proj failed after 200 runs")
    assert "500" in lines[0]
    assert "kept the 200 usable runs" in lines[0] and "Traceback" not in out
    wandb_backend.clear_faults()
    wandb_backend.handlers["Runs"] = runs_handler
    code, out = _cli("--qdrant-path", q)
    assert code == 0 and "synced 250" in out, out  # the watermark had not moved: the rest is read


def test_cli_auth_error_is_one_line_and_exit_1(wandb_backend: Backend, tmp_path: Path) -> None:
    wandb_backend.fail(401, times=None)
    code, out = _cli("--qdrant-path", str(tmp_path / "kb"))
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "401" in lines[0], out
