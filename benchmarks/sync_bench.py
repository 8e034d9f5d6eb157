"""Sync time for 100 and 1,000 offline runs, and top-k query latency (issue 2 targets: 1,000 runs
in < 10 s, a query in < 20 ms); with `--explain`, also the step `sync` ends with on the 1,000 runs
(meta-learner fit, its leave-one-dataset-out quality, SHAP, the cache; issue 14 target: sync + explain
under 30 s). Run by hand, niced on a shared machine:
`nice -n 10 .venv/bin/python benchmarks/sync_bench.py [--explain] [--profile FILE]`.

A few runs are written by the real SDK; the rest are copies of their record logs with a new run id,
dataset, config and metrics, so every file is a genuine .wandb log that the reader must parse."""

from __future__ import annotations

import argparse
import cProfile
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metallmix_wandb.knowledge.store import ExperimentStore, collection_name, open_client  # noqa: E402
from metallmix_wandb.knowledge.runs_offline import OfflineRunSource, find_run_dirs  # noqa: E402
from metallmix_wandb.knowledge.record_log import read_record_log  # noqa: E402
from metallmix_wandb.knowledge.experiments import MetricNames  # noqa: E402
from metallmix_wandb.knowledge.sync import sync  # noqa: E402
from tests.support.record_log_writer import write_record_log  # noqa: E402
from tests.support.wandb_runs import meta, write_run  # noqa: E402

PROJECT = "bench"
N_DATASETS = 40


def _template(root: Path) -> Path:
    for k, v in {"WANDB_MODE": "offline", "WANDB_DIR": str(root), "WANDB_SILENT": "true"}.items():
        os.environ[k] = v
    history = [{"epoch": e, "train/loss": 1 / (e + 1), "train/acc": 0.5 + e / 40, "val/loss": 1 / (e + 2),
                "val/acc": 0.5 + e / 50} for e in range(20)]
    write_run(PROJECT, {"dataset": "/d/template.npz", "base_model": "resnet50", "learning_rate": 1e-3,
                        "batch_size": 32, "dropout": 0.2, **meta(1_000, 2)}, history,
              {"test/acc": 0.8, "train_time_s": 60.0})
    return find_run_dirs(root / "wandb")[0]


def _clone(template: Path, out: Path, n: int, rng: random.Random) -> None:
    from wandb.proto import wandb_internal_pb2 as pb

    payloads = read_record_log(next(template.glob("run-*.wandb"))).payloads
    datasets = [(f"/d/ds{i}.npz", meta(rng.choice([300, 3_000, 30_000]) * (1 + i % 7), 2 + i % 9,
                                         rng.choice(["US", "CT", "MRI", "X-ray"]))) for i in range(N_DATASETS)]
    for i in range(n):
        run_id = f"b{i:07d}"
        dataset, mf = datasets[i % N_DATASETS]
        new = []
        for p in payloads:
            rec = pb.Record()
            rec.ParseFromString(p)
            kind = rec.WhichOneof("record_type")
            if kind == "run":
                rec.run.run_id = run_id
                lr = rng.uniform(-5, -2)
                updates = {"dataset": dataset, "learning_rate": 10 ** lr, **mf,
                           "base_model": rng.choice(["resnet50", "densenet121", "efficientnet_b0"]),
                           "batch_size": rng.choice([16, 32, 64]), "dropout": rng.choice([0.0, 0.2, 0.5])}
                acc = 0.9 - 0.05 * (lr + 3.5) ** 2 - 0.01 * (i % N_DATASETS % 9) + rng.gauss(0, 0.02)
                for item in rec.run.config.update:
                    if item.key in updates:
                        item.value_json = _json(updates.pop(item.key))
                for key, value in updates.items():
                    rec.run.config.update.add(key=key, value_json=_json(value))
            elif kind == "summary":
                for item in rec.summary.update:
                    if item.key == "test/acc":
                        item.value_json = _json(min(max(acc, 0.05), 0.99))
            new.append(rec.SerializeToString())
        folder = out / f"offline-run-20261122_000000-{run_id}"
        folder.mkdir(parents=True)
        write_record_log(folder / f"run-{run_id}.wandb", new)


def _json(v: object) -> str:
    import json

    return json.dumps(v)


def _explain(tmp: Path, qdrant: Path, profile: Path | None) -> None:
    """The explain step of `sync` (not logged to W&B) on the synced store, timed by part."""
    from types import SimpleNamespace

    from metallmix_wandb.knowledge.meta_learner.explain import explain

    settings = SimpleNamespace(project=PROJECT, metric="test/acc", cache_dir=tmp / "cache", n_jobs=1, entity=None,
                               offline=True, wandb_mode="offline")
    with ExperimentStore(open_client(path=qdrant), collection_name(PROJECT)) as store:
        prof = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        report = explain(store, settings, log_to_wandb=False)
        if prof:
            prof.disable()
            prof.dump_stats(str(profile))
        seconds = time.perf_counter() - t0
    parts = ", ".join(f"{k} {v:.2f}" for k, v in report.seconds.items())
    print(f"explain after sync ({report.runs} runs, {report.datasets} datasets): {seconds:.2f} s ({parts}); "
          f"{report.quality_line}; load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--explain", action="store_true", help="also time the explain step on the 1,000 runs")
    parser.add_argument("--profile", type=Path, help="cProfile stats of the explain step to this file")
    args = parser.parse_args()
    print(f"load average at start {os.getloadavg()[0]:.2f}")
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        template = _template(tmp_path / "sdk")
        print(f"template run written by wandb SDK: {template.name}")
        for n in (100, 1_000):
            runs = tmp_path / f"runs{n}"
            _clone(template, runs, n, rng)
            t0 = time.perf_counter()
            with ExperimentStore(open_client(path=tmp_path / f"q{n}"), collection_name(PROJECT)) as store:
                report = sync(OfflineRunSource(runs, project=PROJECT), store, MetricNames())
                t_sync = time.perf_counter() - t0
                t1 = time.perf_counter()
                again = sync(OfflineRunSource(runs, project=PROJECT), store, MetricNames())
                t_resync = time.perf_counter() - t1
                queries = [{"n_instances": rng.uniform(300, 200_000), "n_classes": rng.randint(2, 10),
                            "imbalance_ratio": 1.5, "resolution": 28.0} for _ in range(200)]
                lat = []
                for q in queries:
                    s = time.perf_counter()
                    store.search(q, k=8)
                    lat.append((time.perf_counter() - s) * 1000)
                lat_ex = []
                for q in queries[:50]:
                    s = time.perf_counter()
                    store.search(q, k=8, exclude_datasets=["/d/ds1.npz"])
                    lat_ex.append((time.perf_counter() - s) * 1000)
            assert report.synced == n and again.synced == n and store is not None
            size_kb = sum(f.stat().st_size for f in runs.rglob("*.wandb")) / n / 1024
            print(f"{n:>5} runs ({size_kb:.1f} KiB each, {N_DATASETS} datasets): sync {t_sync:.2f} s, "
                  f"re-sync {t_resync:.2f} s; top-8 query median {statistics.median(lat):.2f} ms, "
                  f"p95 {sorted(lat)[int(0.95 * len(lat))]:.2f} ms; with a dataset excluded median "
                  f"{statistics.median(lat_ex):.2f} ms; load average {os.getloadavg()[0]:.2f}")
            if args.explain and n == 1_000:
                t0 = time.perf_counter()
                _explain(tmp_path, tmp_path / f"q{n}", args.profile)
                print(f"sync + explain on {n} runs: {t_sync + time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
