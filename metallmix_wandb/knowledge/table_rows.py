"""A table of past results -> rows in the trainer's run contract (DESIGN.md §4). Pure.

Columns: `dataset` (required), `dataset_name` (optional), meta-features (`meta/<name>`, or named with
`meta_columns`), metrics (named with `metric_columns`; by default `summary/<name>`, any other name
with a `/` such as `test/acc`, and the target and time metrics), and config (`config/<name>`, or any
other column). Every row that cannot become a usable run is returned as a `BadRow` with its line
number and every problem at once: nothing is dropped silently.
Tested through tests/cli/test_import_cli.py and tests/evaluate/test_records.py.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.experiments import dataset_label
from metallmix_wandb.knowledge.records import MetaValue, RawRun
from metallmix_wandb.numbers import plain_scalar
from metallmix_wandb.space.search_space import SearchSpace

DATASET, DATASET_NAME = "dataset", "dataset_name"
IGNORED_PREFIXES = ("_", "Unnamed:")


class TableError(ValueError):
    """The table as a whole cannot be imported (no dataset column, no target metric column...)."""


class TableColumns(BaseModel):
    """How each column of the table is read."""

    dataset: str = DATASET
    dataset_name: str | None = None
    meta: dict[str, str] = Field(description="column -> meta-feature name")
    metrics: dict[str, str] = Field(description="column -> summary key")
    config: dict[str, str] = Field(description="column -> hyperparameter name")
    ignored: list[str] = Field(default_factory=list)


class ImportRow(BaseModel):
    """One usable row: a finished training run in waiting."""

    line: int
    dataset: str
    dataset_name: str
    meta: dict[str, MetaValue]
    config: dict[str, Any]
    summary: dict[str, float]
    run_id: str = ""


class BadRow(BaseModel):
    line: int
    problems: list[str]

    def text(self) -> str:
        return f"line {self.line}: " + "; ".join(self.problems)


class ParsedTable(BaseModel):
    columns: TableColumns
    rows: list[ImportRow]
    bad: list[BadRow]


def classify_columns(header: Sequence[str], *, meta_columns: Sequence[str] = (), metric_columns: Sequence[str] = (),
                     config_columns: Sequence[str] = (), target: str = "test/acc",
                     time_metric: str = "train_time_s") -> TableColumns:
    """Decide what each column is (see the module docstring); raises TableError when the table
    lacks a dataset column or any metric."""
    if DATASET not in header:
        raise TableError(f"the table has no '{DATASET}' column (columns: {list(header)[:12]})")
    unknown = [c for c in (*meta_columns, *metric_columns, *config_columns) if c not in header]
    if unknown:
        raise TableError(f"columns named in options are not in the table: {unknown}")
    meta, metrics, config, ignored = {}, {}, {}, []
    for col in header:
        if col == DATASET or col == DATASET_NAME:
            continue
        if col in meta_columns or col.startswith("meta/"):
            meta[col] = col.removeprefix("meta/")
        elif col in metric_columns:
            metrics[col] = col.removeprefix("summary/")
        elif col in config_columns or col.startswith("config/"):
            config[col] = col.removeprefix("config/")
        elif not col or col.startswith(IGNORED_PREFIXES):
            ignored.append(col)
        elif not metric_columns and (col.startswith("summary/") or "/" in col or col in (target, time_metric)):
            metrics[col] = col.removeprefix("summary/")
        else:
            config[col] = col
    if not metrics:
        raise TableError("no metric columns: name them with --metric-columns, or use names like 'test/acc'")
    if target not in metrics.values():
        raise TableError(f"no column for the target metric '{target}' (metrics found: {sorted(metrics.values())}); "
                         "pass --metric NAME")
    if not meta:
        raise TableError("no meta-feature columns: prefix them 'meta/' or name them with --meta-columns")
    return TableColumns(dataset_name=DATASET_NAME if DATASET_NAME in header else None, meta=meta,
                        metrics=metrics, config=config, ignored=ignored)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def parse_rows(rows: Iterable[tuple[int, Mapping[str, Any]]], columns: TableColumns, *,
               space: SearchSpace | None = None, target: str = "test/acc",
               project: str = "") -> ParsedTable:
    """Check every row; usable rows get a stable run id (a re-import updates, never duplicates)."""
    good: list[ImportRow] = []
    bad: list[BadRow] = []
    first_meta: dict[str, tuple[int, dict[str, MetaValue]]] = {}
    seen: dict[str, int] = {}
    for line, raw in rows:
        row = {k: plain_scalar(v) for k, v in raw.items()}  # readers hand in numpy/pandas scalars
        problems: list[str] = []
        dataset = row.get(columns.dataset)
        if _missing(dataset):
            problems.append("no dataset")
        dataset = str(dataset).strip() if not _missing(dataset) else ""
        meta: dict[str, MetaValue] = {}
        for col, name in columns.meta.items():
            v = row.get(col)
            if _missing(v):
                continue
            num = _number(v)
            meta[name] = num if num is not None and math.isfinite(num) else str(v)
        if not any(isinstance(v, float) for v in meta.values()):
            problems.append("no numeric meta-features")
        summary: dict[str, float] = {}
        for col, name in columns.metrics.items():
            v = row.get(col)
            if _missing(v) and name != target:
                continue
            num = _number(v)
            if num is None or not math.isfinite(num):
                problems.append(f"{col}: not a finite number ({v!r})")
            else:
                summary[name] = num
        config = {name: row[col] for col, name in columns.config.items() if not _missing(row.get(col))}
        if space is not None:
            checked = space.validate_config(config)
            if checked.ok and checked.config is not None:
                config = checked.config
            else:
                problems.extend(f"config {e}" for e in checked.errors)
        if dataset and meta and not problems:
            problems.extend(_meta_conflicts(dataset, line, meta, first_meta))
        if problems:
            bad.append(BadRow(line=line, problems=problems))
            continue
        name = row.get(columns.dataset_name) if columns.dataset_name else None
        item = ImportRow(line=line, dataset=dataset, meta=meta, config=config, summary=summary,
                         dataset_name=str(name) if not _missing(name) else dataset_label(dataset))
        digest = _digest(project, item)
        seen[digest] = seen.get(digest, 0) + 1
        item.run_id = _run_id(digest, seen[digest])
        good.append(item)
    return ParsedTable(columns=columns, rows=good, bad=bad)


def _meta_conflicts(dataset: str, line: int, meta: dict[str, MetaValue],
                    first: dict[str, tuple[int, dict[str, MetaValue]]]) -> list[str]:
    """A dataset has one set of meta-features; a row that disagrees with the dataset's first row is bad."""
    if dataset not in first:
        first[dataset] = (line, meta)
        return []
    ref_line, ref = first[dataset]
    out = []
    for key in sorted(set(ref) | set(meta)):
        a, b = ref.get(key), meta.get(key)
        same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-9))
        if not same:
            out.append(f"meta/{key}={b!r} differs from line {ref_line} ({a!r}) for dataset '{dataset}'")
    return out


def _digest(project: str, row: ImportRow) -> str:
    body = json.dumps([project, row.dataset, row.config, row.meta, row.summary], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _run_id(digest: str, occurrence: int) -> str:
    """8 base-36 characters from the row's content (+ its occurrence among identical rows)."""
    n = int(hashlib.sha256(f"{digest}:{occurrence}".encode()).hexdigest(), 16)
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[(n >> (6 * i)) % 36] for i in range(8))


def run_config(row: ImportRow) -> dict[str, Any]:
    """The config a trainer run would log: hyperparameters, dataset, dataset_name, meta/... keys."""
    return {**row.config, DATASET: row.dataset, DATASET_NAME: row.dataset_name,
            **{f"meta/{k}": v for k, v in row.meta.items()}}


def raw_run(row: ImportRow, project: str, entity: str = "offline") -> RawRun:
    """The row as a finished run, for `--direct` import straight into the knowledge base."""
    return RawRun(path=f"{entity}/{project}/{row.run_id}", run_id=row.run_id, name=f"import line {row.line}",
                  project=project, entity=entity, job_type="imported", state="finished", exit_code=0,
                  config=run_config(row), summary=dict(row.summary))
