"""Lookup-mode few-trial tuning on a SYNTHETIC table (tests/support/synthetic.py), not a real benchmark.

For each held-out synthetic dataset, every config of the discrete space has a "result" (the known
accuracy function + seeded noise, and a training time): a lookup table, so a trial costs nothing.
The meta-learner is fitted on the other datasets' runs (leave-one-dataset-out); then each method
gets N trials and we report the median percentile (within the held-out table; 1 = its best config)
of the best-so-far at N = 1, 3, 5, 10:

- random: configs drawn uniformly without repeats (5 seeds per dataset);
- meta-learner top-N: the stored meta-learner's N best configs, never refitted;
- tune (no LLM): `tune_lookup`, the surrogate refitted after every trial;
- tune (LLM): the same with the local LLM (SmolLM2-135M on llama.cpp) proposing, the surrogate
  ranking; only with --llm (slow: one LLM call per trial on 2 CPU cores).

    .venv/bin/python benchmarks/tune_lookup_bench.py [--datasets 6] [--llm] [--llm-datasets 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
from metallmix_wandb.knowledge.meta_learner.features import percentile_rank
from metallmix_wandb.tune.records import TrialResult, config_key
from metallmix_wandb.tune.agent import tune_lookup
from tests.support.synthetic import experiments, train_time, true_acc

NS = (1, 3, 5, 10)


def table_for(meta: dict, space, seed: int) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return {config_key(c): (float(true_acc(meta, c) + rng.normal(0, 0.01)), train_time(meta, c))
            for c in space.iter_grid()}


def percentiles(table: dict[str, tuple[float, float]]) -> dict[str, float]:
    keys = list(table)
    pct = percentile_rank(np.array([table[k][0] for k in keys]))
    return dict(zip(keys, pct.tolist(), strict=True))


def curve(metrics: list[float], table_pct_of_value: dict[float, float]) -> list[float]:
    best, out = -1.0, []
    for m in metrics:
        best = max(best, m)
        out.append(table_pct_of_value[best])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=6, help="held-out datasets (of 12)")
    ap.add_argument("--llm", action="store_true", help="also run tune with the local LLM")
    ap.add_argument("--llm-datasets", type=int, default=3)
    ap.add_argument("--budget", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    syn = experiments(n_datasets=12, runs_per_dataset=30, seed=0)
    names = sorted(syn.metas)[: args.datasets]
    results: dict[str, list[list[float]]] = {}
    timings: dict[str, list[float]] = {}
    server = None
    if args.llm:
        from metallmix_wandb.llm.client import LLMClient
        from metallmix_wandb.llm.server import LocalLLMServer

        server = LocalLLMServer(n_ctx=4096)
        server.start()
    try:
        for i, held in enumerate(names):
            meta = syn.metas[held]
            base = [e for e in syn.experiments if e.dataset != held]
            learner = MetaLearner.fit(base, syn.space, max_folds=2)
            table = table_for(meta, syn.space, seed=100 + i)
            pct = percentiles(table)
            by_value = {v[0]: pct[k] for k, v in table.items()}

            def evaluate(config: dict, table=table) -> TrialResult:
                acc, secs = table[config_key(config)]
                return TrialResult(config=config, metric=acc, train_time_s=secs)

            for s in range(5):
                keys = list(table)
                order = np.random.default_rng(1000 * i + s).permutation(len(keys))[: args.budget]
                results.setdefault("random", []).append(curve([table[keys[j]][0] for j in order], by_value))
            top = learner.predict(meta, grid := list(syn.space.iter_grid()))
            ranked = sorted(range(len(grid)), key=lambda j: -top[j].score)[: args.budget]
            results.setdefault("meta-learner top-N (no refit)", []).append(
                curve([table[config_key(grid[j])][0] for j in ranked], by_value))
            t = time.perf_counter()
            out = tune_lookup(evaluate, meta, syn.space, learner, base, budget=args.budget)
            timings.setdefault("tune (no LLM)", []).append((time.perf_counter() - t) / len(out.trials))
            results.setdefault("tune (no LLM)", []).append(curve([tr.result.metric for tr in out.trials], by_value))
            if server is not None and i < args.llm_datasets:
                llm = LLMClient(server.base_url, server.alias)
                t = time.perf_counter()
                out = tune_lookup(evaluate, meta, syn.space, learner, base, budget=args.budget, llm=llm,
                                  explanation_max_chars=300, max_repairs=1)
                timings.setdefault("tune (LLM)", []).append((time.perf_counter() - t) / len(out.trials))
                results.setdefault("tune (LLM)", []).append(curve([tr.result.metric for tr in out.trials], by_value))
                sources = [tr.proposal.source for tr in out.trials]
                print(f"  {held}: LLM trial sources {sources}", flush=True)
            print(f"dataset {i + 1}/{len(names)} done", flush=True)
    finally:
        if server is not None:
            server.stop()
    report = {"curves": results}
    k = args.llm_datasets
    for title, subset in ((f"{len(names)} held-out datasets", None), (f"the first {k} (the LLM's)", k)):
        print(f"\nmedian percentile of the best-so-far (synthetic table, {title})")
        print(f"{'method':34s}" + "".join(f"  N={n:<4d}" for n in NS) + "  runs  s/trial")
        for method, curves in results.items():
            per = 5 if method == "random" else 1  # random: 5 seeds per dataset
            curves = curves if subset is None else curves[: subset * per]
            med = [statistics.median(c[n - 1] for c in curves) for n in NS if n <= args.budget]
            secs = statistics.median(timings[method]) if method in timings else None
            report[f"{method} / {title}"] = {"median_percentile": dict(zip(NS, med, strict=False)),
                                             "runs": len(curves), "seconds_per_trial": secs}
            print(f"{method:34s}" + "".join(f"  {m:6.3f}" for m in med) + f"  {len(curves):4d}"
                  + (f"  {secs:6.2f}" if secs is not None else ""))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
