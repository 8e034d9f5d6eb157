"""Meta-learner cost at 1,000 and 10,000 experiments: training (4 boosters), leave-one-dataset-out
(10 folds x 3 boosters), TreeSHAP of the ranking and raw models over every run, the summaries and
digest, and `best_config` latency on the MetaLLMiX space (sweeps/meta_dataset.yaml, a 48,384-point
grid) and on a continuous space. Run by hand: `.venv/bin/python benchmarks/meta_learner_bench.py`.

Experiments are synthetic records over the paper's space with a known structure (see
tests/support/synthetic.py for the smaller test set), so LODO quality is meaningful too.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metallmix_wandb.knowledge.meta_learner.model import MetaLearner  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.features import model_space  # noqa: E402
from metallmix_wandb.knowledge.records import Experiment  # noqa: E402
from metallmix_wandb.space.search_space import SearchSpace  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.shap_summary import digest, local_top, summarise  # noqa: E402
from tests.support import synthetic  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BACKBONE = {"resnet50": 0.03, "efficientnet_b0": 0.02, "efficientnet_b5": 0.035, "densenet121": 0.0,
            "inception_v3": 0.01, "xception": 0.015, "nasnet_mobile": -0.04}
TUNING = {"feature_extraction": -0.03, "partial_10": 0.0, "partial_30": 0.01, "full": 0.03}
OPTIMIZER = {"adam": 0.01, "sgd": -0.02, "rmsprop": 0.0}


def paper_experiments(n: int, runs_per_dataset: int, seed: int = 0) -> tuple[list[Experiment], SearchSpace]:
    space = model_space(SearchSpace.from_yaml(REPO / "sweeps" / "meta_dataset.yaml"))
    rng = np.random.default_rng(seed)
    exps: list[Experiment] = []
    for d in range(math.ceil(n / runs_per_dataset)):
        meta = synthetic.dataset_meta(rng)
        big = math.log10(meta["n_instances"]) - 3.5
        for r, c in enumerate(space.sample(rng, runs_per_dataset)):
            acc = (0.62 + 0.08 * big - 0.012 * meta["n_classes"] - 0.06 * (math.log10(c["learning_rate"]) + 3) ** 2
                   + BACKBONE[c["base_model"]] + TUNING[c["fine_tuning"]] * (1 + big) + OPTIMIZER[c["optimizer"]]
                   - 0.2 * (c["dropout"] - 0.3) ** 2 + 0.01 * math.log2(c["epochs"] / 10) + rng.normal(0, 0.01))
            t = 5 + meta["n_instances"] / 200 * c["epochs"] / 10 * rng.uniform(0.8, 1.2)
            exps.append(Experiment(
                run_path=f"offline/bench/{d:04d}-{r:04d}", run_id=f"{d}-{r}", dataset=f"/d/{d:04d}.npz",
                config=c, meta_features=meta, summary={"test/acc": float(np.clip(acc, 0.05, 0.999)),
                                                        "train_time_s": t}, train_time_s=t))
            if len(exps) == n:
                return exps, space
    return exps, space


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def bench(n: int, runs_per_dataset: int, n_jobs: int) -> None:
    exps, space = paper_experiments(n, runs_per_dataset)
    t0 = time.perf_counter()
    learner = MetaLearner.fit(exps, space, n_jobs=n_jobs)
    t_fit = time.perf_counter() - t0
    X, layout = learner.table.X, learner.layout
    t1 = time.perf_counter()
    values, base = learner.shap_values(X, "rank")
    raw_values, raw_base = learner.shap_values(X, "raw")
    t2 = time.perf_counter()
    groups = {c.name: (c.feature, c.category) for c in layout.columns}
    rank = summarise(values, X, layout.names, base_value=base, log_columns=layout.log_columns, groups=groups)
    raw = summarise(raw_values, X, layout.names, base_value=raw_base, log_columns=layout.log_columns, groups=groups)
    local_top(values, X, layout.names, groups=groups)
    digest(rank, raw, metric="test/acc", runs=n, datasets=len(learner.info.datasets))
    t3 = time.perf_counter()
    q = learner.info.quality
    print(f"\n{n:,} experiments over {len(learner.info.datasets)} datasets, {X.shape[1]} columns, n_jobs={n_jobs}")
    print(f"  fit 4 boosters        {_ms(learner.info.timings['fit_s'])}")
    print(f"  LODO ({q.folds} folds x 3)   {_ms(learner.info.timings['lodo_s'])}   (fit + LODO {_ms(t_fit)})")
    print(f"  TreeSHAP rank + raw   {_ms(t2 - t1)}")
    print(f"  summaries + top-3 + digest {_ms(t3 - t2)}")
    print(f"  quality: {q.line()}")
    meta = synthetic.dataset_meta(np.random.default_rng(4242))
    for label, sp in (("grid, 48,384 configs", space), ("continuous space", synthetic.space(continuous=True))):
        if label.startswith("continuous"):
            sp = _continuous_paper_space()
        learner.best_config(meta, sp)  # warm-up
        times = []
        for seed in range(5):
            s = time.perf_counter()
            best = learner.best_config(meta, sp, seed=seed)
            times.append(time.perf_counter() - s)
        print(f"  best_config ({label}): median {_ms(float(np.median(times)))}, max {_ms(max(times))}, "
              f"{best.method}, {best.scored:,} scored, predicted percentile {best.prediction.score:.2f}")


def _continuous_paper_space() -> SearchSpace:
    cfg = model_space(SearchSpace.from_yaml(REPO / "sweeps" / "meta_dataset.yaml")).to_sweep_config()
    cfg["parameters"]["learning_rate"] = {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-2}
    cfg["parameters"]["dropout"] = {"distribution": "uniform", "min": 0.2, "max": 0.5}
    return SearchSpace.from_sweep_config(cfg)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--n-jobs", type=int, default=1)
    args = ap.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        bench(n, runs_per_dataset=25 if n <= 1000 else 100, n_jobs=args.n_jobs)


if __name__ == "__main__":
    main()
