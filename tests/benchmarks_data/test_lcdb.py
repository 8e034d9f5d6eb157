"""The LCDB development table (metallmix_wandb/benchmarks_data/lcdb.py) from files in LCDB's own column
layout, small enough to write here: which training size a dataset is scored at, what becomes a gap, which
datasets are left out, and that the rows import and score like any table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metallmix_wandb.benchmarks_data import lcdb
from metallmix_wandb.evaluate.lookup import GridIndex, LookupTable
from metallmix_wandb.space.search_space import SearchSpace

LEARNERS = [f"sklearn.ensemble.L{i}Classifier" for i in range(lcdb.MIN_LEARNERS + 1)]


def write_lcdb(folder: Path) -> None:
    """Dataset 1: every learner at 64 and 128 rows but one missing at 128 (it timed out there).
    Dataset 2: every learner at 64; only three at 256 (a size too few learners reached).
    Dataset 3: too few learners anywhere (LCDB's collection skipped it)."""
    lines = ["openmlid,learner,size_train,size_test,outer_seed,inner_seed,traintime,score_train,score_valid,score_test"]
    for i, name in enumerate(LEARNERS):
        for seed in (0, 1):
            lines.append(f"1,{name},64,10,{seed},0,0.5,1,{0.5 + 0.01 * i},0")
            if i != 0:
                lines.append(f"1,{name},128,10,{seed},0,{1.0 + seed},1,{0.6 + 0.01 * i + 0.02 * seed},0")
            lines.append(f"2,{name},64,10,{seed},0,0.1,1,{0.9 - 0.01 * i},0")
            if i < 3:
                lines.append(f"2,{name},256,10,{seed},0,0.1,1,0.99,0")
            if i < 4:
                lines.append(f"3,{name},64,10,{seed},0,0.1,1,0.7,0")
    (folder / "database-accuracy.csv").write_text("\n".join(lines) + "\n")
    (folder / "datasets.csv").write_text(
        "openmlid,Name,NumberOfInstances,NumberOfFeatures,NumberOfClasses,MajorityClassSize,MinorityClassSize,"
        "NaiveBayesErrRate\n1,one,160,5,2,120,40,0.2\n2,two,80,3,3,40,10,\n3,three,80,3,2,40,40,0.1\n")


def test_rows_sizes_gaps_and_meta(tmp_path: Path) -> None:
    write_lcdb(tmp_path)
    rows, sweep = lcdb.load(tmp_path)
    by = {(r["dataset"], r["learner"]): r for r in rows}
    assert {r["dataset"] for r in rows} == {"lcdb/1", "lcdb/2"}
    assert len([r for r in rows if r["dataset"] == "lcdb/1"]) == len(LEARNERS) - 1  # L0 timed out: a gap
    one = by[("lcdb/1", "L1")]
    assert one[lcdb.TARGET] == pytest.approx(0.62)  # size 128, mean over seeds
    assert one["train_time_s"] == pytest.approx(1.5)
    assert one["meta/n_instances"] == 160 and one["meta/imbalance_ratio"] == pytest.approx(3.0)
    two = by[("lcdb/2", "L5")]
    assert two[lcdb.TARGET] == pytest.approx(0.85)  # size 64: 256 had only three learners
    assert "meta/naive_bayes_error" not in two  # unknown stays unknown
    assert sweep["parameters"]["learner"]["values"] == sorted(f"L{i}" for i in range(len(LEARNERS)))


def test_table_scores_with_gaps_and_samples(tmp_path: Path) -> None:
    write_lcdb(tmp_path)
    rows, sweep = lcdb.load(tmp_path)
    space = SearchSpace.from_sweep_config(sweep)
    grid = GridIndex(space)
    table = LookupTable(grid)
    for d in ("lcdb/1", "lcdb/2"):
        mine = [r for r in rows if r["dataset"] == d]
        table.add(d, np.array([grid.code({"learner": r["learner"]}) for r in mine]),
                  np.array([r[lcdb.TARGET] for r in mine]))
    assert table.missing("lcdb/1") == 1 and table.missing("lcdb/2") == 0
    assert table.score("lcdb/1", {"learner": "L0"}).percentile == 0.0  # the gap scores as the worst
    assert table.score("lcdb/1", {"learner": f"L{len(LEARNERS) - 1}"}).percentile == 1.0
    kb = lcdb.sample_rows(rows, 5, seed=1)
    assert [sum(r["dataset"] == d for r in kb) for d in ("lcdb/1", "lcdb/2")] == [5, 5]
    assert kb == lcdb.sample_rows(rows, 5, seed=1) and lcdb.sample_rows(rows, None) == rows


def test_missing_files_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pip download"):
        lcdb.load(tmp_path)
