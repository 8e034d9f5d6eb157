"""import: a table of past results -> one W&B run per row (the default), or straight into Qdrant.

W&B runs carry the trainer's run contract (config with `dataset`, `dataset_name`, `meta/...`; the
metrics in the summary), so `sync` reads them like any training run. The SDK costs ~0.3 s per run
here (measured: 40 offline runs, 0.30-0.33 s each, no faster with 4 or 8 threads), i.e. ~5 min per
1,000 rows. `direct=True` skips W&B and upserts the same Experiment records `sync` would make
(`to_experiment` on the same run contract), for tables of thousands of rows.
Tested through tests/cli/test_import_cli.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.table_io import read_table
from metallmix_wandb.knowledge.experiments import MetricNames
from metallmix_wandb.knowledge.table_rows import (
    BadRow,
    ImportRow,
    TableError,
    classify_columns,
    parse_rows,
    raw_run,
    run_config,
)
from metallmix_wandb.knowledge.records import RawRun
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.store import ExperimentStore

__all__ = ["ImportReport", "TableError", "import_rows", "parse_table"]


class ImportReport(BaseModel):
    table: str
    format: str
    rows: int = Field(description="data rows in the file")
    imported: int
    bad: list[BadRow]
    mode: Literal["wandb-offline", "wandb-online", "direct"]
    datasets: int
    seconds: float
    per_run_s: float | None = None
    run_ids: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list, description="rows W&B failed to write")
    collection: str | None = None
    knowledge_base_total: int | None = None


class ParsedImport(BaseModel):
    table: str
    format: str
    rows: list[ImportRow]
    bad: list[BadRow]


def parse_table(path: Path, *, project: str, target: str, time_metric: str, space: SearchSpace | None = None,
                meta_columns: Sequence[str] = (), metric_columns: Sequence[str] = (),
                config_columns: Sequence[str] = ()) -> ParsedImport:
    """Read and check the table; raises TableError/TableReadError when the whole file is unusable."""
    table = read_table(path)
    columns = classify_columns(table.header, meta_columns=meta_columns, metric_columns=metric_columns,
                               config_columns=config_columns, target=target, time_metric=time_metric)
    if space is not None and "dataset" in space.params:
        space = space.without("dataset")
    parsed = parse_rows(table.rows, columns, space=space, target=target, project=project)
    bad = sorted([*table.bad, *parsed.bad], key=lambda b: b.line)
    return ParsedImport(table=str(path), format=table.format, rows=parsed.rows, bad=bad)


def _wandb_rows(rows: Sequence[ImportRow], project: str, entity: str | None, offline: bool,
                on_row: Callable[[], None]) -> tuple[list[str], list[str]]:
    import wandb

    ids, errors = [], []
    for row in rows:
        try:
            run = wandb.init(project=project, entity=entity, id=row.run_id, config=run_config(row),
                             name=f"{row.dataset_name} line {row.line}", job_type="imported", tags=["imported"],
                             mode="offline" if offline else "online", reinit="create_new",
                             resume=None if offline else "allow", dir=os.environ.get("WANDB_DIR"))
        except Exception as exc:  # noqa: BLE001 - no key, no server: stop at the first, the rest would fail too
            errors.append(f"line {row.line}: wandb.init failed: {exc}")
            break
        try:
            run.summary.update(row.summary)
            run.finish()
            ids.append(row.run_id)
        except Exception as exc:  # noqa: BLE001
            run.finish(exit_code=1)
            errors.append(f"line {row.line}: {exc}")
        on_row()
    return ids, errors


class TableRunSource:
    """Rows as runs for `knowledge.sync.sync` (a RunSource), for `--direct`."""

    def __init__(self, rows: Sequence[ImportRow], project: str, entity: str | None, table: str,
                 on_row: Callable[[], None]) -> None:
        self.rows, self.project, self.entity, self.table, self.on_row = rows, project, entity or "offline", table, on_row

    def describe(self) -> str:
        return f"table {self.table}"

    def count(self) -> int:
        return len(self.rows)

    def run_path(self, raw: RawRun) -> str:
        return raw.path

    def __iter__(self) -> Iterator[RawRun]:
        for row in self.rows:
            yield raw_run(row, self.project, self.entity)
            self.on_row()


def import_rows(parsed: ParsedImport, *, project: str, entity: str | None, offline: bool,
                direct: bool = False, store: ExperimentStore | None = None, names: MetricNames | None = None,
                on_row: Callable[[], None] = lambda: None) -> ImportReport:
    """Write the parsed rows (W&B runs, or Qdrant with `direct`); bad rows are carried in the report."""
    start = time.perf_counter()
    datasets = len({r.dataset for r in parsed.rows})
    common: dict[str, Any] = {"table": parsed.table, "format": parsed.format, "bad": parsed.bad,
                              "rows": len(parsed.rows) + len(parsed.bad), "datasets": datasets}
    if direct:
        from metallmix_wandb.knowledge.sync import sync

        assert store is not None, "direct import needs the knowledge base"
        source = TableRunSource(parsed.rows, project, entity, parsed.table, on_row)
        report = sync(source, store, names or MetricNames())
        return ImportReport(**common, imported=report.synced, mode="direct", seconds=time.perf_counter() - start,
                            collection=report.collection, knowledge_base_total=report.total,
                            errors=[f"{s.path}: {s.reason} {s.detail}" for s in report.skipped])
    ids, errors = _wandb_rows(parsed.rows, project, entity, offline, on_row)
    seconds = time.perf_counter() - start
    return ImportReport(**common, imported=len(ids), mode="wandb-offline" if offline else "wandb-online",
                        seconds=seconds, per_run_s=seconds / len(ids) if ids else None, run_ids=ids, errors=errors)
