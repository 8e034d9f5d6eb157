"""A search's trace: the best is the first of equal maxima, and a non-finite value counts as the worst."""

from __future__ import annotations

import math

from metallmix_wandb.evaluate.scoring import trace_of


def test_trace_keeps_the_first_best_and_sinks_non_finite_values() -> None:
    trace = trace_of([{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}], [0.2, math.nan, 0.7, 0.7])
    assert trace.best_index == 2 and trace.best_config == {"a": 3}
    assert trace.values == [0.2, -math.inf, 0.7, 0.7]
    assert trace_of([{"a": 1}], [math.inf]).values == [-math.inf]
