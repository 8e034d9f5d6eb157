"""`evaluate --method tune` end to end on the subsampled NAS-Bench-201 table (tests/support/hpo_bench.py):
tune with and without an LLM against random search and BO at the same budget and seeds, every trial a
lookup. The scripted loopback server stands in for an LLM where a test needs exact answers; one slow
test runs the real local model."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.space.search_space import SearchSpace
from tests.evaluate.test_pipeline import env  # noqa: F401 - the offline W&B + KB environment
from tests.support.fake_llm import FakeLLMServer, Reply, completion
from tests.support.hpo_bench import METRIC, PROJECT, Nb201Kb, nb201_kb  # noqa: F401
from tests.support.llm import local_llm  # noqa: F401

OP0 = ["nor_conv_3x3", "skip_connect", "avg_pool_3x3", "nor_conv_1x1"]


def _run(kb: Nb201Kb, out: Path, *extra: str, code: int = 0) -> dict[str, Any]:
    args = ["evaluate", "--project", PROJECT, "--metric", METRIC, "--space", str(kb.space), "--lookup", str(kb.full),
            "--out", str(out), "--no-per-dataset", "--method", "tune", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output + repr(result.exception)
    return json.loads(out.read_text()) if code == 0 else {"output": result.output}


def test_tune_against_searches_at_the_same_budget(env: Nb201Kb, tmp_path: Path) -> None:  # noqa: F811
    report = _run(env, tmp_path / "tune.json", "--budget", "6", "--seeds", "2", "--no-llm",
                  "--baselines", "random,bayes,meta-learner,tune")
    assert report["protocol"] == "tune"
    rows = report["results"]
    assert {r["method"] for r in rows} == {"random", "bayes", "tune", "meta-learner-topn"}
    for method in ("random", "bayes", "tune", "meta-learner-topn"):
        mine = [r for r in rows if r["method"] == method]
        assert len(mine) == 6 and sorted({r["seed"] for r in mine}) == [0, 1]  # 3 datasets x 2 seeds
        for r in mine:
            curve = r["curve"]
            assert len(curve) == r["evaluations"] == 6
            assert all(a <= b for a, b in itertools.pairwise(curve))  # best-so-far never drops
            assert curve[-1] == pytest.approx(r["percentile"])  # the reported choice is the best trial
            assert r["search_train_s"] > 0
    # Trial 1 of tune and of the top-N ablation is recommend --no-llm's answer: the fold's meta-learner
    # best config, scored by the table exactly as the one-shot protocol scores it.
    one_shot = _run_recommend(env, tmp_path / "one.json")
    first = {r["dataset"]: r["percentile"] for r in one_shot["results"] if r["method"] == "meta-learner"}
    for r in rows:
        if r["method"] in ("tune", "meta-learner-topn"):
            assert r["curve"][0] == pytest.approx(first[r["dataset"]])
    curves = {(c["method"], c["n"]): c for c in report["curves"]}
    assert sorted({n for _, n in curves}) == [1, 3, 5, 6]
    for (method, n), c in curves.items():
        per_dataset = [sum(r["curve"][n - 1] for r in rows if r["method"] == method and r["dataset"] == d) / 2
                       for d in {r["dataset"] for r in rows}]
        assert c["datasets"] == 3 and c["median_percentile"] == pytest.approx(sorted(per_dataset)[1])
    assert report["wandb_run"] and Path(report["wandb_run"]).is_dir()  # logged offline, best-so-far table too


def _run_recommend(kb: Nb201Kb, out: Path) -> dict[str, Any]:
    args = ["evaluate", "--project", PROJECT, "--metric", METRIC, "--space", str(kb.space), "--lookup", str(kb.full),
            "--out", str(out), "--no-per-dataset", "--no-llm", "--baselines", "meta-learner", "--no-log"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def proposals(req: dict[str, Any]) -> Reply:
    """Every ask gets the same three candidates (Op0 varies): the first becomes trial 1 (recommend),
    the others are untried candidates for the tune's next asks, after which the surrogate takes over."""
    configs = [{"Op0": op, "Op1": "nor_conv_3x3", "Op2": "nor_conv_3x3"} for op in OP0[:3]]
    return Reply(200, completion(json.dumps({"configs": configs, "explanation": "3x3 convs did best nearby."})))


def test_tune_with_an_llm_ranks_its_candidates(env: Nb201Kb, tmp_path: Path) -> None:  # noqa: F811
    with FakeLLMServer([proposals]) as server:
        report = _run(env, tmp_path / "llm.json", "--budget", "5", "--seeds", "1", "--baselines", "random,tune",
                      "--datasets", "CIFAR-100", "--base-url", server.base_url, "--models", "fake-7b")
        asked = len(server.requests)
    rows = {r["method"]: r for r in report["results"]}
    assert set(rows) == {"random", "tune", "tune:fake-7b"}
    llm = rows["tune:fake-7b"]
    assert llm["ok"] and llm["evaluations"] == 5 and len(llm["curve"]) == 5 and llm["raw_valid"] is True
    # Trial 1 is recommend's: the LLM's proposals are not tied with the meta-learner's own best, so they are
    # overruled and trial 1 is the meta-learner's best; then one ask per later trial while the LLM still
    # has untried candidates (all 3 of them).
    chosen = int(llm["source"].split(" of ")[0])
    assert chosen == 3 and asked >= 3
    assert any(c["method"] == "tune:fake-7b" and c["n"] == 5 for c in report["curves"])


def test_tune_needs_a_lookup_table(env: Nb201Kb, tmp_path: Path) -> None:  # noqa: F811
    args = ["evaluate", "--project", PROJECT, "--metric", METRIC, "--space", str(env.space), "--method", "tune",
            "--no-llm"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "lookup mode only" in result.output


def test_an_unreachable_llm_scores_as_a_failed_tune(env: Nb201Kb, tmp_path: Path) -> None:  # noqa: F811
    report = _run(env, tmp_path / "down.json", "--budget", "3", "--seeds", "1", "--baselines", "random,tune",
                  "--datasets", "CIFAR-10", "--base-url", "http://127.0.0.1:9/v1", "--models", "gone")
    rows = {r["method"]: r for r in report["results"]}
    assert rows["tune"]["ok"]  # the LLM-free methods are unaffected
    down = rows["tune:gone"]
    assert not down["ok"] and down["percentile"] == 0.0 and down["error"]


@pytest.mark.slow
def test_tune_with_the_real_local_llm(env: Nb201Kb, tmp_path: Path, local_llm,  # noqa: F811
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """SmolLM2 on CIFAR-10, 2 trials: recommend's answer, then one agent proposal (a tiny model's
    candidates may all be tried or invalid: the surrogate then chooses, and says so). 3 trials took
    ~210 s on a loaded 2-core machine; 2 keep both kinds of LLM call at less cost."""
    monkeypatch.setenv("METALLMIX_TOP_K", "3")
    report = _run(env, tmp_path / "real.json", "--budget", "2", "--seeds", "1", "--datasets", "CIFAR-10",
                  "--baselines", "random", "--base-url", local_llm.base_url, "--models", local_llm.alias,
                  "--max-repairs", "1", "--explanation-max-chars", "200")
    rows = {r["method"]: r for r in report["results"]}
    row = rows[f"tune:{local_llm.alias}"]
    # A weak answer never fails the tune: recommend falls back to the meta-learner, the loop to the
    # surrogate; both trials run, in the space, and the result is the better of the two.
    assert row["ok"] and row["error"] is None, row["error"]
    assert row["evaluations"] == 2 and len(row["curve"]) == 2 and row["curve"][0] <= row["curve"][1]
    assert SearchSpace.from_yaml(env.space).validate_config(row["config"]).ok and row["config"]["Op0"] in OP0
    assert row["percentile"] == row["curve"][-1] and row["compute_s"] > 0
    assert re.fullmatch(r"[0-2] of 2 trials chosen from the LLM's candidates", row["source"]), row["source"]


def test_baselines_are_checked_before_any_work(env: Nb201Kb, tmp_path: Path) -> None:  # noqa: F811
    args = ["evaluate", "--project", PROJECT, "--metric", METRIC, "--space", str(env.space), "--lookup", str(env.full),
            "--no-llm", "--baselines", "random,randon"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "randon" in result.output


def test_the_offline_report_shows_the_best_so_far(env: Nb201Kb, tmp_path: Path) -> None:  # noqa: F811
    _run(env, tmp_path / "t.json", "--budget", "3", "--seeds", "1", "--no-llm", "--baselines", "random,tune",
         "--datasets", "CIFAR-10", "--no-log")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", "--project", PROJECT, "--offline", "--out", str(out),
                                       "--results", str(tmp_path / "t.json")])
    assert result.exit_code == 0, result.output
    spec = json.loads((out / "report_spec.json").read_text())
    section = next(s for s in spec["sections"] if s["heading"] == "Best so far after N trials")
    assert [p["field"] for p in section["panels"]] == ["best_so_far_at_1", "best_so_far_at_3"]
    assert set(section["panels"][1]["methods"]) == {"random", "tune"}
    assert any(out.glob("*best_so_far_at_1.png"))
