"""The body of `sync`: runs (W&B API or offline folders) -> the knowledge base, then `explain`.

Kept apart from the click declaration (cli/knowledge.py) so the CLI only parses options; the output
lines and exit codes are the command's contract. Tested through tests/cli/test_knowledge_cli.py and
tests/cli/test_explain_cli.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from metallmix_wandb.cli.app import fail
from metallmix_wandb.knowledge import run_source

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.base import RunSource
    from metallmix_wandb.knowledge.sync import SyncReport
    from metallmix_wandb.settings import Settings


def sync_command(settings: Settings, *, offline_dir: Path | None, show_skipped: bool, explain: bool,
                 space_yaml: Path | None) -> None:
    """`sync`: read, convert and upsert every run with a progress bar, report what was skipped and why,
    then (with `explain`) refit the meta-learner. Bad input is one `error:` line and exit 2."""
    from metallmix_wandb.knowledge.experiments import MetricNames
    from metallmix_wandb.knowledge.meta_learner.command import explain_after_sync
    from metallmix_wandb.knowledge.store import ExperimentStore, StoreError
    from metallmix_wandb.knowledge.sync import NothingToSyncError, sync

    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    try:
        source = _source(settings, offline_dir)
        total = source.count()
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    console = Console(stderr=True)
    try:
        with ExperimentStore.from_settings(settings) as store, Progress(
            TextColumn("reading runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        ) as progress:
            task = progress.add_task("runs", total=total)
            report = sync(source, store, MetricNames(target=settings.metric, train_time=settings.time_metric),
                          on_run=lambda: progress.advance(task))
    except (StoreError, NothingToSyncError) as exc:
        fail(str(exc))
    _print_report(console, report, show_skipped)
    if explain:
        explain_after_sync(console, settings, space_yaml)


def _source(settings: Settings, offline_dir: Path | None) -> RunSource:
    """Offline run folders when given, else the W&B API (which needs a key and a server)."""
    if offline_dir is not None:
        return run_source("offline")(offline_dir, project=settings.project, entity=settings.entity)
    if settings.offline:
        raise ValueError("WANDB_MODE is offline: pass --offline-dir with the offline run folders")
    import wandb

    try:
        api = wandb.Api(timeout=30)
    except Exception as exc:  # wandb raises UsageError / CommError without a key or a server
        raise ValueError(f"cannot reach the W&B API ({exc}); for offline runs pass --offline-dir") from exc
    return run_source("online")(api, project=settings.project, entity=settings.entity)


def _print_report(console: Console, report: SyncReport, show_skipped: bool) -> None:
    console.print(
        f"[bold]{report.source}[/] -> collection [cyan]{report.collection}[/]: read {report.read}, "
        f"synced {report.synced}, skipped {len(report.skipped)}; {report.total} experiments over "
        f"{report.datasets} datasets in the knowledge base ({report.seconds:.2f} s)"
        + (" [dim](vectors re-scaled)[/]" if report.rescaled else "")
    )
    if report.skipped:
        table = Table("skipped because", "runs", title=None if show_skipped else "skipped runs")
        for reason, n in sorted(report.skip_counts.items(), key=lambda kv: -kv[1]):
            table.add_row(reason, str(n))
        console.print(table)
    if show_skipped:
        for s in report.skipped:
            console.print(Text(f"  {s.path}: {s.reason} {s.detail}"))
