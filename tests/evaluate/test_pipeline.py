"""End to end on a real (subsampled) NAS-Bench-201 table: import --direct, evaluate every baseline and
the LLM methods (a scripted loopback server; one slow test with the real local model), report.
Train mode is tested in test_train_mode.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.space.search_space import SearchSpace
from tests.support.fake_llm import FakeLLMServer, Reply, completion
from tests.support.hpo_bench import METRIC, PROJECT, Nb201Kb, nb201_kb  # noqa: F401
from tests.support.llm import local_llm  # noqa: F401
from tests.support.wandb_runs import offline_env

GOOD = {"Op0": "nor_conv_3x3", "Op1": "skip_connect", "Op2": "nor_conv_3x3"}
JUDGEMENT = {"format": 4, "accuracy": 3, "completeness": 3, "conciseness": 4, "fluency": 4, "rationale": "fine"}


def scripted(req: dict[str, Any]) -> Reply:
    """Judge requests get scores; a zero-shot first ask gets a config outside the space (the repair
    turn, which carries an assistant message, gets a valid one); meta-informed (choosing among the
    meta-learner's candidates) proposes GOOD as its own config, which the meta-learner finds tied."""
    fmt = (req.get("response_format") or {}).get("json_schema") or {}
    if fmt.get("name") == "judgement":
        return Reply(200, completion(json.dumps(JUDGEMENT)))
    if fmt.get("name") == "choice":
        answer = {"candidate": 0, "config": GOOD, "explanation": "3x3 convs did best nearby."}
        return Reply(200, completion(json.dumps(answer)))
    messages = req.get("messages") or []
    zero_shot = "search space alone" in messages[0]["content"]
    repairing = any(m.get("role") == "assistant" for m in messages)
    config = {**GOOD, "Op0": "conv_7x7"} if zero_shot and not repairing else GOOD
    return Reply(200, completion(json.dumps({"configs": [config], "explanation": "3x3 convs did best nearby."})))


@pytest.fixture
def env(nb201_kb: Nb201Kb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Nb201Kb:  # noqa: F811
    offline_env(tmp_path / "wandb_root", monkeypatch)
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(nb201_kb.qdrant))
    for var in ("METALLMIX_LLM_BASE_URL", "METALLMIX_LLM_MODEL", "METALLMIX_METRIC"):
        monkeypatch.delenv(var, raising=False)
    return nb201_kb


def _evaluate(kb: Nb201Kb, out: Path, *extra: str) -> dict[str, Any]:
    args = ["evaluate", "--project", PROJECT, "--metric", METRIC, "--space", str(kb.space), "--lookup", str(kb.full),
            "--out", str(out), "--no-per-dataset", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(out.read_text())


def test_every_baseline_and_the_llm_on_a_real_table(env: Nb201Kb, tmp_path: Path) -> None:
    with FakeLLMServer([scripted]) as server:
        report = _evaluate(env, tmp_path / "eval.json", "--budget", "5", "--seeds", "2", "--base-url",
                           server.base_url, "--models", "fake-7b")
    methods = {s["method"]: s for s in report["summary"]}
    assert set(methods) == {"random", "bayes", "meta-learner", "nearest", "global-best", "zero-shot:fake-7b",
                            "llm-candidates:fake-7b", "llm:fake-7b"}
    assert report["datasets"] == ["CIFAR-10", "CIFAR-100", "ImageNet16-120"]
    assert [s["rank"] for s in report["summary"]] == list(range(1, 9))
    rows = report["results"]
    assert len([r for r in rows if r["method"] == "random"]) == 6 and len([r for r in rows if r["method"] == "bayes"]) == 6
    for r in rows:
        assert 0.0 <= r["percentile"] <= 1.0 and r["regret"] >= 0 and r["ok"]
        assert r["config"] is not None and r["train_time_s"] > 0
    searches = [r for r in rows if r["method"] in ("random", "bayes")]
    assert all(r["evaluations"] == 5 and r["search_train_s"] > 1000 for r in searches)
    llm = [r for r in rows if r["method"] == "llm:fake-7b"]
    assert all(r["raw_valid"] and r["config"] == {**GOOD, "Op3": "nor_conv_3x3", "Op4": "nor_conv_3x3",
                                                   "Op5": "skip_connect"} for r in llm)
    assert all(r["judge"]["format"] == 4 and r["judge"]["mean"] == pytest.approx(3.6) for r in llm)
    zero = [r for r in rows if r["method"] == "zero-shot:fake-7b"]
    assert all(r["raw_valid"] is False and r["repairs"] == 1 for r in zero)
    assert methods["llm:fake-7b"]["validity_rate"] == 1.0 and methods["zero-shot:fake-7b"]["validity_rate"] == 0.0
    # The fake's config scores identically on every dataset it is asked about: the lookup is exact.
    assert len({round(r["percentile"], 6) for r in llm + zero if r["dataset_name"] == "CIFAR-10"}) == 1


def test_searches_reproduce_under_a_seed_and_report_renders_offline(env: Nb201Kb, tmp_path: Path) -> None:
    args = ("--budget", "4", "--seeds", "1", "--no-llm", "--baselines", "random,bayes,global-best",
            "--datasets", "CIFAR-100")
    first = _evaluate(env, tmp_path / "a.json", *args)
    second = _evaluate(env, tmp_path / "b.json", *args)
    pick = [(r["method"], r["config"], r["metric"]) for r in first["results"]]
    assert pick == [(r["method"], r["config"], r["metric"]) for r in second["results"]]
    assert first["wandb_run"] and Path(first["wandb_run"]).is_dir()  # the offline evaluation run
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", "--project", PROJECT, "--offline", "--out", str(out)])
    assert result.exit_code == 0, result.output  # the latest evaluation; then two merged
    result = CliRunner().invoke(main, ["report", "--project", PROJECT, "--offline", "--out", str(out), "--results",
                                       str(tmp_path / "a.json"), "--results", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    spec = json.loads((out / "report_spec.json").read_text())
    assert spec["table_rows"][0][1] in {"random", "bayes", "global-best"}
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs and all(f'src="{p}"' in (out / "index.html").read_text() for p in pngs)


def test_wandb_report_is_built_from_the_same_spec(env: Nb201Kb, tmp_path: Path) -> None:
    from metallmix_wandb.evaluate.log import load_local
    from metallmix_wandb.evaluate.report_writer import to_wandb_report
    from metallmix_wandb.evaluate.report_spec import build_spec

    report = _evaluate(env, tmp_path / "e.json", "--budget", "3", "--seeds", "1", "--no-llm", "--baselines",
                       "random,meta-learner", "--datasets", "CIFAR-10", "--no-log")
    assert report["wandb_run"] is None
    spec = build_spec(load_local(tmp_path / "e.json"), entity="team", evaluation_runs=[f"team/{PROJECT}/ev1"])
    wandb_report = to_wandb_report(spec)  # building needs no server; saving does (test_report_online.py)
    assert wandb_report.title == spec.title and wandb_report.project == PROJECT
    keys = [k for s in spec.sections for p in s.panels for k in p.wandb_keys]
    assert "meta-learner/median_percentile" in keys


def test_a_table_with_a_gap_scores_the_missing_config_as_a_failure(env: Nb201Kb, tmp_path: Path) -> None:
    """Real tables have gaps (a config that crashed on one dataset): every method is still scored, a
    chosen config without a result as the dataset's worst, and the report says how many were missing."""
    import pandas as pd

    args = ("--budget", "3", "--seeds", "1", "--no-llm", "--baselines", "random,meta-learner", "--datasets",
            "CIFAR-10", "--no-log")
    full = _evaluate(env, tmp_path / "full.json", *args)
    pick = next(r for r in full["results"] if r["method"] == "meta-learner")
    assert pick["percentile"] > 0.5 and not pick["missing"] and not full["notes"]
    table = pd.read_parquet(env.full)
    chosen = (table["dataset"] == "nasbench201/cifar10") & (table[list(pick["config"])] == pd.Series(
        pick["config"])).all(axis=1)
    assert chosen.sum() == 1
    table[~chosen].to_parquet(tmp_path / "gap.parquet")
    gap = _evaluate(replace(env, full=tmp_path / "gap.parquet"), tmp_path / "gap.json", *args)
    again = next(r for r in gap["results"] if r["method"] == "meta-learner")
    assert again["config"] == pick["config"] and again["missing"] and again["percentile"] == 0.0
    assert {r["method"] for r in gap["results"]} == {"random", "meta-learner"}
    assert any("CIFAR-10 1 of 60" in n and "1 of 2 answers chose a missing config" in n for n in gap["notes"])
    models = CliRunner().invoke(main, ["evaluate", "--project", PROJECT, "--metric", METRIC, "--space",
                                       str(env.space), "--lookup", str(env.full), "--models", "x"])
    assert models.exit_code != 0 and "--base-url" in models.output


@pytest.mark.slow
def test_the_real_local_llm_on_one_hidden_dataset(env: Nb201Kb, tmp_path: Path, local_llm,  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """SmolLM2 (meta-informed) on CIFAR-10, 3 neighbours, no judge: two ~1-2k-token prompts at most,
    which took 25-140 s each on a loaded 2-core machine (the judge's 3k-token prompts doubled that)."""
    monkeypatch.setenv("METALLMIX_TOP_K", "3")
    report = _evaluate(env, tmp_path / "llm.json", "--budget", "3", "--seeds", "1", "--datasets", "CIFAR-10",
                       "--baselines", "random,meta-learner", "--base-url", local_llm.base_url, "--models",
                       local_llm.alias, "--max-repairs", "1", "--explanation-max-chars", "300", "--no-judge")
    rows = {r["method"]: r for r in report["results"]}
    assert set(rows) == {"random", "meta-learner", f"llm:{local_llm.alias}"}
    row = rows[f"llm:{local_llm.alias}"]
    # The meta-informed default never fails on a weak answer: the LLM chooses inside the meta-learner's
    # set, and no usable pick leaves the best candidate standing, marked as the fallback.
    assert row["ok"] and row["error"] is None and row["raw_valid"] is not None and row["judge"] == {}
    assert SearchSpace.from_yaml(env.space).validate_config(row["config"]).ok and 0.0 <= row["percentile"] <= 1.0
    assert row["source"] in {"llm", "meta-learner-fallback"} and row["explanation"]
    if row["source"] == "meta-learner-fallback":
        assert "meta-learner's best" in row["explanation"]
    assert row["compute_s"] > 0 and row["tokens"]["prompt"] > 0 and row["tokens"]["completion"] > 0
