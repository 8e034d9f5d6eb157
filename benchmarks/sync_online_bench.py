"""`sync` from the W&B API at scale: requests and wall time of a first sync and of re-syncs, against the
loopback W&B backend (tests/support/wandb_backend) with injected latency, through the real `wandb.Api`
and wandb-core, into embedded Qdrant (issue 12 targets: <= 1.2 requests per run on a first sync, < 5 min
for 10,000 runs at 100 ms; a re-sync with nothing new in <= 50 requests and < 15 s).

Run by hand:
    .venv/bin/python benchmarks/sync_online_bench.py                        # 2,000 and 10,000 runs, 50 and 100 ms
    .venv/bin/python benchmarks/sync_online_bench.py --runs 2000 --latency 0.05 --before   # + the old code path

The backend runs in a child process (as a real server would: its JSON work does not share this
process's GIL). Each project: 95% finished training runs over 40 datasets with 20 epochs of history,
3% crashed, 2% still running, created a day ago. `--before` also times the code this replaced (a lazy
`Runs` page, then per run a `Run` load for its config and a `scan_history`), re-created below.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DAY_AGO = "2026-01-01T00:00:00"
N_DATASETS = 40


def _world(n: int) -> Any:
    from tests.support.wandb_backend import World
    from tests.support.wandb_runs import meta

    world = World()
    history = [{"epoch": e, "train/loss": 1 / (e + 1), "train/acc": 0.5 + e / 40, "val/loss": 1 / (e + 2),
                "val/acc": 0.5 + e / 50} for e in range(20)]
    for i in range(n):
        state = "crashed" if i % 100 < 3 else "running" if i % 100 < 5 else "finished"
        d = i % N_DATASETS
        world.add_run("team", "bench", f"b{i:06d}", state=state, job_type="train", group=f"sweep-{i // 500}",
                      config={"dataset": f"/d/ds{d}.npz", "base_model": "resnet50", "learning_rate": 10 ** -(2 + i % 4),
                              "batch_size": 32, **meta(300 * (1 + d), 2 + d % 9, ("US", "CT", "MRI", "X-ray")[d % 4])},
                      summary={"test/acc": 0.5 + (i % 97) / 200, "train_time_s": 60.0, "_runtime": 61.0},
                      history=history, created_at=DAY_AGO, heartbeat_at=DAY_AGO)
    return world


def _serve(n: int, conn: Connection) -> None:
    """The child: a backend with `n` runs, driven by (command, arg) messages."""
    from tests.support.wandb_backend import Backend
    from tests.support.wandb_backend.model import now_iso

    with Backend(_world(n)) as backend:
        conn.send(backend.url)
        while True:
            cmd, arg = conn.recv()
            if cmd == "latency":
                backend.set_latency(arg)
            elif cmd == "reset":
                backend.reset_counts()
            elif cmd == "counts":
                conn.send((backend.graphql_counts(), backend.count("file"), list(backend.unknown)))
                continue
            elif cmd == "touch":  # `arg` runs written since (a relabel, a late summary)
                with backend.world.lock:
                    for run in list(backend.world.runs.values())[:arg]:
                        run.updated_at = now_iso()
            elif cmd == "stop":
                conn.send("ok")
                return
            conn.send("ok")


class Server:
    def __init__(self, n: int) -> None:
        self.conn, child = mp.Pipe()
        self.proc = mp.get_context("fork").Process(target=_serve, args=(n, child), daemon=True)
        self.proc.start()
        self.url = self.conn.recv()

    def __call__(self, cmd: str, arg: Any = None) -> Any:
        self.conn.send((cmd, arg))
        return self.conn.recv()

    def close(self) -> None:
        self("stop")
        self.proc.join(10)


class LegacyOnlineRunSource:
    """The online source as it was before issue 12 (git c499bda): lazy pages, `dict(run.config)` (one
    `Run` load each), `scan_history` for every finished run (history keys, parquet export, a download)."""

    def __init__(self, api: Any, project: str, entity: str) -> None:
        self.api, self.project, self.entity = api, project, entity
        self._runs: list[Any] | None = None

    def describe(self) -> str:
        return f"W&B runs of {self.entity}/{self.project} (old code path)"

    def _all(self) -> list[Any]:
        if self._runs is None:
            self.api.flush()  # each `sync` was a fresh process: nothing cached from the last one
            self._runs = list(self.api.runs(f"{self.entity}/{self.project}", per_page=500))
        return self._runs

    def count(self) -> int:
        return len(self._all())

    def run_path(self, raw: Any) -> str:
        return raw.path

    def __iter__(self) -> Iterator[Any]:
        from metallmix_wandb.knowledge.records import RawRun

        for run in self._all():
            history = list(run.scan_history(page_size=1000)) if run.state == "finished" else []
            yield RawRun(path="/".join(run.path), run_id=run.id, name=run.name, project=self.project,
                         entity=run.entity, job_type=getattr(run, "job_type", None), state=run.state,
                         config=dict(run.config), summary=dict(run.summary._json_dict), history=history)


def _env(url: str, root: Path) -> None:
    from tests.support.wandb_backend import DUMMY_API_KEY

    for sub in ("dir", "config", "cache", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.environ.update({"WANDB_BASE_URL": url, "WANDB_API_KEY": DUMMY_API_KEY, "WANDB_DIR": str(root / "dir"),
                       "WANDB_CONFIG_DIR": str(root / "config"), "WANDB_CACHE_DIR": str(root / "cache"),
                       "WANDB_DATA_DIR": str(root / "data"), "WANDB_SILENT": "true", "WANDB_ENTITY": "team"})
    for key in ("WANDB_MODE", "WANDB_PROJECT"):
        os.environ.pop(key, None)


def _one(server: Server, label: str, make_source: Any, store: Any, n: int, full: bool = False) -> None:
    from metallmix_wandb.knowledge.experiments import MetricNames
    from metallmix_wandb.knowledge.sync import sync

    server("reset")
    t0 = time.perf_counter()
    report = sync(make_source(), store, MetricNames(), full=full)
    wall = time.perf_counter() - t0
    counts, files, unknown = server("counts")
    total = sum(counts.values()) + files
    ops = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    print(f"  {label:<24} {total:>6} requests ({total / n:.2f}/run; {ops}{f', file {files}' if files else ''}), "
          f"{wall:7.1f} s wall; read {report.read}, synced {report.synced}, {report.total} stored", flush=True)
    assert not unknown, unknown


def bench(n: int, latency: float, before: bool, workers: int, root: Path) -> None:
    import wandb

    from metallmix_wandb.knowledge.runs_online import OnlineRunSource
    from metallmix_wandb.knowledge.store import ExperimentStore, open_client

    t0 = time.perf_counter()
    server = Server(n)
    print(f"\n{n:,} runs, {latency * 1000:.0f} ms per request (backend built in {time.perf_counter() - t0:.0f} s)",
          flush=True)
    try:
        _env(server.url, root / f"wandb-{n}-{latency}")
        api = wandb.Api(timeout=30)
        server("latency", latency)
        with ExperimentStore(open_client(path=root / f"q-{n}-{latency}"), "metallmix__bench") as store:
            def new() -> OnlineRunSource:
                return OnlineRunSource(api, project="bench", entity="team", workers=workers)

            _one(server, "first sync", new, store, n)
            _one(server, "re-sync, nothing new", new, store, n)
            server("touch", 20)
            _one(server, "re-sync, 20 updated", new, store, n)
        if before:
            with ExperimentStore(open_client(path=root / f"old-{n}-{latency}"), "metallmix__bench") as store:
                def old() -> LegacyOnlineRunSource:
                    return LegacyOnlineRunSource(api, project="bench", entity="team")

                _one(server, "before: first sync", old, store, n)
                _one(server, "before: re-sync", old, store, n)
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[2_000, 10_000])
    parser.add_argument("--latency", type=float, nargs="+", default=[0.05, 0.1])
    parser.add_argument("--before", action="store_true", help="also time the old code path")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sync-online-bench-") as tmp:
        for n in args.runs:
            for latency in args.latency:
                bench(n, latency, args.before, args.workers, Path(tmp))


if __name__ == "__main__":
    main()
