"""`report`: the evaluation as a W&B Report (online), or as JSON + PNG plots + an HTML page (offline).
The body is evaluate/report_command.py.
Tested through tests/evaluate/test_report_online.py (at the wire) and tests/evaluate/test_pipeline.py,
test_tune_mode.py (offline reports)."""

from __future__ import annotations

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

    Online it saves a W&B Report (wandb-workspaces) under --entity or your API key's default entity;
    its panels read the evaluation run (selected by run id). Offline it writes report_spec.json, one
    PNG per panel and index.html; when saving online fails it writes those too, prints why and exits 1.

    \b
    Examples:
      metallmix-wandb report --project nb201 --offline
      metallmix-wandb report --project medmnist-meta --entity my-team
    """
    from metallmix_wandb.evaluate.report_command import ReportError, ReportNotSaved, run_report

    try:
        run_report(project, entity, results, out, offline)
    except ReportNotSaved as exc:  # the offline report is written; exit 1 says the W&B Report is not
        fail(str(exc), 1)
    except ReportError as exc:
        fail(str(exc))
