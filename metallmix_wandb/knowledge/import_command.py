"""The body of `import`: a table of past results -> W&B runs, or (`direct`) the knowledge base itself.

Kept apart from the click declaration (cli/import_cmd.py) so the CLI only parses options; the output
lines and exit codes are the command's contract. Tested through tests/cli/test_import_cli.py.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from metallmix_wandb.cli.app import fail

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.table_import import ImportReport
    from metallmix_wandb.settings import Settings


def import_command(settings: Settings, table: Path, *, space_yaml: Path | None, meta_columns: Sequence[str],
                   metric_columns: Sequence[str], config_columns: Sequence[str], direct: bool, explain: bool,
                   dry_run: bool) -> int:
    """`import`: every bad row is listed with its line; returns the exit code (1 when any row is bad or
    failed, or nothing is usable); a table that cannot be imported at all is an `error:` line, exit 2."""
    from metallmix_wandb.knowledge.experiments import MetricNames
    from metallmix_wandb.knowledge.meta_learner.command import explain_after_sync
    from metallmix_wandb.knowledge.store import ExperimentStore, StoreError
    from metallmix_wandb.knowledge.sync import NothingToSyncError
    from metallmix_wandb.knowledge.table_import import TableError, import_rows, parse_table
    from metallmix_wandb.knowledge.table_io import TableReadError
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError

    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    err = Console(stderr=True)
    try:
        space = SearchSpace.from_yaml(space_yaml) if space_yaml else None
        parsed = parse_table(table, project=settings.project, target=settings.metric,
                             time_metric=settings.time_metric, space=space, meta_columns=meta_columns,
                             metric_columns=metric_columns, config_columns=config_columns)
    except (TableError, TableReadError, SearchSpaceError) as exc:
        fail(str(exc))
    for b in parsed.bad:
        err.print(f"[yellow]bad row[/] {b.text()}", markup=True, highlight=False)
    if dry_run or not parsed.rows:
        err.print(f"{len(parsed.rows)} usable rows, {len(parsed.bad)} bad rows in {table}")
        return 1 if parsed.bad or not parsed.rows else 0
    names = MetricNames(target=settings.metric, train_time=settings.time_metric)
    columns = (TextColumn("importing rows"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("rows", total=len(parsed.rows))

            def advance() -> None:
                progress.advance(task)

            if direct:
                with ExperimentStore.from_settings(settings) as store:
                    report = import_rows(parsed, project=settings.project, entity=settings.entity,
                                         offline=settings.offline, direct=True, store=store, names=names,
                                         on_row=advance)
            else:
                report = import_rows(parsed, project=settings.project, entity=settings.entity,
                                     offline=settings.offline, on_row=advance)
    except (StoreError, NothingToSyncError) as exc:
        fail(str(exc))
    _print_report(err, report, settings.project)
    if report.mode == "direct" and explain:
        explain_after_sync(err, settings, space_yaml)
    return 1 if report.bad or report.errors else 0


def _print_report(err: Console, report: ImportReport, project: str) -> None:
    where = (f"collection [cyan]{report.collection}[/] ({report.knowledge_base_total} experiments in all)"
             if report.mode == "direct" else f"{report.mode} runs in project [cyan]{project}[/]")
    speed = f", {report.per_run_s:.2f} s per run" if report.per_run_s else ""
    err.print(f"imported {report.imported} of {report.rows} rows ({report.datasets} datasets) as {where} "
              f"in {report.seconds:.1f} s{speed}; {len(report.bad)} bad rows")
    for e in report.errors:
        err.print(f"[red]failed[/] {e}", highlight=False)
    if report.mode == "wandb-offline":
        folder = Path(os.environ.get("WANDB_DIR") or ".") / "wandb"
        err.print(f"next: metallmix-wandb sync --project {project} --offline-dir {folder}")
