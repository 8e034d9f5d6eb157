"""`explain`: train the meta-learner, summarise it with TreeSHAP, store the knowledge artifact."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.cli.options import knowledge_options, open_store



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
    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError
    from metallmix_wandb.knowledge.meta_learner.explain import MetaLearnerError
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             metric=metric)
    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    space = None
    if space_path is not None:
        try:
            space = SearchSpace.from_yaml(space_path)
        except SearchSpaceError as exc:
            fail(str(exc))
    try:
        with open_store(settings) as store:
            report = run_explain(store, settings, space, log_to_wandb=not no_wandb)
    except (StoreError, MetaLearnerError) as exc:
        fail(str(exc))
    print_knowledge(report, show_digest=show_digest)


def run_explain(store: Any, settings: Any, space: Any = None, log_to_wandb: bool = True) -> Any:
    """The pipeline behind a rich status line (shared with `sync`)."""
    from rich.console import Console

    from metallmix_wandb.knowledge.meta_learner.explain import explain as explain_pipeline

    with Console(stderr=True).status("training the meta-learner (with leave-one-dataset-out) and SHAP"):
        return explain_pipeline(store, settings, space=space, log_to_wandb=log_to_wandb)


def print_knowledge(report: Any, show_digest: bool = False) -> None:
    """The quality line and where the knowledge went (stderr), then the digest (stdout)."""
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.text import Text

    err = Console(stderr=True, soft_wrap=True)  # paths stay on one line, copy-pasteable
    err.print(Text(f"meta-learner on {report.runs} runs / {report.datasets} datasets: {report.quality_line}"))
    err.print(Text(f"knowledge cached in {report.cache_dir}"))
    if report.wandb_error:
        err.print(Text(f"W&B artifact not logged: {report.wandb_error}", style="yellow"))
    elif report.wandb_run:
        where = "offline run" if report.wandb_mode == "offline" else "run"
        err.print(Text(f"artifact {report.artifact} logged from {where} {report.wandb_run}"))
    if show_digest:
        Console().print(Markdown(report.digest))
