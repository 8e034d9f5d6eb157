"""Options shared by every command that touches the knowledge base (tested through tests/cli/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from metallmix_wandb.cli.app import fail

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


def llm_timeout_option(f: F) -> F:
    """--llm-timeout: the deadline of one LLM call (connect, the whole reply, the retries)."""
    return click.option(
        "--llm-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
        help="Deadline of one LLM call: connecting, the whole reply and the retries (env METALLMIX_LLM_TIMEOUT; "
        "default 300, for a 4-8B model on a CPU; 600 for the embedded demo model).")(f)


def task_option(f: F) -> F:
    """--task: what the project trains, named in the LLM prompts (recommend and tune share it)."""
    return click.option(
        "--task", help="The project's task for the prompts, e.g. 'tabular churn prediction' (env "
        "METALLMIX_TASK; default: the sweep YAML's description, else neutral wording).")(f)


def dataset_options(meta_features_help: str) -> Callable[[F], F]:
    """--data/--meta-features/--modality: how a command is told about the new dataset."""

    def wrap(f: F) -> F:
        for opt in reversed([
            click.option("--data", type=click.Path(exists=True, path_type=Path),
                         help="The new dataset (.npz or class folders)."),
            click.option("--meta-features", "meta_json", type=click.Path(exists=True, path_type=Path),
                         help=meta_features_help),
            click.option("--dataset-artifact", metavar="REF",
                         help="The new dataset as a W&B artifact (wandb-artifact://ENTITY/PROJECT/NAME:ALIAS, "
                         "from `dataset log`): meta-features from its metadata, and what --queue sends."),
            click.option("--modality", help="MRI, CT, X-ray, US, DMS, OCT or other (default: guessed from the name)."),
        ]):
            f = opt(f)
        return f

    return wrap


def check_dataset_choice(opts: dict[str, Any]) -> None:
    """One source for the new dataset; and `--queue` never sends a local-only path to another machine.
    Checked first, so nothing is computed, logged or enqueued when it fails (exit 2)."""
    given = [flag for flag, key in (("--data", "data"), ("--meta-features", "meta_json"),
                                    ("--dataset-artifact", "dataset_artifact")) if opts.get(key)]
    if len(given) > 1:
        fail(f"give one of --data, --meta-features or --dataset-artifact, not {' and '.join(given)}")
    if opts.get("queue") and opts.get("data"):
        fail(f"--queue runs on another machine, which cannot read the local path {opts['data']}. Log the dataset "
             f"once with `metallmix-wandb dataset log {opts['data']} --name NAME` and pass --dataset-artifact "
             "wandb-artifact://ENTITY/PROJECT/NAME:latest instead of --data. Nothing was enqueued.")


def new_dataset_meta(opts: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The new dataset's meta-features: from --data, --meta-features, or the artifact's metadata (no
    download; `opts["dataset_artifact"]` becomes the reference pinned to the version read). A bad
    source raises ValueError."""
    if opts.get("dataset_artifact"):
        from metallmix_wandb.datasets.artifacts import resolve_dataset

        resolved = resolve_dataset(opts["dataset_artifact"], settings.entity, settings.project, opts.get("modality"))
        opts["dataset_artifact"] = resolved.reference
        return dict(resolved.meta_features)
    from metallmix_wandb.knowledge.similar import meta_features_for

    return dict(meta_features_for(opts.get("data"), opts.get("meta_json"), opts.get("modality")))


def open_store(settings: Settings) -> ExperimentStore:
    """The project's knowledge base; a missing project is a usage error (the command's usage, exit 2)."""
    from metallmix_wandb.knowledge.store import NO_PROJECT, ExperimentStore

    if not settings.project:
        raise click.UsageError(NO_PROJECT)
    return ExperimentStore.from_settings(settings)
