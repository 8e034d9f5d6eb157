"""The body of `sync`: runs (W&B API or offline folders) -> the knowledge base, then `explain`.

Kept apart from the click declaration (cli/knowledge.py) so the CLI only parses options; the output
lines and exit codes are the command's contract. Tested through tests/cli/test_knowledge_cli.py and
tests/cli/test_explain_cli.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn)
from rich.table import Table
from rich.text import Text

from metallmix_wandb.cli.app import fail
from metallmix_wandb.knowledge import run_source

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.base import RunSource
    from metallmix_wandb.knowledge.experiments import MetricNames
    from metallmix_wandb.knowledge.sync import SyncReport
    from metallmix_wandb.settings import Settings


def sync_command(settings: Settings, *, offline_dir: Path | None, show_skipped: bool, explain: bool,
                 space_yaml: Path | None, full: bool = False, workers: int | None = None) -> None:
    """`sync`: read, convert and upsert every run (only those updated since the last sync, unless `full`)
    with a progress bar, report what was skipped and why, then (with `explain`) refit the meta-learner.
    Bad input is one `error:` line and exit 2; a network or auth failure is one line and exit 1, after
    storing what was read."""
    from metallmix_wandb.knowledge.base import SourceError
    from metallmix_wandb.knowledge.experiments import MetricNames
    from metallmix_wandb.knowledge.meta_learner.command import explain_after_sync
    from metallmix_wandb.knowledge.store import ExperimentStore, StoreError
    from metallmix_wandb.knowledge.sync import NothingToSyncError, SyncAborted, sync

    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    names = MetricNames(target=settings.metric, train_time=settings.time_metric)
    console = Console(stderr=True)
    try:
        source = _source(settings, offline_dir, names, workers)
        with ExperimentStore.from_settings(settings) as store, Progress(
            TextColumn("reading runs"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        ) as progress:
            task = progress.add_task("runs", total=None)
            report = sync(source, store, names, on_run=lambda: progress.advance(task), full=full,
                          on_total=lambda n: progress.update(task, total=n))
    except (FileNotFoundError, ValueError, StoreError, NothingToSyncError) as exc:
        fail(str(exc))
    except SyncAborted as exc:
        fail(f"{exc} (kept the {exc.report.synced} usable runs read before it, {exc.report.total} in the "
             "knowledge base; run `sync` again for the rest)", code=1)
    except SourceError as exc:
        fail(str(exc), code=1)
    _print_report(console, report, show_skipped)
    if explain:
        explain_after_sync(console, settings, space_yaml)


class RateColumn(ProgressColumn):
    """Runs per second so far (rich's own speed columns are for bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} runs/s", style="progress.data.speed")


def _source(settings: Settings, offline_dir: Path | None, names: MetricNames,
            workers: int | None) -> RunSource:
    """Offline run folders when given, else the W&B API (which needs a key and a server)."""
    from metallmix_wandb.knowledge.base import SourceError

    if offline_dir is not None:
        return run_source("offline")(offline_dir, project=settings.project, entity=settings.entity)
    if settings.offline:
        raise ValueError("WANDB_MODE is offline: pass --offline-dir with the offline run folders")
    import wandb
    from wandb.errors import CommError

    try:
        api = wandb.Api(timeout=30)
    except CommError as exc:  # AuthenticationError is one: a refused key, or no server answering
        raise SourceError(f"cannot reach the W&B API: {' '.join(str(exc).split())[:300]}") from exc
    except Exception as exc:  # wandb raises UsageError without a key
        raise ValueError(f"cannot use the W&B API ({exc}); for offline runs pass --offline-dir") from exc
    extra = {"workers": workers} if workers else {}
    return run_source("online")(api, project=settings.project, entity=settings.entity, names=names, **extra)


def _print_report(console: Console, report: SyncReport, show_skipped: bool) -> None:
    console.print(
        f"[bold]{report.source}[/] -> collection [cyan]{report.collection}[/]: read {report.read}, "
        f"synced {report.synced}, skipped {len(report.skipped)}"
        + (f", removed {report.deleted} deleted in W&B" if report.deleted else "")
        + f"; {report.total} experiments over "
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
