"""Build the lookup table evaluate scores against: from a results table file, or from the knowledge
base's own runs. Rows whose constant parameters differ from the space's constants are other configs
and are left out; repeated configs are averaged (evaluate/lookup.py). Tested through
tests/evaluate/test_pipeline.py (`evaluate --lookup` with a table and with the knowledge base)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metallmix_wandb.evaluate.lookup import GridIndex, LookupTable, LookupTableError, value_label
from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.space.search_space import SearchSpace


def lookup_from_table(path: Path, space: SearchSpace, metric: str, time_metric: str) -> LookupTable:
    """A CSV/JSONL/Parquet table in the `import` format (dataset, config columns, metric columns)."""
    from metallmix_wandb.knowledge.table_io import read_frame

    grid = GridIndex(space)
    frame = read_frame(path)
    columns = {c.removeprefix("config/").removeprefix("summary/"): c for c in frame.columns}
    for needed in ("dataset", metric, *grid.names):
        if needed not in columns:
            raise LookupTableError(f"the lookup table {path} has no column '{needed}'")
    keep = np.ones(len(frame), dtype=bool)
    for name, value in space.constants.items():
        if name in columns:
            keep &= (frame[columns[name]].map(value_label) == value_label(value)).to_numpy()
    frame = frame[keep]
    labels = {n: frame[columns[n]].map(value_label).tolist() for n in grid.names}
    codes = grid.codes(labels)
    metric_v = frame[columns[metric]].to_numpy(dtype=np.float64)
    time_v = (frame[columns[time_metric]].to_numpy(dtype=np.float64) if time_metric in columns
              else np.full(len(frame), np.nan))
    table = LookupTable(grid)
    datasets = frame[columns["dataset"]].astype(str).to_numpy()
    for dataset in np.unique(datasets):
        mask = datasets == dataset
        table.add(str(dataset), codes[mask], metric_v[mask], time_v[mask])
    return table


def lookup_from_experiments(experiments: Sequence[Experiment], space: SearchSpace, metric: str) -> LookupTable:
    """The knowledge base's runs as the table (lookup mode needs them to cover the whole grid)."""
    grid = GridIndex(space)
    constants = {n: value_label(v) for n, v in space.constants.items()}
    by_dataset: dict[str, list[tuple[int, float, float]]] = {}
    for e in experiments:
        flat = space.flatten(e.config)
        if any(n in flat and value_label(flat[n]) != label for n, label in constants.items()):
            continue
        code = grid.code(flat)
        value = e.summary.get(metric)
        if code is None or value is None:
            continue
        t = e.train_time_s if e.train_time_s is not None else np.nan
        by_dataset.setdefault(e.dataset, []).append((code, float(value), float(t)))
    table = LookupTable(grid)
    for dataset, rows in by_dataset.items():
        arr: Any = np.array(rows, dtype=np.float64)
        table.add(dataset, arr[:, 0].astype(np.int64), arr[:, 1], arr[:, 2])
    return table
