"""The body of `report` (cli/report_cmd.py only declares the options): the latest evaluation (or the
given ones, merged) as a W&B Report online, or as JSON + PNG plots + an HTML page offline.

A failure the user can fix raises `ReportError` with the message the command prints (exit 2). An online
report that cannot be saved (no key, no server, no evaluation run, a server error) still writes the
offline report, then raises `ReportNotSaved` (exit 1): one line with the reason and the offline page.
Tested at the wire in tests/evaluate/test_report_online.py, offline through tests/evaluate/test_pipeline.py
and tests/evaluate/test_tune_mode.py (all run the `report` command).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console


class ReportError(ValueError):
    """Nothing to report (no project, no results), or results that cannot be shown together."""


class ReportNotSaved(ReportError):
    """The W&B Report was not saved; the offline report was written instead (the message says where)."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one short line (SDK errors span lines: the URL, then the retried cause)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        loaded = [load_local(p) for p in paths]
        evaluation = merge_reports(loaded)
    except ValueError as exc:
        raise ReportError(f"not evaluation results that can be shown together: {exc}") from exc
    runs = [r.wandb_run for r in loaded if r.wandb_run]
    spec = build_spec(evaluation, entity=settings.entity, evaluation_runs=list(dict.fromkeys(runs)))
    err = Console(stderr=True)
    reason = None
    if not settings.offline:
        try:
            url = save_wandb_report(spec)
            err.print(f"W&B Report: {url}", soft_wrap=True, highlight=False)
            return
        except Exception as exc:  # noqa: BLE001 - no key, no server, a server error: offline instead
            reason = one_line(exc)
    folder = out or Path(settings.cache_dir) / "reports" / (settings.project or evaluation.project)
    page = write_offline(spec, folder)
    if reason is not None:
        raise ReportNotSaved(f"W&B Report not saved: {reason}; wrote the offline report instead: {page}")
    err.print(f"offline report: {page} (spec {folder / 'report_spec.json'})", soft_wrap=True, highlight=False)
