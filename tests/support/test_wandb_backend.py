"""The loopback W&B backend, driven by the real SDK (wandb.Api -> wandb-core -> HTTP -> the backend).

Request counts asserted here are what wandb 0.31.0 sends; a failing count after an SDK upgrade means
the SDK changed its traffic, which is worth knowing before the product's online paths are trusted.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wandb
from wandb.errors import CommError

from tests.support.wandb_backend import Backend, World, wandb_backend_fixture
from tests.support.require import require_module

wandb_backend = pytest.fixture(wandb_backend_fixture)


def _history(n: int) -> list[dict[str, Any]]:
    return [{"epoch": e, "val/acc": round(0.5 + e / 100, 3), **({"lr": 0.1} if e % 2 == 0 else {})}
            for e in range(n)]


def _populate(world: World, n_runs: int = 7, n_steps: int = 10) -> None:
    for i in range(n_runs):
        world.add_run("team", "proj", f"r{i}", state="finished" if i % 3 else "running", job_type="train",
                      group="g1", tags=["t"], config={"lr": 0.1 * i, "dataset": f"d{i % 2}"},
                      summary={"test/acc": 0.5 + i / 100, "nested": {"a": i}}, history=_history(n_steps),
                      created_at=f"2026-01-{i + 1:02d}T00:00:00")


@pytest.fixture
def api(wandb_backend: Backend) -> Iterator[wandb.Api]:
    _populate(wandb_backend.world)
    api = wandb.Api(timeout=30)
    wandb_backend.reset_counts()
    yield api
    assert wandb_backend.unknown == [], wandb_backend.unknown


def test_environment_points_the_sdk_at_the_backend(wandb_backend: Backend, tmp_path: Path) -> None:
    assert os.environ["WANDB_BASE_URL"] == wandb_backend.url and len(os.environ["WANDB_API_KEY"]) == 40
    assert "WANDB_MODE" not in os.environ and os.environ["WANDB_CACHE_DIR"].startswith(str(tmp_path))
    assert wandb.Api(timeout=30).default_entity == "team"
    assert wandb_backend.graphql_counts() == {"Viewer": 1, "GetDefaultEntity": 1}


def test_runs_full_pages_carry_config_and_summary(api: wandb.Api, wandb_backend: Backend) -> None:
    runs = list(api.runs("team/proj", per_page=3, lazy=False))
    assert [r.id for r in runs] == [f"r{i}" for i in range(7)]
    assert runs[2].config == {"lr": 0.2, "dataset": "d0"} and runs[2].state == "finished"
    assert runs[2].summary._json_dict == {"test/acc": 0.52, "nested": {"a": 2}}
    assert (runs[2].job_type, runs[2].group, runs[2].tags) == ("train", "g1", ["t"])
    assert wandb_backend.graphql_counts() == {"Runs": 3}  # ceil(7 / 3) pages, nothing per run


def test_lazy_runs_cost_one_request_per_run_for_config(api: wandb.Api, wandb_backend: Backend) -> None:
    runs = list(api.runs("team/proj", per_page=50))
    assert wandb_backend.graphql_counts() == {"Runs": 1}
    assert [dict(r.config)["lr"] for r in runs][:2] == [0.0, 0.1]
    assert wandb_backend.graphql_counts() == {"Runs": 1, "Run": 7}


def test_runs_filters_and_order(api: wandb.Api, wandb_backend: Backend) -> None:
    runs = api.runs("team/proj", filters={"state": "running"}, order="-created_at", lazy=False)
    assert [r.id for r in runs] == ["r6", "r3", "r0"] and len(runs) == 3


def test_sampled_history_keeps_rows_with_every_key(api: wandb.Api, wandb_backend: Backend) -> None:
    run = api.run("team/proj/r1")
    rows = run.history(keys=["val/acc", "lr"], samples=3, pandas=False)
    assert rows == [{"_step": 0, "val/acc": 0.5, "lr": 0.1}, {"_step": 4, "val/acc": 0.54, "lr": 0.1},
                    {"_step": 8, "val/acc": 0.58, "lr": 0.1}]
    assert wandb_backend.graphql_counts() == {"Run": 1, "RunSampledHistory": 1}


def test_api_run_is_cached_until_reloaded(api: wandb.Api, wandb_backend: Backend) -> None:
    run = api.run("team/proj/r0")
    wandb_backend.world.runs[("team", "proj", "r0")].state = "finished"
    assert api.run("team/proj/r0").state == "running"  # Api.run caches the Run
    run.load(force=True)
    assert run.state == "finished"
    api.flush()
    assert api.run("team/proj/r0").state == "finished"
    assert wandb_backend.graphql_counts() == {"Run": 3}


def test_missing_run_is_a_comm_error(api: wandb.Api) -> None:
    with pytest.raises(CommError, match="Could not find run"):  # not ValueError: normalize_exceptions wraps it
        api.run("team/proj/nope")


def test_run_update_rewrites_config_and_summary(api: wandb.Api, wandb_backend: Backend) -> None:
    run = api.run("team/proj/r1")
    run.group, run.tags, run.notes = "tune-x", [*run.tags, "trial-1"], "why"
    run.config["lr"] = 0.5
    run.summary["best"] = 1.0
    run.update()
    stored = wandb_backend.world.runs[("team", "proj", "r1")]
    assert (stored.group, stored.tags, stored.notes) == ("tune-x", ["t", "trial-1"], "why")
    assert stored.config == {"lr": 0.5, "dataset": "d1"}
    assert stored.summary == {"test/acc": 0.51, "nested": {"a": 1}, "best": 1.0}
    assert wandb_backend.graphql_counts() == {"Run": 1, "UpsertBucket": 2}  # run fields, then summary


def test_scan_history_downloads_the_exported_parquet(api: wandb.Api, wandb_backend: Backend) -> None:
    run = api.run("team/proj/r1")
    rows = list(run.scan_history())
    assert len(rows) == 10 and rows[2] == {"_step": 2, "epoch": 2, "val/acc": 0.52, "lr": 0.1}
    assert rows[3] == {"_step": 3, "epoch": 3, "val/acc": 0.53, "lr": None}  # a key a row lacks: None
    assert wandb_backend.graphql_counts() == {"Run": 1, "RunHistoryKeys": 1, "RunParquetHistory": 1}
    assert [(r.method, r.status) for r in wandb_backend.requests if r.operation == "file"] == [("GET", 200)]


def test_scan_history_with_keys_reads_ranges_and_the_live_tail(api: wandb.Api, wandb_backend: Backend) -> None:
    wandb_backend.world.runs[("team", "proj", "r2")].live_from_step = 8  # steps 8, 9 not exported yet
    run = api.run("team/proj/r2")
    rows = list(run.scan_history(keys=["val/acc"], page_size=5))
    assert [r["_step"] for r in rows] == list(range(10)) and rows[9] == {"_step": 9, "val/acc": 0.59}
    files = [r for r in wandb_backend.requests if r.operation == "file"]
    assert files and all(r.status == 206 and r.variables["range"].startswith("bytes=") for r in files)
    assert wandb_backend.count("SampledHistoryPage") == 1  # only the page reaching the live tail


def test_file_server_answers_head_and_ranges(wandb_backend: Backend) -> None:
    url = wandb_backend.publish_file("h.parquet", b"0123456789")
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as resp:
        assert resp.headers["Content-Length"] == "10" and resp.headers["Accept-Ranges"] == "bytes"
        assert resp.read() == b""
    for rng, body, content_range in (("bytes=2-4", b"234", "bytes 2-4/10"), ("bytes=-3", b"789", "bytes 7-9/10"),
                                     ("bytes=8-", b"89", "bytes 8-9/10")):
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": rng})) as resp:
            assert (resp.status, resp.read(), resp.headers["Content-Range"]) == (206, body, content_range)


def test_a_500_is_retried_by_wandb_core(api: wandb.Api, wandb_backend: Backend) -> None:
    wandb_backend.fail(500, times=1, operation="Run")
    wandb_backend.fail(429, times=1, operation="RunSampledHistory")
    run = api.run("team/proj/r1")
    assert run.history(keys=["val/acc"], pandas=False)
    assert [(r.operation, r.status) for r in wandb_backend.requests if r.operation != "otel"] == [
        ("Run", 500), ("Run", 200), ("RunSampledHistory", 429), ("RunSampledHistory", 200)]


def test_a_persistent_500_gives_up_after_21_attempts(api: wandb.Api, wandb_backend: Backend) -> None:
    """wandb-core tries 1 + 20 times. Api.run raises CommError; the runs paginator raises the bare
    WandbApiFailedError (an Exception, not a CommError): catch both where a listing can fail."""
    from wandb.sdk.lib.service.service_connection import WandbApiFailedError

    wandb_backend.fail(500, times=None, operation="Runs")
    with pytest.raises(WandbApiFailedError, match="giving up after 21 attempt"):
        list(api.runs("team/proj", lazy=False))
    assert wandb_backend.count("Runs") == 21 and not issubclass(WandbApiFailedError, CommError)
    wandb_backend.fail(500, times=None, operation="Run")
    with pytest.raises(CommError, match="giving up after 21 attempt"):
        api.run("team/proj/r1")


def test_a_hung_request_times_out(wandb_backend: Backend) -> None:
    _populate(wandb_backend.world, n_runs=1)
    api = wandb.Api(timeout=1)
    wandb_backend.fail(kind="timeout", times=1, operation="Run", hang_s=5)
    with pytest.raises(CommError):  # the 5 s hang outlives the 1 s timeout
        api.run("team/proj/r0")


def test_latency_is_injected_per_operation(api: wandb.Api, wandb_backend: Backend) -> None:
    wandb_backend.set_latency(0.3, operation="Run")
    start = time.monotonic()
    api.run("team/proj/r1")
    assert time.monotonic() - start >= 0.3


def test_unknown_operations_are_errors_and_listed(api: wandb.Api, wandb_backend: Backend,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CommError, match="unknown operation"):
        api.sweep("team/proj/abc123")  # sweeps are not served
    assert wandb_backend.unknown and wandb_backend.unknown[0].startswith("graphql ")
    assert "UNKNOWN" in capsys.readouterr().err
    wandb_backend.unknown.clear()


def test_launch_add_pushes_then_looks_the_job_up(api: wandb.Api, wandb_backend: Backend) -> None:
    from wandb.sdk.launch import launch_add
    from wandb.sdk.launch.errors import LaunchError

    world = wandb_backend.world
    queue = world.add_queue("team", "q")
    world.add_artifact("team", "proj", "train", "job", files={"wandb-job.json": b"{}"})
    queued = launch_add(job="team/proj/train:latest", config={"overrides": {"run_config": {"lr": 1}}},
                        project="proj", entity="team", queue_name="q")
    assert queued.id == queue.items[0].id and queued.state == "pending"
    assert queue.items[0].spec["overrides"] == {"run_config": {"lr": 1}}
    assert queue.items[0].spec["job"] == "team/proj/train:latest"
    assert wandb_backend.count("pushToRunQueueByName") == 1 and wandb_backend.count("ArtifactMembershipByName") == 1

    with pytest.raises(LaunchError, match="Unable to fetch job"):
        launch_add(job="team/proj/missing:latest", project="proj", entity="team", queue_name="q")
    assert len(queue.items) == 2  # pushed before the job check, as on the real server

    with pytest.raises(LaunchError, match="Error adding run to queue"):
        launch_add(job="team/proj/train:latest", project="proj", entity="team", queue_name="nope")


def test_artifact_download(api: wandb.Api, wandb_backend: Backend, tmp_path: Path) -> None:
    wandb_backend.world.add_artifact("team", "proj", "kb", "dataset", files={"a.txt": b"one", "d/b.json": b"{}"})
    art = wandb_backend.world.add_artifact("team", "proj", "kb", "dataset", files={"a.txt": b"two"})
    fetched = api.artifact("team/proj/kb:latest")
    assert fetched.version == "v1" and fetched.type == "dataset" and fetched.digest == art.digest
    folder = Path(fetched.download(root=str(tmp_path / "art")))
    assert (folder / "a.txt").read_bytes() == b"two"
    old = Path(api.artifact("team/proj/kb:v0").download(root=str(tmp_path / "v0")))
    assert (old / "d" / "b.json").read_bytes() == b"{}"


def test_runs_filter_on_times_and_writes_bump_updated_at(api: wandb.Api, wandb_backend: Backend) -> None:
    """What an incremental sync relies on (`{"updatedAt": {"$gt": ...}}`); the product's use of it is
    tested in tests/knowledge/test_runs_online.py."""
    since = {"updatedAt": {"$gt": "2026-01-04T12:00:00Z"}}
    world = wandb_backend.world
    for i, run in enumerate(sorted(world.project_runs("team", "proj"), key=lambda r: r.name)):
        run.updated_at = f"2026-01-{i + 1:02d}T00:00:00"
    api.flush()
    assert [r.id for r in api.runs("team/proj", filters=since, lazy=False)] == ["r4", "r5", "r6"]
    window = {"$and": [{"createdAt": {"$gte": "2026-01-02T00:00:00"}}, {"createdAt": {"$lt": "2026-01-04"}}]}
    assert [r.id for r in api.runs("team/proj", filters=window, lazy=False)] == ["r1", "r2"]
    api.run("team/proj/r0").update()
    assert world.runs[("team", "proj", "r0")].updated_at > "2026-01-07"
    api.flush()
    assert [r.id for r in api.runs("team/proj", filters=since, lazy=False)] == ["r0", "r4", "r5", "r6"]
    with pytest.raises(Exception, match="invalid time"):
        list(api.runs("team/proj", filters={"updatedAt": {"$gt": 1700000000}}, lazy=False))


def test_report_save(api: wandb.Api, wandb_backend: Backend) -> None:
    wr = require_module("wandb_workspaces.reports.v2")
    report = wr.Report(entity="team", project="fresh", title="Meta-knowledge", blocks=[wr.H1("Runs")])
    report.save()
    saved = wandb_backend.world.reports
    assert len(saved) == 1 and saved[0]["displayName"] == "Meta-knowledge" and saved[0]["projectName"] == "fresh"
    assert "Runs" in saved[0]["spec"] and report.id == saved[0]["id"]
    assert wandb_backend.count("CreateProject") == 1 and wandb_backend.count("upsertView") == 1
    report.save()  # the second save updates the same view
    assert len(saved) == 1 and wandb_backend.count("CreateProject") == 1
