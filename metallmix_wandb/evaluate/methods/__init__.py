"""The evaluate methods: everything that answers "which config?" for a hidden dataset and is scored
against the others. Extension point: a `Method` (methods/base.py), one module per method, listed once
below as "module:attribute" and imported only when an evaluation runs it, so `evaluate --help` and
option checks read the names without importing numpy.

To add a method: write `methods/<name>.py` with a `Method`, add its line here (to `BASELINE_METHODS`
when `--baselines` chooses it), and a test. Registry tested in tests/evaluate/methods/test_registry.py.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metallmix_wandb.evaluate.methods.base import Method

_PACKAGE = "metallmix_wandb.evaluate.methods"

BASELINE_METHODS: dict[str, str] = {
    "random": f"{_PACKAGE}.random_search:RANDOM_SEARCH",
    "bayes": f"{_PACKAGE}.bayes:BAYES",
    "meta-learner": f"{_PACKAGE}.meta_learner:META_LEARNER",
    "nearest": f"{_PACKAGE}.nearest:NEAREST",
    "global-best": f"{_PACKAGE}.global_best:GLOBAL_BEST",
    "zero-shot": f"{_PACKAGE}.llm_recommend:ZERO_SHOT",
    "llm-candidates": f"{_PACKAGE}.llm_recommend:LLM_CANDIDATES",
    "tune": f"{_PACKAGE}.tune:TUNE",
}
"""The methods `--baselines` chooses (all by default), in the order `--help` lists them."""

FOLLOWER_METHODS: dict[str, str] = {
    "meta-learner-topn": f"{_PACKAGE}.topn:TOPN",
    "llm": f"{_PACKAGE}.llm_recommend:META_INFORMED",
    "tune-llm": f"{_PACKAGE}.tune_llm:TUNE_LLM",
}
"""Methods a baseline switches on under the other protocol, or that run for every LLM evaluated."""

METHODS: dict[str, str] = {**BASELINE_METHODS, **FOLLOWER_METHODS}
"""Every method, in the order a fold runs them (the per-LLM ones after the others, model by model)."""

BASELINES: tuple[str, ...] = tuple(BASELINE_METHODS)


def resolve(name: str) -> Method:
    """The registered method called `name` (imports its module)."""
    module, _, attr = METHODS[name].partition(":")
    method: Method = getattr(importlib.import_module(module), attr)
    return method


__all__ = ["BASELINES", "BASELINE_METHODS", "FOLLOWER_METHODS", "METHODS", "resolve"]
