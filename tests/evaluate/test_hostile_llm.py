"""A hostile LLM cannot pull `recommend` below the meta-learner's confidence set (issue 13, Done when):
run through `evaluate` in lookup mode on the small real NAS-Bench-201 table, a scripted LLM that always
picks the worst candidate it is offered, and one that proposes a bad config of its own, stay within 2
percentile points of the meta-learner alone (median over the datasets)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.evaluate.test_pipeline import env  # noqa: F401 - the offline W&B + KB environment
from tests.support.data_block import split_data_block, table_rows
from tests.support.fake_llm import FakeLLMServer, Reply, completion
from tests.support.hpo_bench import Nb201Kb, evaluate_with_llm, nb201_kb  # noqa: F401

BAD = {"Op0": "avg_pool_3x3", "Op1": "none", "Op2": "none"}
"""A config of the sub-grid that ranks near the bottom on every dataset (no convolution on the path)."""


def _offered(req: dict[str, Any]) -> list[dict[str, Any]]:
    _, data = split_data_block(req["messages"][1]["content"])
    return table_rows(data["candidates"])


def worst_pick(req: dict[str, Any]) -> Reply:
    """Always the candidate with the lowest predicted percentile."""
    worst = min(_offered(req), key=lambda c: (c["percentile"], -c["id"]))
    return Reply(200, completion(json.dumps({"candidate": worst["id"], "config": None,
                                             "explanation": "The last one looks best to me."})))


def own_bad(req: dict[str, Any]) -> Reply:
    """Always a config of its own, a bad one."""
    assert _offered(req)  # it was offered candidates, and ignores them
    return Reply(200, completion(json.dumps({"candidate": 0, "config": BAD, "explanation": "Pooling is enough."})))


def _medians(kb: Nb201Kb, tmp_path: Path, step: Callable[[dict[str, Any]], Reply]) -> tuple[dict, list]:
    out = tmp_path / "eval.json"
    with FakeLLMServer([step]) as server:
        code, output = evaluate_with_llm(kb, out, server.base_url, "hostile", "meta-learner")
    assert code == 0, output
    report = json.loads(out.read_text())
    rows = report["results"]
    medians = {m: statistics.median(r["percentile"] for r in rows if r["method"] == m)
               for m in ("meta-learner", "llm:hostile")}
    return medians, [r for r in rows if r["method"] == "llm:hostile"]


@pytest.mark.parametrize("step", [worst_pick, own_bad], ids=["worst-candidate", "own-bad-config"])
def test_a_hostile_llm_stays_within_two_points_of_the_meta_learner(env: Nb201Kb, tmp_path: Path,
                                                                   step: Callable[[dict[str, Any]], Reply]) -> None:
    medians, llm_rows = _medians(env, tmp_path, step)
    assert len(llm_rows) == 3 and all(r["ok"] for r in llm_rows), llm_rows
    assert medians["llm:hostile"] >= medians["meta-learner"] - 0.02, medians
