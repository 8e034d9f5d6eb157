"""The body of `sweep`: a W&B sweep YAML run online (`wandb sweep` + `wandb agent`) or offline here.

Kept apart from the click declaration (cli/train_cmds.py) so the CLI only parses options; the output
lines and exit codes are the command's contract. Tested through tests/training/test_offline_sweep.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from metallmix_wandb.cli.app import fail

if TYPE_CHECKING:
    from metallmix_wandb.training.offline_sweep import SweepReport, Trial

SHOWN_KEYS = ("base_model", "fine_tuning", "optimizer", "learning_rate", "batch_size")
"""The config keys a finished trial's line shows."""


def sweep_command(sweep_yaml: Path, *, offline: bool, count: int | None, project: str | None, entity: str | None,
                  sets: tuple[str, ...], dataset: Path | None, seed: int | None, run_agent: bool) -> int:
    """`sweep`: returns the exit code (online: the agent's; offline: 1 only when every trial failed);
    a bad YAML or --set is one `error:` line and exit 2."""
    from metallmix_wandb.training.offline_sweep import SweepError, online_sweep, parse_set

    try:
        overrides = parse_set(sets)
        if dataset is not None:
            overrides.setdefault("dataset", str(dataset.resolve()))
        if not offline:
            return online_sweep(sweep_yaml, project=project, entity=entity, count=count,
                                overrides=overrides, run_agent=run_agent, echo=click.echo)
        report = _offline(sweep_yaml, count, project, overrides, seed)
    except SweepError as exc:
        fail(str(exc))
    return 1 if report.failed and len(report.failed) == len(report.trials) else 0


def _offline(sweep_yaml: Path, count: int | None, project: str | None, overrides: dict[str, Any],
             seed: int | None) -> SweepReport:
    """Run the trials with a live progress bar; one line per finished trial, then the summary."""
    from metallmix_wandb.training.offline_sweep import load_sweep_config, run_offline_sweep, trial_budget

    console = Console(stderr=True)
    total = trial_budget(load_sweep_config(sweep_yaml, overrides), count)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[status]}"), console=console) as progress:
        task = progress.add_task(f"sweep {sweep_yaml.name}", total=total, status="")

        def on_update(t: Trial) -> None:
            last = t.history[-1] if t.history else {}
            status = f"trial {t.index + 1} {t.config.get('base_model', '')} {t.state}"
            if "val/acc" in last:
                status += f" epoch {int(last.get('epoch', 0)) + 1} val/acc={last['val/acc']:.3f}"
            if t.state in ("finished", "failed", "crashed"):
                progress.advance(task)
                mark = "[green]ok[/]" if t.state == "finished" else f"[red]{t.state}[/]"
                acc = t.summary.get("test/acc")
                detail = f"test/acc={acc:.4f}" if isinstance(acc, float) else (t.error or "").strip()[-300:]
                progress.console.print(f"{mark} {t.run_id} {escape(_shown(t.config))} {escape(detail)}"
                                       + (" (stopped early)" if t.stopped_early else ""), soft_wrap=True)
            progress.update(task, status=escape(status))

        report = run_offline_sweep(sweep_yaml, count=count, project=project, overrides=overrides, seed=seed,
                                   on_update=on_update)
    ok = len(report.trials) - len(report.failed)
    console.print(f"{ok}/{len(report.trials)} trials finished; runs in {escape(report.wandb_dir)} "
                  f"(group {report.group}, project {escape(report.project or 'uncategorized')})",
                  soft_wrap=True)
    for t in report.failed:
        console.print(f"[red]{t.state}[/] {t.run_id} exit {t.exit_code}: log {escape(str(t.log_path))}",
                      soft_wrap=True)
    return report


def _shown(config: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={config[k]}" for k in SHOWN_KEYS if k in config)
