"""`dataset log`: a dataset as a W&B artifact, so a queued run finds its data on any machine.
The body is datasets/artifacts.py; tested in tests/cli/test_dataset_cli.py."""

from __future__ import annotations

import json
from pathlib import Path

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.numbers import short


@main.group()
def dataset() -> None:
    """Datasets as W&B artifacts (type `dataset`, meta-features in the metadata)."""


@dataset.command("log")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", "-n", required=True, help="Artifact name (letters, digits, '-', '_', '.').")
@click.option("--project", "-p", help="W&B project (env WANDB_PROJECT / METALLMIX_PROJECT).")
@click.option("--entity", "-e", help="W&B entity (env WANDB_ENTITY; default: your default entity).")
@click.option("--modality", help="MRI, CT, X-ray, US, DMS, OCT or other (default: guessed from the name).")
@click.option("--description", help="Artifact description.")
@click.option("--offline", is_flag=True, help="Log into an offline run folder (upload later with `wandb sync`); "
              "also the case when WANDB_MODE=offline.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def log(path: Path, name: str, project: str | None, entity: str | None, modality: str | None,
        description: str | None, offline: bool, as_json: bool) -> None:
    """Log PATH (a MedMNIST .npz or a class-per-folder directory) as the dataset artifact NAME.

    Prints the reference to pass as `--dataset-artifact` to recommend/tune, or as `dataset` to the
    trainer: wandb-artifact://ENTITY/PROJECT/NAME:vN.

    \b
    Examples:
      metallmix-wandb dataset log data/breastmnist_28.npz --name breastmnist-28 --project medmnist-meta
      metallmix-wandb dataset log data/my_xrays/ --name my-xrays -p medmnist-meta --modality X-ray --offline
    """
    from metallmix_wandb.datasets.artifacts import log_dataset
    from metallmix_wandb.datasets.images import DatasetError
    from metallmix_wandb.datasets.reference import DatasetRefError
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity)
    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    try:
        logged = log_dataset(path, name, settings.project, settings.entity, modality=modality,
                             description=description, offline=offline)
    except DatasetRefError as exc:
        fail(str(exc))
    except DatasetError as exc:
        fail(str(exc), code=1)
    if as_json:
        click.echo(json.dumps(logged.model_dump(), indent=2))
        return
    meta = logged.metadata["meta_features"]
    click.echo(f"logged dataset artifact {logged.reference}")
    click.echo("meta-features: " + ", ".join(f"{k}={short(v) if isinstance(v, float) else v}" for k, v in meta.items()))
    if logged.offline:
        click.echo(f"offline: upload it with `wandb sync {logged.run_dir}`; then pass "
                   f"--dataset-artifact {logged.reference}")
    else:
        click.echo(f"use it: metallmix-wandb recommend ... --dataset-artifact {logged.reference} --queue QUEUE")
