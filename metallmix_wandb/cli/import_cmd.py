"""`import`: bring results from elsewhere (a CSV/JSONL/Parquet table) into W&B or the knowledge base (body
in knowledge/import_command.py).
Tested in tests/cli/test_import_cli.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from metallmix_wandb.cli.app import main
from metallmix_wandb.cli.options import knowledge_options


def _names(text: str | None) -> list[str]:
    """A comma-separated option -> its names."""
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
def import_table(table: Path, project: str | None, entity: str | None, qdrant_path: Path | None,
                 qdrant_url: str | None, offline: bool, space: Path | None, metric: str | None,
                 meta_columns: str | None, metric_columns: str | None, config_columns: str | None, direct: bool,
                 no_explain: bool, dry_run: bool) -> None:
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
    from metallmix_wandb.knowledge.import_command import import_command
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             metric=metric, wandb_mode="offline" if offline else None)
    sys.exit(import_command(settings, table, space_yaml=space, meta_columns=_names(meta_columns),
                            metric_columns=_names(metric_columns), config_columns=_names(config_columns),
                            direct=direct, explain=not no_explain, dry_run=dry_run))
