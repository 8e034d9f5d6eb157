"""The tune surrogate: the project's meta-learner refitted with this dataset's finished trials.

The stored meta-learner knows other datasets; after a few trials on the new one, the evidence that
matters most is those trials. The refit keeps the stored feature layout (so the stored quantile
booster still fits for intervals) and retrains the rank, raw-metric and time boosters on the
knowledge-base runs plus the trials, each trial weighted `trial_weight` times a past run. A
crashed trial enters the ranking target as the dataset's worst config, so the surrogate learns to
avoid what crashed. Deterministic (fixed seed and threads), like the meta-learner itself.

With the default meta-learner (`transfer-blend`: the boosters blended with a Gaussian process per past
dataset, knowledge/meta_learner/transfer.py) the refit also re-weighs those surfaces by how well each
orders this dataset's trials and adds a GP on the trials themselves (`TransferGP.adapt`, RGPE), and the
next trial is, of the best untried configs by that blended order, the one that adds most to the
re-weighted best percentile over the surfaces (`_covering`): the portfolio's cover, continued with what
the trials taught about which past datasets this one resembles.
Tested in tests/tune/test_loop.py and tests/tune/test_surrogate_transfer.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from metallmix_wandb.knowledge.meta_learner.features import percentile_rank
from metallmix_wandb.knowledge.meta_learner.transfer import TransferGP
from metallmix_wandb.knowledge.records import Experiment, MetaValue
from metallmix_wandb.numbers import is_finite
from metallmix_wandb.recommend.record import ScoredConfig
from metallmix_wandb.space.argmax import MAX_GRID, search
from metallmix_wandb.space.candidates import Choices, complete, sample_choices
from metallmix_wandb.space.search_space import SearchSpace, flatten_config
from metallmix_wandb.tune.objective import TimePolicy, TimeScale, allowed, utility
from metallmix_wandb.tune.records import TuneTrial, config_key

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner, Prediction

TRIAL_WEIGHT = 5.0
N_SAMPLES = 2000
REFERENCE_SAMPLES = 2000
"""Random configs whose predicted metrics stand for the new dataset's distribution (calibrated targets)."""
RANDOM_TRIES = 500
COVER_POOL = 200
"""The best untried configs by utility that the trial-weighted cover (`_covering`) chooses among."""


class Candidate(BaseModel):
    """A config as the surrogate scored it, for a proposer to choose from."""

    config: dict[str, Any]
    prediction: Any  # knowledge.meta_learner.model.Prediction (kept Any: pydantic needs no forward ref)
    utility: float
    over_time_cap: bool = False
    covering: bool = False  # chosen by the trial-weighted cover (`_covering`), not first by utility

    def scored(self) -> ScoredConfig:
        """The candidate as a proposal records it: the config with its prediction."""
        return ScoredConfig(config=self.config, **self.prediction.model_dump())


class Surrogate:
    """A meta-learner plus the knowledge-base rows to refit it with."""

    TARGETS = "calibrated"
    """How finished trials enter the ranking target: "calibrated" (their percentile within the dataset,
    see `_calibrated`; needs the space) or "trials" (their rank among the trials)."""

    def __init__(self, learner: MetaLearner, base: Sequence[Experiment], metric: str,
                 trial_weight: float = TRIAL_WEIGHT, goal: str = "maximize", space: SearchSpace | None = None,
                 targets: str | None = None) -> None:
        self.learner, self.metric, self.trial_weight, self.goal = learner, metric, trial_weight, goal
        self.space, self.targets = space, targets or self.TARGETS
        self._reference: np.ndarray | None = None
        exps = sorted((e for e in base if is_finite(e.summary.get(metric))), key=lambda e: e.run_path)
        layout = learner.layout
        self._X = layout.matrix([(e.meta_features, flatten_config(e.config)) for e in exps])
        self._raw = np.array([e.summary[metric] for e in exps], dtype=np.float64)
        self._score = np.empty(len(exps))
        datasets = np.array([e.dataset for e in exps])
        for d in sorted(set(datasets.tolist())):
            self._score[datasets == d] = percentile_rank(self._raw[datasets == d])
        self._log_time = np.array([np.log1p(e.train_time_s) if is_finite(e.train_time_s) and e.train_time_s >= 0
                                   else np.nan for e in exps])
        self.base_rows = len(exps)

    def refit(self, meta: Mapping[str, MetaValue], trials: Sequence[TuneTrial]) -> MetaLearner:
        """The meta-learner retrained with the trials; the stored one when there is nothing to add."""
        from metallmix_wandb.knowledge.meta_learner.model import MetaLearner

        if not trials or self.base_rows == 0:
            return self.learner
        values = np.array([t.result.metric if t.result.ok else np.nan for t in trials], dtype=np.float64)
        X_t = self.learner.layout.matrix([(meta, flatten_config(t.result.config)) for t in trials])
        score_t = self.trial_scores(meta, X_t, values)
        time_t = np.array([np.log1p(t.result.train_time_s) if t.result.ok and is_finite(t.result.train_time_s)
                           else np.nan for t in trials])
        X = np.vstack([self._X, X_t])
        w = np.r_[np.ones(self.base_rows), np.full(len(trials), self.trial_weight)]
        boosters = dict(self.learner.boosters)
        for name, y in (("rank", np.r_[self._score, score_t]), ("raw", np.r_[self._raw, values]),
                        ("time", np.r_[self._log_time, time_t])):
            boosters[name] = self._train(X, y, w)
        learner = MetaLearner(self.learner.info, boosters)
        smooth = self.learner.smooth
        # the per-dataset surfaces re-weighted by how well each orders these trials, plus the trials' own GP
        if isinstance(smooth, TransferGP):
            smooth = smooth.adapt(X_t, score_t, self.learner.info.seed)
        learner.smooth = smooth
        return learner

    def trial_scores(self, meta: Mapping[str, MetaValue], X_t: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The ranking target of each trial (NaN value = crashed = the worst)."""
        ok = np.isfinite(values)
        if self.targets == "calibrated" and self.space is not None and ok.any():
            return self._calibrated(meta, X_t, values)
        if ok.any():
            worst = np.nanmin(values) - 1.0 if self.goal == "maximize" else np.nanmax(values) + 1.0
        else:
            worst = 0.0
        return percentile_rank(np.where(ok, values, worst))

    def _calibrated(self, meta: Mapping[str, MetaValue], X_t: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Each trial's percentile within the whole dataset, not among the trials: the trials are the
        surrogate's best guesses, so ranking them against each other would call a 95th-percentile config
        the dataset's worst. The stored learner's raw-metric predictions over a fixed random sample of the
        space stand for the dataset's configs, shifted by the median gap between the trials' observed
        and predicted metric (the dataset's level); a crashed trial is the worst."""
        if self._reference is None:
            assert self.space is not None
            params = [n for n in self.learner.layout.params if n in self.space.tunable]
            choices = sample_choices(self.space, params, REFERENCE_SAMPLES, np.random.default_rng(0))
            X_ref = self.learner.layout.candidates(meta, choices, REFERENCE_SAMPLES)
            self._reference = np.sort(self.learner.predict_matrix(X_ref)["raw_metric"])
        ok = np.isfinite(values)
        shift = float(np.median(values[ok] - self.learner.predict_matrix(X_t)["raw_metric"][ok]))
        ref = self._reference + shift
        below = np.searchsorted(ref, values, side="left")
        ties = np.searchsorted(ref, values, side="right") - below
        pct = (below + ties / 2.0) / len(ref)
        worst = 0.0 if self.goal == "maximize" else 1.0
        return np.where(ok, pct, worst)

    def _train(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> Any:
        import xgboost as xgb

        from metallmix_wandb.knowledge.meta_learner.boosters import booster_params

        info = self.learner.info
        keep = np.isfinite(y)
        dtrain = xgb.DMatrix(X[keep], label=y[keep], weight=w[keep], missing=np.nan)
        return xgb.train(booster_params(info.seed, info.n_jobs), dtrain, num_boost_round=info.rounds)


# --------------------------------------------------------------------------- choosing


POOL_DIVISOR = 10
"""Each refinement round around the best trials adds about N_SAMPLES / POOL_DIVISOR configs."""


def _predicted(learner: MetaLearner, X: np.ndarray) -> dict[str, np.ndarray]:
    """The learner's predictions plus `order`, what ranks candidates (`MetaLearner.order`: the boosters
    blended with the transfer surfaces, re-weighted by the trials after a refit), as recommend's does."""
    out = learner.predict_matrix(X)
    out["order"] = learner.order(X)
    return out


class _Predicted:
    """The search's scoring callback: the learner's predictions for each batch it scores, kept, since
    the utility needs the train-time predictions too (and a time scale over the whole pool)."""

    def __init__(self, learner: MetaLearner, meta: Mapping[str, MetaValue]) -> None:
        self.learner, self.meta = learner, meta
        self.batches: list[dict[str, np.ndarray]] = []

    def __call__(self, choices: Choices, n: int) -> np.ndarray:
        out = _predicted(self.learner, self.learner.layout.candidates(self.meta, choices, n))
        self.batches.append(out)
        return out["order"]

    def merged(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([b[k] for b in self.batches]) for k in self.batches[0]}


def _candidate(config: dict[str, Any], pred: Prediction, u: float, capped: bool) -> Candidate:
    return Candidate(config=config, prediction=pred, utility=float(u), over_time_cap=capped)


def best_untried(learner: MetaLearner, meta: Mapping[str, MetaValue], space: SearchSpace, tried: set[str],
                 policy: TimePolicy, seeds: Sequence[Mapping[str, Any]] = (), seed: int = 0,
                 n_samples: int = N_SAMPLES,
                 configs: Sequence[Mapping[str, Any]] | None = None) -> tuple[Candidate | None, TimeScale]:
    """The pool's best untried config by utility (inside the time cap when any is), and the pool's
    time scale (to score LLM candidates on the same scale). None when every config was tried.

    `configs` replaces the pool with a fixed list (e.g. the configs a lookup table holds)."""
    if configs is not None:
        out = _predicted(learner, learner.layout.matrix([(meta, flatten_config(c)) for c in configs]))

        def get(i: int) -> dict[str, Any]:
            return dict(configs[i])
    else:  # the whole grid when small enough; else a seeded sample plus neighbours of `seeds` (the best
        # trials so far), so the search also refines locally
        params = [n for n in learner.layout.params if n in space.tunable]
        predicted = _Predicted(learner, meta)
        found = search(space, params, predicted, n_samples=n_samples, seed=seed, max_grid=MAX_GRID,
                       around=seeds, divisor=POOL_DIVISOR)
        out = predicted.merged()
        mode = learner.layout.observed_mode

        def get(i: int) -> dict[str, Any]:
            return complete(space, found.config(i), mode)
    scale = TimeScale.of(out["train_time_s"])
    u = utility(out["order"], out["train_time_s"], policy, scale)
    ok = allowed(out["train_time_s"], policy)
    over_cap = False
    pool: list[tuple[dict[str, Any], float]] = []
    for i in np.lexsort((-u, ~ok)):  # inside the cap first, then by utility
        config = get(int(i))
        if config_key(config) in tried:
            continue
        if ok[i]:
            pool.append((config, float(u[i])))
            if len(pool) < COVER_POOL:
                continue
        over_cap = not pool
        break
    if pool:
        pick = _covering(learner, meta, pool, policy)
        cand = _candidate(pool[pick][0], learner.predict(meta, [pool[pick][0]])[0], pool[pick][1], False)
        cand.covering = pick > 0
        return cand, scale
    if over_cap:  # nothing untried inside the cap: the fastest untried instead
        for i in np.argsort(out["train_time_s"], kind="stable"):
            config = get(int(i))
            if config_key(config) not in tried:
                return _candidate(config, learner.predict(meta, [config])[0], u[i], True), scale
    if configs is not None:
        return None, scale
    return _random_untried(learner, meta, space, tried, policy, scale, seed), scale


def _covering(learner: MetaLearner, meta: Mapping[str, MetaValue], pool: list[tuple[dict[str, Any], float]],
              policy: TimePolicy) -> int:
    """The index, in the pool of best untried configs (by utility), of the one that adds most to the
    trial-weighted best percentile over the past datasets' surfaces (TransferGP.gains, after a refit's
    `adapt`), the utility breaking ties: the portfolio's cover continued, with weights the trials taught.
    0 (the first by utility) when there is nothing to cover with: no transfer surfaces, no ordered trials
    yet, `--objective time` (its utility weighs the training time) or a minimised metric (the surfaces'
    percentiles, as the meta-learner's, rise with the metric)."""
    smooth = learner.smooth
    if (not isinstance(smooth, TransferGP) or smooth.floor is None or policy.objective == "time"
            or policy.goal != "maximize" or len(pool) == 1):
        return 0
    X = learner.layout.matrix([(meta, flatten_config(c)) for c, _ in pool])
    gain = smooth.gains(X)
    if float(gain.max()) <= 0.0:
        return 0
    return int(np.argmax(gain + 1e-6 * np.array([u for _, u in pool])))


def _random_untried(learner: MetaLearner, meta: Mapping[str, MetaValue], space: SearchSpace, tried: set[str],
                    policy: TimePolicy, scale: TimeScale, seed: int) -> Candidate | None:
    """Parameters the meta-learner never saw vary only here, once the modelled ones are exhausted."""
    for config in space.sample(np.random.default_rng(seed + 1), RANDOM_TRIES):
        if config_key(config) not in tried:
            return score_configs(learner, meta, [config], policy, scale)[0]
    return None


def score_configs(learner: MetaLearner, meta: Mapping[str, MetaValue], configs: Sequence[dict[str, Any]],
                  policy: TimePolicy, scale: TimeScale) -> list[Candidate]:
    """Candidates (e.g. the LLM's) with the surrogate's prediction and utility, in the given order."""
    if not configs:
        return []
    preds = learner.predict(meta, configs)
    seconds = np.array([p.train_time_s for p in preds])
    order = learner.order(learner.layout.matrix([(meta, flatten_config(c)) for c in configs]))
    u = utility(order, seconds, policy, scale)
    ok = allowed(seconds, policy)
    return [_candidate(dict(c), p, u[i], not bool(ok[i]))
            for i, (c, p) in enumerate(zip(configs, preds, strict=True))]
