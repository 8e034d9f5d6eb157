"""The embedded judge (SmolLM2-135M) on a faithful and a contradicting explanation (issue 13 item 5).

Measured (benchmarks/judge_bench.py, see the report in /work/notes): SmolLM2-135M does not tell them
apart, so this test does not claim it does. What it holds: the judge is shown the evidence and both
explanations, every call returns scores in 0-4 for accuracy, and the numbers are printed for the record.
The deterministic half (the rubric checks accuracy against the evidence fields it is shown, and
completeness against the chosen config) is tests/llm/test_judge.py."""

from __future__ import annotations

import json

import pytest

from metallmix_wandb.llm.client import LLMClient
from tests.support.judge_cases import accuracy_scores
from tests.support.llm import local_llm  # noqa: F401


@pytest.mark.slow
def test_the_embedded_judge_scores_both_explanations_and_the_numbers_are_recorded(local_llm) -> None:  # noqa: F811
    out = accuracy_scores(LLMClient(local_llm.base_url, local_llm.alias), repeats=3)
    print(json.dumps(out))  # the measurement, for the record (-s shows it)
    for name in ("faithful", "contradicting"):
        assert len(out[name]["accuracy"]) == 3
        assert all(a is not None and 0 <= a <= 4 for a in out[name]["accuracy"]), out
