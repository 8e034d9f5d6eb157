"""Does the meta-learner adapt to the dataset in front of it? Leave-one-dataset-out over an import-format
table with many datasets (LCDB: 197 OpenML datasets x 20 classifiers, metallmix_wandb/benchmarks_data/lcdb.py),
in process (no W&B, no CLI). For each held-out dataset every rule picks one config from what the other
datasets logged, and the pick is looked up in the held-out dataset's full results (a gap scores as the
worst). Reported per rule: median and mean percentile (1 = the dataset's best), the share of datasets
where the pick is "the config best on average" (what the rule does when it does not adapt), and how many
distinct configs it picked. Rules:
- global-best: the config with the best mean percentile over the other datasets (no adaptation);
- variant:<name>: the meta-learner variant's one-shot choice (`MetaLearner.recommend_n`, as `recommend`);
- knn<k>: the config with the best mean percentile over the k nearest datasets by meta-features
  (variants.dataset_distances), ties to the global mean;
- oracle: the dataset's own best (the ceiling).

    nice -n 10 .venv/bin/python benchmarks/meta_adapt_bench.py LCDB_DIR OUT [--per-dataset 8]
        [--variants portfolio,local] [--knn 5,10,20] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metallmix_wandb.benchmarks_data import lcdb  # noqa: E402
from metallmix_wandb.evaluate.lookup_source import lookup_from_experiments  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.features import feature_row, percentile_rank  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.model import MetaLearner  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.variants import VARIANTS, dataset_distances  # noqa: E402
from metallmix_wandb.knowledge.records import Experiment  # noqa: E402
from metallmix_wandb.space.search_space import SearchSpace  # noqa: E402


def experiments(rows: list[dict[str, Any]], params: list[str]) -> list[Experiment]:
    out = []
    for i, r in enumerate(rows):
        meta = {k[5:]: v for k, v in r.items() if k.startswith("meta/")}
        out.append(Experiment(run_path=f"offline/table/{i:06d}", run_id=str(i), dataset=r["dataset"],
                              config={k: r[k] for k in params}, meta_features=meta,
                              summary={lcdb.TARGET: r[lcdb.TARGET], "train_time_s": r["train_time_s"]},
                              train_time_s=r["train_time_s"]))
    return out


def key(config: dict[str, Any], params: list[str]) -> str:
    return json.dumps([config[p] for p in params])


def observed(exps: list[Experiment], params: list[str]
             ) -> tuple[list[str], dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Datasets, per dataset {config key: percentile}, per dataset the numeric meta row."""
    by: dict[str, list[Experiment]] = {}
    for e in exps:
        by.setdefault(e.dataset, []).append(e)
    perc: dict[str, dict[str, float]] = {}
    for d, group in by.items():
        p = percentile_rank(np.array([e.summary[lcdb.TARGET] for e in group]))
        perc[d] = {key(e.config, params): float(v) for e, v in zip(group, p, strict=True)}
    names = sorted({k for e in exps for k, v in e.meta_features.items() if isinstance(v, (int, float))})
    meta = {d: np.array([float(g[0].meta_features.get(n, np.nan)) for n in names]) for d, g in by.items()}
    return sorted(by), perc, meta


def mean_pick(perc: dict[str, dict[str, float]], datasets: list[str], weights: np.ndarray | None = None) -> str:
    configs = sorted({c for d in datasets for c in perc[d]})
    w = np.ones(len(datasets)) if weights is None else weights
    scores = []
    for c in configs:
        vals = np.array([perc[d].get(c, np.nan) for d in datasets])
        ok = np.isfinite(vals)
        scores.append(float(np.sum(w[ok] * vals[ok]) / max(np.sum(w[ok]), 1e-12)) if ok.any() else -1.0)
    return configs[int(np.argmax(scores))]


def mean_scores(perc: dict[str, dict[str, float]], datasets: list[str], configs: list[str]) -> np.ndarray:
    """Per config key, its mean observed percentile over `datasets` (NaN where never logged there)."""
    out = []
    for c in configs:
        vals = np.array([perc[d].get(c, np.nan) for d in datasets])
        out.append(float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lcdb_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-dataset", type=int, default=None)
    ap.add_argument("--variants", default="portfolio")
    ap.add_argument("--knn", default="5,10,20")
    ap.add_argument("--limit", type=int, default=None, help="hold out only the first N datasets")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--meta", default=None, help="keep only these meta-features (comma-separated)")
    ap.add_argument("--booster", default=None, help="JSON overriding booster_params (an exploration, not a setting)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--blends", default="", help="e.g. 0.25,0.5: also the default model's prediction blended "
                    "with that weight of the k nearest datasets' observed mean (k from --knn) and of the global mean")
    args = ap.parse_args()
    rounds = None
    if args.booster:
        from metallmix_wandb.knowledge.meta_learner import boosters, model
        base, extra = boosters.booster_params, json.loads(args.booster)
        rounds = int(extra.pop("rounds", boosters.ROUNDS))
        model.booster_params = lambda seed, n_jobs: {**base(seed, n_jobs), **extra}  # the name fit() calls
    args.out.mkdir(parents=True, exist_ok=True)
    rows, sweep = lcdb.load(args.lcdb_dir)
    if args.meta:
        keep = {f"meta/{m}" for m in args.meta.split(",")}
        rows = [{k: v for k, v in r.items() if not k.startswith("meta/") or k in keep} for r in rows]
    space = SearchSpace.from_sweep_config(sweep)
    params = list(sweep["parameters"])
    table = lookup_from_experiments(experiments(rows, params), space, lcdb.TARGET)
    exps = experiments(lcdb.sample_rows(rows, args.per_dataset, args.seed), params)
    datasets, perc, meta = observed(exps, params)
    log = np.array([True] * len(next(iter(meta.values()))))
    held = datasets[: args.limit] if args.limit else datasets
    picks: dict[str, dict[str, str]] = {}
    t0 = time.perf_counter()
    for i, d in enumerate(held):
        others = [x for x in datasets if x != d]
        row: dict[str, str] = {"global-best": mean_pick(perc, others)}
        positive = np.nanmin(np.vstack(list(meta.values())), axis=0) > 0  # log scale where all are > 0
        dist = dataset_distances(meta[d], np.vstack([meta[x] for x in others]), log & positive)
        order = np.argsort(np.where(np.isfinite(dist), dist, np.inf))
        for k in (int(s) for s in args.knn.split(",") if s):
            row[f"knn{k}"] = mean_pick(perc, [others[j] for j in order[:k]])
        target_meta = next(e.meta_features for e in exps if e.dataset == d)
        train = [e for e in exps if e.dataset != d]
        for name in args.variants.split(","):
            learner = MetaLearner.fit(train, space, metric=lcdb.TARGET, settings=VARIANTS[name],
                                      lite=not VARIANTS[name].smooth_choices,  # nested LODO needs the full fit
                                      target_meta=target_meta, **({"rounds": rounds} if rounds else {}))
            row[f"variant:{name}"] = key(learner.recommend_n(target_meta, space, 1)[0], params)
            if name == "portfolio" and args.blends:
                configs = sorted({c for x in others for c in perc[x]})
                X = np.stack([feature_row(learner.layout, target_meta, dict(zip(params, json.loads(c), strict=True)))
                              for c in configs]).astype(np.float32)
                pred = np.clip(learner.boosters["rank"].inplace_predict(X, missing=np.nan), 0, 1)
                sources = {"global": others, **{f"knn{k}": [others[j] for j in order[:k]]
                                                 for k in (int(v) for v in args.knn.split(",") if v)}}
                for src, ds in sources.items():
                    obs = mean_scores(perc, ds, configs)
                    for lam in (float(v) for v in args.blends.split(",")):
                        mix = np.where(np.isfinite(obs), (1 - lam) * pred + lam * np.nan_to_num(obs), pred)
                        row[f"blend:{src}:{lam:g}"] = configs[int(np.argmax(mix))]
        res = table.datasets[d]
        best = int(np.nanargmax(res.metric))
        row["oracle"] = key(table.grid.config(best), params)
        picks[d] = row
        if (i + 1) % 20 == 0:
            print(f"  {i + 1}/{len(held)} datasets, {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}",
                  flush=True)
    rules = list(next(iter(picks.values())))
    summary = {}
    for rule in rules:
        scores = [table.score(d, dict(zip(params, json.loads(picks[d][rule]), strict=True))).percentile
                  for d in held]
        counts = Counter(picks[d][rule] for d in held)
        same = sum(1 for d in held if picks[d][rule] == picks[d]["global-best"]) / len(held)
        summary[rule] = {"median": float(np.median(scores)), "mean": float(np.mean(scores)),
                         "same_as_global_best": same, "distinct": len(counts),
                         "top": counts.most_common(1)[0][0]}
    tag = f"per{args.per_dataset or 'all'}_s{args.seed}{args.tag}"
    (args.out / f"adapt_{tag}.json").write_text(json.dumps({"picks": picks, "summary": summary}, indent=1))
    print(f"{len(held)} held-out datasets, KB {len(exps)} rows ({tag}), {time.perf_counter() - t0:.0f} s")
    print(f"{'rule':<24}{'median':>8}{'mean':>8}{'=global':>9}{'distinct':>9}  most common")
    for rule, s in summary.items():
        print(f"{rule:<24}{s['median']:8.3f}{s['mean']:8.3f}{s['same_as_global_best']:9.2f}{s['distinct']:9d}  {s['top']}")


if __name__ == "__main__":
    main()
