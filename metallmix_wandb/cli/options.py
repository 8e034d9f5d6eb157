"""Options shared by every command that touches the knowledge base (tested through tests/cli/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.store import ExperimentStore
    from metallmix_wandb.settings import Settings

F = Callable[..., Any]


def knowledge_options(f: F) -> F:
    """--project/--entity/--qdrant-path/--qdrant-url; env settings fill what is not given."""
    for opt in reversed([
        click.option("--project", "-p", help="W&B project (env WANDB_PROJECT / METALLMIX_PROJECT)."),
        click.option("--entity", "-e", help="W&B entity (env WANDB_ENTITY)."),
        click.option("--qdrant-path", type=click.Path(path_type=Path),
                     help="Embedded Qdrant folder (default: under the user cache dir)."),
        click.option("--qdrant-url", help="A Qdrant server instead of the embedded folder."),
    ]):
        f = opt(f)
    return f


def dataset_options(meta_features_help: str) -> Callable[[F], F]:
    """--data/--meta-features/--modality: how a command is told about the new dataset."""

    def wrap(f: F) -> F:
        for opt in reversed([
            click.option("--data", type=click.Path(exists=True, path_type=Path),
                         help="The new dataset (.npz or class folders)."),
            click.option("--meta-features", "meta_json", type=click.Path(exists=True, path_type=Path),
                         help=meta_features_help),
            click.option("--modality", help="MRI, CT, X-ray, US, DMS, OCT or other (default: guessed from the name)."),
        ]):
            f = opt(f)
        return f

    return wrap


def open_store(settings: Settings) -> ExperimentStore:
    """The project's knowledge base; a missing project is a usage error (the command's usage, exit 2)."""
    from metallmix_wandb.knowledge.store import NO_PROJECT, ExperimentStore

    if not settings.project:
        raise click.UsageError(NO_PROJECT)
    return ExperimentStore.from_settings(settings)
