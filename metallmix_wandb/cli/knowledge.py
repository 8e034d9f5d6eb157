"""`sync` and `similar`: build and query the experiment knowledge base (bodies in knowledge/*_command.py).
Tested in tests/cli/test_knowledge_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import click

from metallmix_wandb.cli.app import main
from metallmix_wandb.cli.options import knowledge_options


@main.command()
@knowledge_options
@click.option("--offline-dir", type=click.Path(path_type=Path),
              help="Read offline run folders (a `wandb/` dir, or one run folder) instead of the W&B API.")
@click.option("--metric", help="Target metric in each run's summary (default test/acc).")
@click.option("--show-skipped", is_flag=True, help="List every skipped run with its reason.")
@click.option("--full", is_flag=True,
              help="Re-read every W&B run, not only those updated since the last sync, and remove the "
                   "runs deleted in W&B from the knowledge base.")
@click.option("--workers", type=click.IntRange(1, 64),
              help="W&B history requests in flight at once (default 16; fewer if W&B answers 429).")
@click.option("--no-explain", is_flag=True, help="Skip the meta-learner + SHAP knowledge (see `explain`).")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The sweep YAML whose parameters the meta-learner uses (default: inferred from the runs).")
def sync(project: str | None, entity: str | None, qdrant_path: Path | None, qdrant_url: str | None,
         offline_dir: Path | None, metric: str | None, show_skipped: bool, full: bool, workers: int | None,
         no_explain: bool, space: Path | None) -> None:
    """Read runs (W&B API, or offline folders) into the Qdrant knowledge base.

    Crashed, killed, NaN and metric-less runs stay out, each with a reason. Re-running updates
    points in place: it never duplicates. From W&B, a re-sync reads only the runs created or
    updated since the last one (--full: all, and drops deleted runs); a network or auth error
    stops it with exit 1, keeping what was read. Then, unless --no-explain, runs `explain`: the
    meta-learner, its SHAP summary and the `metallmix-knowledge-PROJECT` artifact.

    \b
    Examples:
      metallmix-wandb sync --project medmnist-meta --offline-dir wandb
      metallmix-wandb sync --project medmnist-meta --entity my-team --qdrant-url http://qdrant:6333
    """
    from metallmix_wandb.knowledge.sync_command import sync_command
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             metric=metric)
    sync_command(settings, offline_dir=offline_dir, show_skipped=show_skipped, explain=not no_explain,
                 space_yaml=space, full=full, workers=workers)


@main.command()
@knowledge_options
@click.option("--data", type=click.Path(exists=True, path_type=Path),
              help="The new dataset: a MedMNIST-format .npz or a class-per-folder directory.")
@click.option("--meta-features", "meta_json", type=click.Path(exists=True, path_type=Path),
              help="Meta-features as a JSON object, for a dataset that cannot be opened here.")
@click.option("--modality", help="MRI, CT, X-ray, US, DMS, OCT or other (default: guessed from the name).")
@click.option("-k", "--top-k", type=click.IntRange(min=1), help="How many experiments (default 8).")
@click.option("--exclude-dataset", multiple=True, help="Leave out the runs of this dataset (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def similar(project: str | None, entity: str | None, qdrant_path: Path | None, qdrant_url: str | None,
            data: Path | None, meta_json: Path | None, modality: str | None, top_k: int | None,
            exclude_dataset: tuple[str, ...], as_json: bool) -> None:
    """Print the k experiments whose datasets are most like a new one.

    \b
    Examples:
      metallmix-wandb similar --project medmnist-meta --data new.npz -k 5
      metallmix-wandb similar --project medmnist-meta --meta-features hospital_mri.json --json
    """
    from metallmix_wandb.knowledge.similar_command import similar_command
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             top_k=top_k)
    similar_command(settings, data=data, meta_json=meta_json, modality=modality, exclude_datasets=exclude_dataset,
                    as_json=as_json)
