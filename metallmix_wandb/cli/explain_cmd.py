"""`explain`: train the meta-learner, summarise it with TreeSHAP, store the knowledge artifact (body in
knowledge/meta_learner/command.py).
Tested in tests/cli/test_explain_cli.py.
"""

from __future__ import annotations

from pathlib import Path

import click

from metallmix_wandb.cli.app import main
from metallmix_wandb.cli.options import knowledge_options


@main.command()
@knowledge_options
@click.option("--space", "space_path", type=click.Path(path_type=Path),
              help="Sweep YAML whose `parameters` are the search space (default: inferred from the runs).")
@click.option("--metric", help="Target metric in each run's summary (default test/acc).")
@click.option("--no-wandb", is_flag=True, help="Only write the local cache; log no W&B artifact.")
@click.option("--digest/--no-digest", "show_digest", default=True, help="Print the plain-language digest.")
def explain(project: str | None, entity: str | None, qdrant_path: Path | None, qdrant_url: str | None,
            space_path: Path | None, metric: str | None, no_wandb: bool, show_digest: bool) -> None:
    """Fit the XGBoost meta-learner on the knowledge base and explain it with TreeSHAP.

    Writes the models, the SHAP summary, a digest, SHAP plots, the search space and the
    leave-one-dataset-out quality to a W&B artifact `metallmix-knowledge-PROJECT` (an offline run
    when W&B is offline) and to the local cache that `recommend` reads. `sync` runs this for you.

    \b
    Examples:
      metallmix-wandb explain --project medmnist-meta --space sweeps/meta_dataset.yaml
      metallmix-wandb explain --project medmnist-meta --qdrant-url http://qdrant:6333 --no-digest
    """
    from metallmix_wandb.knowledge.meta_learner.command import explain_command
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             metric=metric)
    explain_command(settings, space_path, log_to_wandb=not no_wandb, show_digest=show_digest)
