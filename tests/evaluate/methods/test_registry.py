"""The methods registry: every name resolves to a Method that carries it, the --baselines choices keep
their order, a method runs only under its protocols and switch, and reading the names imports no numpy."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

from metallmix_wandb.evaluate.methods import BASELINE_METHODS, BASELINES, METHODS, resolve
from metallmix_wandb.evaluate.methods.base import enabled
from metallmix_wandb.evaluate.records import Family
from metallmix_wandb.evaluate.request import EvalProtocol, EvaluateRequest


def test_every_name_resolves_to_a_method_that_carries_it() -> None:
    for name in METHODS:
        method = resolve(name)
        assert method.name == name
        assert method.family in get_args(Family)
        assert method.protocols and set(method.protocols) <= set(get_args(EvalProtocol))
        assert method.switch is None or method.switch in BASELINES
        assert callable(method.run)
    for name in BASELINE_METHODS:  # a baseline is switched on by its own name
        assert resolve(name).switch == name


def test_baselines_keep_the_order_help_shows() -> None:
    assert BASELINES == ("random", "bayes", "meta-learner", "nearest", "global-best", "zero-shot", "llm-candidates",
                         "tune")


def _on(protocol: EvalProtocol, baselines: list[str]) -> list[str]:
    req = EvaluateRequest(protocol=protocol, baselines=baselines)
    return [name for name in METHODS if enabled(resolve(name), req)]


def test_protocol_and_switch_choose_the_methods() -> None:
    assert _on("recommend", list(BASELINES)) == ["random", "bayes", "meta-learner", "nearest", "global-best",
                                                 "zero-shot", "llm-candidates", "llm"]
    assert _on("tune", list(BASELINES)) == ["random", "bayes", "tune", "meta-learner-topn", "tune-llm"]
    assert _on("tune", ["meta-learner"]) == ["meta-learner-topn", "tune-llm"]  # the never-refitted ablation
    assert _on("recommend", []) == ["llm"]  # the LLM itself needs no --baselines (it needs LLMs)


def test_reading_the_names_imports_no_numpy() -> None:
    code = ("import sys; from click.testing import CliRunner; from metallmix_wandb.cli import main; "
            "r = CliRunner().invoke(main, ['evaluate', '--help']); assert r.exit_code == 0, r.output; "
            "assert 'random,bayes,meta-learner' in r.output; "
            "print([m for m in ('numpy', 'xgboost', 'skopt') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
