"""`import`: bring results from elsewhere (a CSV/JSONL/Parquet table) into W&B or the knowledge base."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.cli.options import knowledge_options, open_store



def _names(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


@main.command("import")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@knowledge_options
@click.option("--offline", is_flag=True, help="Write offline W&B runs (also when WANDB_MODE=offline).")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sweep YAML: each row's config must lie inside its parameters (else a bad row).")
@click.option("--metric", help="Target metric column every row needs (default test/acc).")
@click.option("--meta-columns", help="Comma-separated meta-feature columns (besides any named meta/...).")
@click.option("--metric-columns", help="Comma-separated metric columns (default: names with a '/', the "
              "target and train_time_s).")
@click.option("--config-columns", help="Comma-separated config columns (default: every other column).")
@click.option("--direct", is_flag=True, help="Skip W&B: write the records straight into the Qdrant knowledge "
              "base (what `sync` would make of the runs). For thousands of rows; W&B gets no runs.")
@click.option("--no-explain", is_flag=True, help="With --direct: do not refit the meta-learner afterwards.")
@click.option("--dry-run", is_flag=True, help="Only check the table and list bad rows.")
def import_table(table: Path, **opts: Any) -> None:
    """Turn TABLE (one row per past experiment) into one W&B run per row.

    Columns: `dataset`, optional `dataset_name`, meta-features (`meta/n_classes`...), config columns
    and metric columns (`test/acc`, `train_time_s`...). Each run is logged with the trainer's run
    contract, so `sync` reads it like any training run. Rows that cannot become runs are listed with
    their line numbers; nothing is dropped silently (exit code 1 when any row is bad).

    \b
    Examples:
      metallmix-wandb import past_results.csv --project medmnist-meta --offline
      metallmix-wandb sync --project medmnist-meta --offline-dir wandb
      metallmix-wandb import bench.parquet --project nb201 --metric val/acc --direct
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.knowledge.table_io import TableReadError
    from metallmix_wandb.knowledge.experiments import MetricNames
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError
    from metallmix_wandb.knowledge.table_import import TableError, import_rows, parse_table
    from metallmix_wandb.knowledge.sync import NothingToSyncError
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=opts["project"], entity=opts["entity"], qdrant_path=opts["qdrant_path"],
                             qdrant_url=opts["qdrant_url"], metric=opts["metric"],
                             wandb_mode="offline" if opts["offline"] else None)
    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    err = Console(stderr=True)
    try:
        space = SearchSpace.from_yaml(opts["space"]) if opts["space"] else None
        parsed = parse_table(table, project=settings.project, target=settings.metric,
                             time_metric=settings.time_metric, space=space,
                             meta_columns=_names(opts["meta_columns"]), metric_columns=_names(opts["metric_columns"]),
                             config_columns=_names(opts["config_columns"]))
    except (TableError, TableReadError, SearchSpaceError) as exc:
        fail(str(exc))
    for b in parsed.bad:
        err.print(f"[yellow]bad row[/] {b.text()}", markup=True, highlight=False)
    if opts["dry_run"] or not parsed.rows:
        err.print(f"{len(parsed.rows)} usable rows, {len(parsed.bad)} bad rows in {table}")
        sys.exit(1 if parsed.bad or not parsed.rows else 0)
    names = MetricNames(target=settings.metric, train_time=settings.time_metric)
    columns = (TextColumn("importing rows"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("rows", total=len(parsed.rows))
            advance = lambda: progress.advance(task)
            if opts["direct"]:
                with open_store(settings) as store:
                    report = import_rows(parsed, project=settings.project, entity=settings.entity,
                                         offline=settings.offline, direct=True, store=store, names=names,
                                         on_row=advance)
            else:
                report = import_rows(parsed, project=settings.project, entity=settings.entity,
                                     offline=settings.offline, on_row=advance)
    except (StoreError, NothingToSyncError) as exc:
        fail(str(exc))
    _print_report(err, report, settings)
    if report.mode == "direct" and not opts["no_explain"]:
        from metallmix_wandb.cli.knowledge import _explain_after_sync

        _explain_after_sync(err, settings, opts["space"])
    sys.exit(1 if report.bad or report.errors else 0)


def _print_report(err: Any, report: Any, settings: Any) -> None:
    where = (f"collection [cyan]{report.collection}[/] ({report.knowledge_base_total} experiments in all)"
             if report.mode == "direct" else f"{report.mode} runs in project [cyan]{settings.project}[/]")
    speed = f", {report.per_run_s:.2f} s per run" if report.per_run_s else ""
    err.print(f"imported {report.imported} of {report.rows} rows ({report.datasets} datasets) as {where} "
              f"in {report.seconds:.1f} s{speed}; {len(report.bad)} bad rows")
    for e in report.errors:
        err.print(f"[red]failed[/] {e}", highlight=False)
    if report.mode == "wandb-offline":
        folder = Path(__import__("os").environ.get("WANDB_DIR") or ".") / "wandb"
        err.print(f"next: metallmix-wandb sync --project {settings.project} --offline-dir {folder}")
