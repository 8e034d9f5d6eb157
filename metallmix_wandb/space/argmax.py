"""The one argmax search over a search space, for every caller that scores configs with a model:
`MetaLearner.best_config` (recommend's answer) and tune's surrogate pool. Pure (numpy only).

DESIGN.md §4: the whole grid when the space is discrete and small enough to score in well under a
second; else a large seeded random sample, refined by rounds of neighbours (`perturb`) around good
points, either the best scored so far (the argmax) or points the caller already knows to be good (a
tune's best trials). The caller's `score(choices, n)` scores a batch of candidates, given as per
parameter (distinct values, index per candidate); higher is better. Tested in tests/space/test_argmax.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from metallmix_wandb.space.candidates import Choices, grid_choices, perturb, pick, sample_choices
from metallmix_wandb.space.search_space import SearchSpace

Score = Callable[[Choices, int], np.ndarray]
"""Scores for a batch of n candidates (higher is better), one per candidate, in order."""

MAX_GRID = 50_000
"""Largest grid scored whole: the paper's 48,384-config grid took 0.32 s on a busy 2-core machine
(benchmarks/meta_learner_bench.py), well under a second; beyond it, sample + refine."""
REFINE_SCALES = (0.1, 0.03)
"""Two rounds of local refinement, the second finer (a fraction of each parameter's range)."""
KEEP = 10
"""Configs refined around, when the search refines around the best scored so far."""


@dataclass(frozen=True)
class Found:
    """Every candidate scored, in the order scored, with its score."""

    choices: Choices
    n: int
    scores: np.ndarray
    method: Literal["grid", "sample"]

    def config(self, i: int) -> dict[str, Any]:
        """Candidate i as a flat config of the searched parameters."""
        return pick(self.choices, i)

    def best(self) -> dict[str, Any]:
        """The argmax (the first of equals, in the order scored)."""
        return self.config(int(np.argmax(self.scores)))


def concat(a: Choices, na: int, b: Choices, nb: int) -> tuple[Choices, int]:
    """Two batches of candidates as one (b's indices shifted past a's values)."""
    out: Choices = {}
    for name, (va, ia) in a.items():
        vb, ib = b[name]
        out[name] = (list(va) + list(vb), np.concatenate([np.asarray(ia), np.asarray(ib) + len(va)]))
    return out, na + nb


def search(space: SearchSpace, params: Sequence[str], score: Score, *, n_samples: int, seed: int = 0,
           max_grid: int = MAX_GRID, around: Sequence[Mapping[str, Any]] | None = None, divisor: int = 2,
           keep: int = KEEP, scales: Sequence[float] = REFINE_SCALES) -> Found:
    """The whole grid of `params` when all are discrete and at most `max_grid` configs; else `n_samples`
    random configs (seeded) plus one round of neighbours per scale in `scales`, each round about
    n_samples / `divisor` configs spread evenly over its seed configs:
    - `around` None: the seeds are the `keep` best scored so far, so each round is scored before the
      next (an argmax that refines itself);
    - `around` given (flat or nested configs, maybe none): the seeds are those, every round, and the
      whole pool is scored once at the end, as one batch (so a score may depend on the whole pool).
    Parameters outside `params` are not searched: the caller completes the configs."""
    grid = grid_choices(space, params, max_grid)
    if grid is not None:
        choices, n = grid
        return Found(choices, n, score(choices, n), "grid")
    rng = np.random.default_rng(seed)
    choices, n = sample_choices(space, params, n_samples, rng), n_samples
    if around is not None:
        seeds = [{p: space.flatten(s).get(p) for p in params} for s in around]
        if seeds and params:
            for scale in scales:
                near, m = perturb(space, seeds, params, max(1, n_samples // (divisor * len(seeds))), rng, scale)
                choices, n = concat(choices, n, near, m)
        return Found(choices, n, score(choices, n), "sample")
    scores = score(choices, n)
    for scale in scales:
        best = [pick(choices, int(i)) for i in np.argsort(-scores, kind="stable")[:keep]]
        near, m = perturb(space, best, params, max(1, n_samples // (divisor * keep)), rng, scale)
        choices, n = concat(choices, n, near, m)
        scores = np.concatenate([scores, score(near, m)])
    return Found(choices, n, scores, "sample")
