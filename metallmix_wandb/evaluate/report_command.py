"""The body of `report` (cli/report_cmd.py only declares the options): the latest evaluation (or the
given ones, merged) as a W&B Report online, or as JSON + PNG plots + an HTML page offline.

A failure the user can fix raises `ReportError` with the message the command prints. Tested through
tests/evaluate/test_pipeline.py and tests/evaluate/test_tune_mode.py (both run the `report` command).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console


class ReportError(ValueError):
    """Nothing to report (no project, no results), or results that cannot be shown together."""


def run_report(project: str | None, entity: str | None, results: Sequence[Path], out: Path | None,
               offline: bool) -> None:
    """Build the report spec from the evaluation(s); save it to W&B, or write it offline when that fails."""
    from metallmix_wandb.evaluate.log import load_local, results_folder
    from metallmix_wandb.evaluate.records import merge_reports
    from metallmix_wandb.evaluate.report_spec import build_spec
    from metallmix_wandb.evaluate.report_writer import save_wandb_report, write_offline
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, wandb_mode="offline" if offline else None)
    if not settings.project and not results:
        raise ReportError("no project: pass --project or set WANDB_PROJECT")
    paths = list(results) or [results_folder(settings.cache_dir, settings.project or "") / "latest.json"]
    if not paths[0].is_file():
        raise ReportError(f"no evaluation results at {paths[0]}: run `metallmix-wandb evaluate --project "
                          f"{settings.project}` first")
    try:
        evaluation = merge_reports([load_local(p) for p in paths])
    except ValueError as exc:
        raise ReportError(f"not evaluation results that can be shown together: {exc}") from exc
    spec = build_spec(evaluation, entity=settings.entity)
    err = Console(stderr=True)
    if not settings.offline:
        try:
            url = save_wandb_report(spec)
            err.print(f"W&B Report: {url}")
            return
        except Exception as exc:  # noqa: BLE001 - no key / no server: fall back to the offline report
            err.print(f"[yellow]W&B Report not saved ({exc}); writing the offline report instead.[/]")
    folder = out or Path(settings.cache_dir) / "reports" / (settings.project or evaluation.project)
    page = write_offline(spec, folder)
    err.print(f"offline report: {page} (spec {folder / 'report_spec.json'})")
