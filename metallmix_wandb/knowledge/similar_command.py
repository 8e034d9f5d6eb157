"""The body of `similar`: a new dataset's meta-features -> the k nearest experiments, as a table or JSON.

Kept apart from the click declaration (cli/knowledge.py) so the CLI only parses options; the output
lines and exit codes are the command's contract. Tested through tests/cli/test_knowledge_cli.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from metallmix_wandb.cli.app import fail
from metallmix_wandb.numbers import fixed, short
from metallmix_wandb.safe_text import for_terminal

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.records import MetaValue, Neighbour
    from metallmix_wandb.settings import Settings


def similar_command(settings: Settings, *, data: Path | None, meta_json: Path | None, modality: str | None,
                    exclude_datasets: tuple[str, ...], as_json: bool) -> None:
    """`similar`: bad input is one `error:` line and exit 2; no project is a usage error."""
    from metallmix_wandb.knowledge.similar import exclusion_keys, meta_features_for, similar
    from metallmix_wandb.knowledge.store import NO_PROJECT, ExperimentStore, StoreError

    try:
        meta = meta_features_for(data, meta_json, modality)
    except ValueError as exc:  # DatasetError and MetaFeatureError are ValueErrors with clear messages
        fail(str(exc))
    if not settings.project:
        raise click.UsageError(NO_PROJECT)
    try:
        with ExperimentStore.from_settings(settings) as store:
            hits = similar(store, meta, settings.top_k, exclusion_keys(exclude_datasets))
    except StoreError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"meta_features": meta, "neighbours": [
            {"distance": h.distance, **h.experiment.model_dump(mode="json", exclude={"history"})} for h in hits
        ]}, indent=2))
        return
    _print_neighbours(meta, hits, settings.metric)


def _print_neighbours(meta: dict[str, MetaValue], hits: Sequence[Neighbour], metric: str) -> None:
    console = Console()
    # Run and user text is data: Text() keeps "[bold]..." from being read as markup, for_terminal strips
    # escape sequences and bidi controls.
    console.print(Text(for_terminal("meta-features: " + ", ".join(f"{k}={short(v)}" for k, v in meta.items()))))
    # Keys with one value across all hits go in the caption once; the rows show what differs.
    keys = sorted({k for h in hits for k in h.experiment.config})
    varying = [k for k in keys if len({repr(h.experiment.config.get(k)) for h in hits}) > 1]
    same = {k: hits[0].experiment.config.get(k) for k in keys if k not in varying} if hits else {}
    table = Table("#", "dataset", "distance", metric, "config", title=f"{len(hits)} nearest experiments",
                  caption=Text(for_terminal("all: " + ", ".join(f"{k}={v}" for k, v in same.items())))
                  if same else None)
    for i, h in enumerate(hits, 1):
        e = h.experiment
        cfg = ", ".join(f"{k}={e.config.get(k)}" for k in varying)
        table.add_row(str(i), Text(for_terminal(e.dataset_name or e.dataset)), f"{h.distance:.3f}",
                      fixed(e.summary.get(metric)), Text(for_terminal(cfg)))
    console.print(table)
