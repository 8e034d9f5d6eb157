"""The demo's value statement: `evaluate --datasets ONE` on a real (subsampled) NAS-Bench-201 table prints
where each pick ranks in the held-out dataset's full table, checked here against ranks counted straight
from that table with pandas, and what the answers cost in training time."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.evaluate.held_out import held_out, held_out_lines, rank_of
from metallmix_wandb.evaluate.records import EvaluationReport
from tests.support.hpo_bench import METRIC, PROJECT, SUBSPACE, Nb201Kb, nb201_kb  # noqa: F401
from tests.support.wandb_runs import offline_env

HIDDEN = "CIFAR-100"


@pytest.fixture
def env(nb201_kb: Nb201Kb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Nb201Kb:  # noqa: F811
    offline_env(tmp_path / "wandb_root", monkeypatch)
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(nb201_kb.qdrant))
    monkeypatch.delenv("METALLMIX_METRIC", raising=False)
    return nb201_kb


def _table_rank(full: pd.DataFrame, config: dict) -> tuple[float, float]:
    """(rank among the hidden dataset's configs, 1 = best, ties averaged; its training time), counted
    from the table itself."""
    rows = full[full["dataset_name"] == HIDDEN]
    match = rows
    for name in SUBSPACE | {"Op2": None}:
        match = match[match[name] == config[name]]
    assert len(match) == 1
    value = float(match[METRIC].iloc[0])
    better, equal = int((rows[METRIC] > value).sum()), int((rows[METRIC] == value).sum())
    return 1 + better + (equal - 1) / 2, float(match["train_time_s"].iloc[0])


def test_one_held_out_dataset_ranks_each_pick_in_its_full_table(env: Nb201Kb, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, [
        "evaluate", "--project", PROJECT, "--metric", METRIC, "--space", str(env.space), "--lookup", str(env.full),
        "--datasets", HIDDEN, "--no-llm", "--baselines", "meta-learner,random", "--budget", "5", "--seeds", "3",
        "--no-per-dataset", "--no-log", "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = EvaluationReport.model_validate(json.loads(out.read_text()))
    statement = held_out(report)
    assert statement is not None and statement.configs == 60 and statement.dataset_name == HIDDEN
    full = pd.read_parquet(env.full)
    assert len(full[full["dataset_name"] == HIDDEN]) == 60

    pick, search = statement.rows  # the recommendation first
    assert (pick.method, pick.evaluations, search.method, search.seeds) == ("meta-learner", 0, "random", 3)
    ml = next(r for r in report.results if r.method == "meta-learner")
    rank, train_s = _table_rank(full, ml.config or {})
    assert pick.rank == pytest.approx(rank) and pick.train_s == pytest.approx(train_s)
    seeds = [r for r in report.results if r.method == "random"]
    assert search.rank == pytest.approx(sum(_table_rank(full, r.config or {})[0] for r in seeds) / 3)
    assert search.train_s == pytest.approx(sum(r.search_train_s for r in seeds) / 3) and search.train_s > 0

    lines = held_out_lines(statement)
    assert lines[0].startswith(f"Held-out dataset {HIDDEN}") and "60 configs" in lines[0]
    assert f"rank {rank:,.0f} of 60 (top {100 * rank / 60:.1f}%)" in lines[1] and "no search" in lines[1]
    assert "5 trials (mean of 3 seeds)" in lines[2] and "its 5 trainings took" in lines[2]
    assert all(line in result.output for line in lines)  # what `evaluate` printed


def test_rank_of_inverts_the_lookup_percentile() -> None:
    assert rank_of(1.0, 60) == 1 and rank_of(0.0, 60) == 60 and rank_of(0.5, 3) == 2


def test_no_statement_for_several_datasets(env: Nb201Kb, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, [
        "evaluate", "--project", PROJECT, "--metric", METRIC, "--space", str(env.space), "--lookup", str(env.full),
        "--no-llm", "--baselines", "global-best", "--no-per-dataset", "--no-log", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert held_out(EvaluationReport.model_validate(json.loads(out.read_text()))) is None
    assert "Held-out dataset" not in result.output
