"""`sync` and `similar`: build and query the experiment knowledge base."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.cli.options import knowledge_options, open_store



@main.command()
@knowledge_options
@click.option("--offline-dir", type=click.Path(path_type=Path),
              help="Read offline run folders (a `wandb/` dir, or one run folder) instead of the W&B API.")
@click.option("--metric", help="Target metric in each run's summary (default test/acc).")
@click.option("--show-skipped", is_flag=True, help="List every skipped run with its reason.")
@click.option("--no-explain", is_flag=True, help="Skip the meta-learner + SHAP knowledge (see `explain`).")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The sweep YAML whose parameters the meta-learner uses (default: inferred from the runs).")
def sync(project: str | None, entity: str | None, qdrant_path: Path | None, qdrant_url: str | None,
         offline_dir: Path | None, metric: str | None, show_skipped: bool, no_explain: bool,
         space: Path | None) -> None:
    """Read runs (W&B API, or offline folders) into the Qdrant knowledge base.

    Crashed, killed, NaN and metric-less runs stay out, each with a reason. Re-running updates
    points in place: it never duplicates. Then, unless --no-explain, runs `explain`: the
    meta-learner, its SHAP summary and the `metallmix-knowledge-PROJECT` artifact.

    \b
    Examples:
      metallmix-wandb sync --project medmnist-meta --offline-dir wandb
      metallmix-wandb sync --project medmnist-meta --entity my-team --qdrant-url http://qdrant:6333
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.knowledge.experiments import MetricNames
    from metallmix_wandb.knowledge.sync import NothingToSyncError
    from metallmix_wandb.knowledge.sync import sync as run_sync
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             metric=metric)
    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    try:
        source = _source(settings, offline_dir)
        total = source.count()
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    console = Console(stderr=True)
    try:
        with open_store(settings) as store, Progress(
            TextColumn("reading runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        ) as progress:
            task = progress.add_task("runs", total=total)
            report = run_sync(source, store, MetricNames(target=settings.metric, train_time=settings.time_metric),
                              on_run=lambda: progress.advance(task))
    except (StoreError, NothingToSyncError) as exc:
        fail(str(exc))
    _print_report(console, report, show_skipped)
    if not no_explain:
        _explain_after_sync(console, settings, space)


def _explain_after_sync(console, settings, space_yaml: Path | None) -> None:  # noqa: ANN001
    """A sync that worked stays a success when the runs cannot train a meta-learner yet: say why."""
    from rich.text import Text

    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.cli.explain_cmd import print_knowledge, run_explain
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError
    from metallmix_wandb.knowledge.meta_learner.explain import MetaLearnerError

    try:
        space = SearchSpace.from_yaml(space_yaml) if space_yaml else None
    except SearchSpaceError as exc:
        fail(str(exc))
    try:
        with open_store(settings) as store:
            knowledge = run_explain(store, settings, space=space)
    except (StoreError, MetaLearnerError) as exc:
        console.print(Text.assemble(("meta-learner knowledge not updated: ", "yellow"), str(exc)))
        return
    print_knowledge(knowledge)


def _source(settings, offline_dir: Path | None):  # noqa: ANN001, ANN202
    if offline_dir is not None:
        from metallmix_wandb.knowledge.runs_offline import OfflineRunSource

        return OfflineRunSource(offline_dir, project=settings.project, entity=settings.entity)
    if settings.offline:
        raise ValueError("WANDB_MODE is offline: pass --offline-dir with the offline run folders")
    import wandb

    from metallmix_wandb.knowledge.runs_online import OnlineRunSource

    try:
        api = wandb.Api(timeout=30)
    except Exception as exc:  # wandb raises UsageError / CommError without a key or a server
        raise ValueError(f"cannot reach the W&B API ({exc}); for offline runs pass --offline-dir") from exc
    return OnlineRunSource(api, project=settings.project, entity=settings.entity)


def _print_report(console, report, show_skipped: bool) -> None:  # noqa: ANN001
    from rich.table import Table
    from rich.text import Text

    console.print(
        f"[bold]{report.source}[/] -> collection [cyan]{report.collection}[/]: read {report.read}, "
        f"synced {report.synced}, skipped {len(report.skipped)}; {report.total} experiments over "
        f"{report.datasets} datasets in the knowledge base ({report.seconds:.2f} s)"
        + (" [dim](vectors re-scaled)[/]" if report.rescaled else "")
    )
    if report.skipped:
        table = Table("skipped because", "runs", title=None if show_skipped else "skipped runs")
        for reason, n in sorted(report.skip_counts.items(), key=lambda kv: -kv[1]):
            table.add_row(reason, str(n))
        console.print(table)
    if show_skipped:
        for s in report.skipped:
            console.print(Text(f"  {s.path}: {s.reason} {s.detail}"))


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
    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.knowledge.similar import exclusion_keys, meta_features_for
    from metallmix_wandb.knowledge.similar import similar as run_similar
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             top_k=top_k)
    try:
        meta = meta_features_for(data, meta_json, modality)
    except ValueError as exc:  # DatasetError and MetaFeatureError are ValueErrors with clear messages
        fail(str(exc))
    try:
        with open_store(settings) as store:
            hits = run_similar(store, meta, settings.top_k, exclusion_keys(exclude_dataset))
    except StoreError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"meta_features": meta, "neighbours": [
            {"distance": h.distance, **h.experiment.model_dump(mode="json", exclude={"history"})} for h in hits
        ]}, indent=2))
        return
    _print_neighbours(meta, hits, settings.metric)


def _print_neighbours(meta, hits, metric: str) -> None:  # noqa: ANN001
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    console.print("meta-features: " + ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in meta.items()))
    # Keys with one value across all hits go in the caption once; the rows show what differs.
    keys = sorted({k for h in hits for k in h.experiment.config})
    varying = [k for k in keys if len({repr(h.experiment.config.get(k)) for h in hits}) > 1]
    same = {k: hits[0].experiment.config.get(k) for k in keys if k not in varying} if hits else {}
    table = Table("#", "dataset", "distance", metric, "config", title=f"{len(hits)} nearest experiments",
                  caption=Text("all: " + ", ".join(f"{k}={v}" for k, v in same.items())) if same else None)
    for i, h in enumerate(hits, 1):
        e = h.experiment
        cfg = ", ".join(f"{k}={e.config.get(k)}" for k in varying)
        score = e.summary.get(metric)
        # Run text is data: Text() keeps a run named "[bold]..." from being read as markup.
        table.add_row(str(i), Text(e.dataset_name or e.dataset), f"{h.distance:.3f}",
                      "-" if score is None else f"{score:.4f}", Text(cfg))
    console.print(table)
