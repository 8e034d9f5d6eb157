"""Lookup scoring, the search-free baselines, the ranked summary, and parsing import tables (pure)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metallmix_wandb.evaluate.methods.global_best import global_best_config
from metallmix_wandb.evaluate.methods.random_search import random_search
from metallmix_wandb.evaluate.records import (
    EvaluationReport,
    MethodResult,
    at_trial,
    best_so_far_curve,
    checkpoints_for,
    merge_reports,
    summarise_curves,
    summarise_methods,
)
from metallmix_wandb.knowledge.table_rows import TableError, classify_columns, parse_rows, raw_run
from metallmix_wandb.evaluate.lookup import GridIndex, LookupTable, LookupTableError, value_label
from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.space.search_space import SearchSpace

SPACE = SearchSpace.from_sweep_config({"parameters": {
    "lr": {"values": [0.001, 0.01, 0.1]}, "bs": {"values": [16, 32]}, "act": {"values": ["relu", "tanh"]},
    "epochs": {"value": 5}}})


def _table(values: dict[str, list[float]]) -> LookupTable:
    grid = GridIndex(SPACE)
    table = LookupTable(grid)
    for dataset, vals in values.items():
        table.add(dataset, np.arange(grid.size), np.array(vals, dtype=float), np.arange(grid.size, dtype=float))
    return table


def test_labels_make_equal_values_meet() -> None:
    assert value_label(32) == value_label(32.0) == value_label("32")
    assert value_label(1e-3) == value_label(0.001) == value_label("1e-3")
    assert value_label(True) != value_label(1)


def test_grid_codes_round_trip_and_unknown_values() -> None:
    grid = GridIndex(SPACE)
    assert grid.size == 12
    for code in range(grid.size):
        assert grid.code(grid.config(code)) == code
    assert grid.config(0) == {"lr": 0.001, "bs": 16, "act": "relu", "epochs": 5}
    assert grid.code({"lr": 0.5, "bs": 16, "act": "relu"}) is None
    assert list(grid.codes({"lr": ["0.01", "9"], "bs": ["32", "32"], "act": ["tanh", "tanh"]})) == [grid.code(
        {"lr": 0.01, "bs": 32, "act": "tanh"}), -1]


def test_score_percentile_regret_and_failure() -> None:
    table = _table({"a": [float(i) for i in range(12)]})
    best = table.score("a", {"lr": 0.1, "bs": 32, "act": "tanh"})
    assert (best.percentile, best.regret, best.norm_regret) == (1.0, 0.0, 0.0)
    worst = table.score("a", {"lr": 0.001, "bs": 16, "act": "relu"})
    assert (worst.percentile, worst.regret, worst.norm_regret) == (0.0, 11.0, 1.0)
    assert table.score("a", None).percentile == 0.0
    assert table.score("a", {"lr": 0.001, "bs": 16, "act": "tanh"}).train_time_s == 1.0


def test_ties_share_their_average_rank_and_a_gap_scores_as_the_worst() -> None:
    table = _table({"a": [1.0] * 12})
    assert table.score("a", {"lr": 0.1, "bs": 32, "act": "tanh"}).percentile == 0.5
    grid = GridIndex(SPACE)
    partial = LookupTable(grid)
    partial.add("b", np.arange(5), np.arange(5.0))
    assert partial.missing("b") == 7
    partial.require_results("b")  # gaps are allowed
    gap = partial.score("b", grid.config(7))  # no result: a failure, the worst of the 5 known
    assert gap.missing and gap.percentile == 0.0 and gap.metric == 0.0 and gap.regret == 4.0
    assert partial.score("b", grid.config(4)).percentile == 1.0 and not partial.score("b", grid.config(4)).missing
    assert partial.gap_note(["b"], {"b": "B"}) == ("lookup table gaps (configs with no result, scored as the "
                                                   "dataset's worst when chosen): B 7 of 12")
    partial.add("c", np.arange(0), np.ones(0))
    with pytest.raises(LookupTableError, match="no result on 'c' for any of the 12 configs"):
        partial.require_results("c")
    with pytest.raises(LookupTableError, match="continuous"):
        GridIndex(SearchSpace.from_sweep_config({"parameters": {"lr": {"min": 0.1, "max": 1.0}}}))


def test_random_search_is_reproducible_under_a_seed() -> None:
    table = _table({"a": list(np.random.default_rng(1).random(12))})

    def objective(c: dict) -> float:
        return table.value("a", c) or -math.inf

    one, two = random_search(SPACE, objective, 6, seed=3), random_search(SPACE, objective, 6, seed=3)
    assert one.configs == two.configs and one.best_index == two.best_index
    assert one.values[one.best_index] == max(one.values)
    assert random_search(SPACE, objective, 6, seed=4).configs != one.configs


def _exp(dataset: str, i: int, config: dict, acc: float) -> Experiment:
    return Experiment(run_path=f"offline/p/{dataset}-{i}", run_id=f"{dataset}{i}", dataset=dataset, config=config,
                      meta_features={"n": 1.0}, summary={"test/acc": acc}, train_time_s=1.0)


def test_global_best_prefers_configs_run_on_most_datasets() -> None:
    good = {"lr": 0.01, "bs": 32, "act": "relu", "epochs": 5}
    lucky = {"lr": 0.1, "bs": 16, "act": "tanh", "epochs": 5}
    other = {"lr": 0.001, "bs": 16, "act": "relu", "epochs": 5}
    exps = [_exp("a", 0, good, 0.9), _exp("a", 1, other, 0.5), _exp("b", 0, good, 0.7), _exp("b", 1, other, 0.6),
            _exp("b", 2, lucky, 0.99)]
    assert global_best_config(exps, SPACE, "test/acc") == good


def _result(method: str, dataset: str, pct: float, seed: int | None = None) -> MethodResult:
    return MethodResult(dataset=dataset, dataset_name=dataset, method=method, family="search", seed=seed,
                        config={}, metric=pct, best_metric=1.0, regret=1.0 - pct, norm_regret=1.0 - pct,
                        percentile=pct, compute_s=0.1, search_train_s=10.0)


def test_summary_ranks_by_median_percentile_with_seed_means_first() -> None:
    results = [_result("random", "a", 0.2, 0), _result("random", "a", 0.8, 1), _result("random", "b", 0.9, 0),
               _result("random", "b", 0.9, 1), _result("meta", "a", 0.95), _result("meta", "b", 0.4)]
    summary = summarise_methods(results)
    assert [s.method for s in summary] == ["random", "meta"]
    random = summary[0]
    assert random.median_percentile == pytest.approx((0.5 + 0.9) / 2)
    assert random.median_response_s == pytest.approx(10.1)
    assert summary[1].mean_dataset_rank == 1.5 and random.mean_dataset_rank == 1.5


def test_import_columns_and_bad_rows_are_reported_with_their_lines() -> None:
    header = ["dataset", "meta/n", "lr", "bs", "act", "test/acc", "train_time_s"]
    cols = classify_columns(header)
    assert cols.meta == {"meta/n": "n"} and set(cols.config) == {"lr", "bs", "act"}
    assert set(cols.metrics) == {"test/acc", "train_time_s"}
    rows = [
        (2, {"dataset": "a", "meta/n": 10, "lr": 0.01, "bs": 32, "act": "relu", "test/acc": 0.8, "train_time_s": 3}),
        (3, {"dataset": "a", "meta/n": 10, "lr": 0.5, "bs": 32, "act": "relu", "test/acc": 0.8}),
        (4, {"dataset": "", "meta/n": None, "lr": 0.01, "bs": 32, "act": "relu", "test/acc": "nan"}),
        (5, {"dataset": "a", "meta/n": 11, "lr": 0.01, "bs": 16, "act": "relu", "test/acc": 0.7}),
        (6, {"dataset": "a", "meta/n": 10, "lr": 0.01, "bs": 32, "act": "relu", "test/acc": 0.8, "train_time_s": 3}),
    ]
    parsed = parse_rows(rows, cols, space=SPACE, project="p")
    assert [r.line for r in parsed.rows] == [2, 6]
    assert parsed.rows[0].run_id != parsed.rows[1].run_id  # identical rows stay two runs
    bad = {b.line: " ".join(b.problems) for b in parsed.bad}
    assert "lr" in bad[3] and "no dataset" in bad[4] and "test/acc" in bad[4] and "differs from line 2" in bad[5]
    again = parse_rows(rows, cols, space=SPACE, project="p")
    assert [r.run_id for r in again.rows] == [r.run_id for r in parsed.rows]  # stable: a re-import updates
    run = raw_run(parsed.rows[0], "p")
    assert run.config["meta/n"] == 10.0 and run.config["dataset"] == "a" and run.summary["test/acc"] == 0.8
    with pytest.raises(TableError, match="target metric"):
        classify_columns(["dataset", "meta/n", "lr", "val/acc"])
    with pytest.raises(TableError, match="no 'dataset' column"):
        classify_columns(["meta/n", "test/acc"])


def report(results: list[MethodResult], datasets: list[str]) -> EvaluationReport:
    return EvaluationReport(project="p", metric="m", budget=5, seeds=[0], methods=[], datasets=datasets,
                            space={}, results=results, summary=summarise_methods(results))


def test_merged_evaluations_keep_the_later_run_of_a_method() -> None:
    base = report([_result("random", "a", 0.5, 0), _result("random", "b", 0.7, 0), _result("meta", "a", 0.9)],
                  ["a", "b"])
    llm = report([_result("llm:x", "a", 0.8), _result("meta", "a", 0.1)], ["a"])
    more = report([_result("llm:x", "b", 0.6)], ["b"])
    merged = merge_reports([base, llm, more])
    assert {s.method for s in merged.summary} == {"random", "meta", "llm:x"}
    assert next(s for s in merged.summary if s.method == "meta").median_percentile == 0.1
    assert next(s for s in merged.summary if s.method == "llm:x").datasets == 2
    assert merged.datasets == ["a", "b"] and any("cover different datasets" in n for n in merged.notes)
    with pytest.raises(ValueError):
        merge_reports([base, base.model_copy(update={"metric": "other"})])


def test_best_so_far_is_the_running_maximum_and_short_runs_keep_their_last_value() -> None:
    assert best_so_far_curve([0.2, 0.1, 0.7, 0.5, 0.9]) == [0.2, 0.2, 0.7, 0.7, 0.9]
    assert best_so_far_curve([]) == []
    curve = [0.3, 0.8]  # a tune that reached its target after 2 trials
    assert at_trial(curve, 1) == 0.3 and at_trial(curve, 10) == 0.8
    assert at_trial([], 3) == 0.0  # a failed tune scores as the worst config
    assert checkpoints_for(10) == [1, 3, 5, 10] and checkpoints_for(4) == [1, 3, 4] and checkpoints_for(1) == [1]


def _curved(method: str, dataset: str, curve: list[float], seed: int) -> MethodResult:
    r = _result(method, dataset, curve[-1] if curve else 0.0, seed)
    return r.model_copy(update={"curve": curve, "evaluations": len(curve)})


def test_curves_average_seeds_then_take_the_median_over_datasets() -> None:
    results = [_curved("tune", "a", [0.5, 0.9, 0.9], 0), _curved("tune", "a", [0.7, 0.7, 1.0], 1),
               _curved("tune", "b", [0.1, 0.2, 0.3], 0), _curved("tune", "b", [], 1),
               _curved("tune", "c", [0.9, 0.95, 0.95], 0), _curved("tune", "c", [0.9, 0.95, 0.95], 1),
               _result("meta", "a", 0.9)]  # a one-shot method has no curve
    points = {(p.method, p.n): p for p in summarise_curves(results, [1, 3])}
    assert set(points) == {("tune", 1), ("tune", 3)}
    assert points[("tune", 1)].median_percentile == pytest.approx(0.6)  # a 0.6, b 0.05, c 0.9
    assert points[("tune", 3)].median_percentile == pytest.approx(0.95)  # a 0.95, b 0.15, c 0.95
    assert points[("tune", 3)].datasets == 3
    merged = merge_reports([report(results, ["a", "b", "c"]).model_copy(update={"curves": list(points.values())})])
    assert {(p.method, p.n) for p in merged.curves} == {("tune", 1), ("tune", 3)}
