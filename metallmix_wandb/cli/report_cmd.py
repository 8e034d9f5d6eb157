"""`report`: the evaluation as a W&B Report (online), or as JSON + PNG plots + an HTML page (offline)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from metallmix_wandb.cli.app import fail, main



@main.command()
@click.option("--project", "-p", help="W&B project (env WANDB_PROJECT / METALLMIX_PROJECT).")
@click.option("--entity", "-e", help="W&B entity (env WANDB_ENTITY).")
@click.option("--results", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
              help="An evaluation JSON (default: the project's latest `evaluate` results). Repeat it to merge "
              "evaluations, e.g. the baselines on every dataset and the LLMs on a few.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the offline report (default: <cache>/reports/<project>).")
@click.option("--offline", is_flag=True, help="Write the offline report only (also when WANDB_MODE=offline).")
def report(project: str | None, entity: str | None, results: tuple[Path, ...], out: Path | None,
           offline: bool) -> None:
    """Compare the LLMs and baselines of the latest `evaluate`: percentile and metric of the chosen
    configs, response and training time, validity and judge scores.

    Online it saves a W&B Report (wandb-workspaces) whose panels read the evaluation run; offline
    (or when saving fails) it writes report_spec.json, one PNG per panel and index.html.

    \b
    Examples:
      metallmix-wandb report --project nb201 --offline
      metallmix-wandb report --project medmnist-meta --entity my-team
    """
    from rich.console import Console

    from metallmix_wandb.evaluate.log import load_local, results_folder
    from metallmix_wandb.evaluate.report_writer import save_wandb_report, write_offline
    from metallmix_wandb.evaluate.records import merge_reports
    from metallmix_wandb.evaluate.report_spec import build_spec
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, wandb_mode="offline" if offline else None)
    if not settings.project and not results:
        fail("no project: pass --project or set WANDB_PROJECT")
    paths = list(results) or [results_folder(settings.cache_dir, settings.project or "") / "latest.json"]
    if not paths[0].is_file():
        fail(f"no evaluation results at {paths[0]}: run `metallmix-wandb evaluate --project {settings.project}` first")
    try:
        evaluation = merge_reports([load_local(p) for p in paths])
    except ValueError as exc:
        fail(f"not evaluation results that can be shown together: {exc}")
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
