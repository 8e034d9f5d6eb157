"""`evaluate`: leave-one-dataset-out evaluation of the recommenders against search and meta-learning
baselines, in lookup mode (every config's result is known) or train mode (every choice is trained)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.cli.options import knowledge_options, open_store

BASELINES = ("random", "bayes", "meta-learner", "nearest", "global-best", "zero-shot", "tune")
"""As core/evaluation.BASELINES (kept here so `--help` does not import numpy; a test checks they agree)."""


def _baselines(text: str) -> list[str]:
    names = _names(text)
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise click.BadParameter(f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)} or none",
                                 param_hint="--baselines")
    return names



def _names(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def _seeds(text: str) -> list[int]:
    """"3" -> seeds 0, 1, 2; "0,5,9" -> those seeds."""
    parts = _names(text)
    try:
        if len(parts) == 1 and "," not in text:
            return list(range(int(parts[0])))
        return [int(p) for p in parts]
    except ValueError:
        raise click.BadParameter(f"expected a count or a comma-separated list of integers, got {text!r}") from None


@contextlib.contextmanager
def _endpoints(settings: Any, models: list[str], no_llm: bool, judge_model: str | None,
               err: Any) -> Iterator[tuple[list[Any], bool]]:
    """The LLMs to evaluate: each model on the given endpoint, or the embedded demo model."""
    from metallmix_wandb.evaluate.pipeline import LLMEndpoint

    if no_llm:
        yield [], False
        return
    from metallmix_wandb.llm.client import LLMClient

    if settings.llm_base_url:
        judge = LLMClient(settings.llm_base_url, judge_model, settings.llm_api_key) if judge_model else None
        yield [LLMEndpoint(name=m, client=LLMClient(settings.llm_base_url, m, settings.llm_api_key),
                           judge_client=judge, judge_name=judge_model) for m in models or ["default"]], False
        return
    from metallmix_wandb.llm.server import LocalLLMServer

    if models:
        raise click.UsageError("--models names models on an endpoint: pass --base-url too (or set "
                               "METALLMIX_LLM_BASE_URL); without one the embedded demo model is evaluated")
    err.print("[yellow]No --base-url: evaluating the embedded SmolLM2-135M demo model (a tiny model that proves "
              "the plumbing; point --base-url at Ollama / LM Studio for real models).[/]")
    with LocalLLMServer(n_ctx=8192) as server:
        yield [LLMEndpoint(name=server.alias, client=LLMClient(server.base_url, server.alias))], True


@main.command()
@knowledge_options
@click.option("--lookup", "lookup", is_flag=False, flag_value="store", default=None, metavar="[TABLE]",
              help="Lookup mode. Alone: the knowledge base's runs are the table (they must cover every config "
              "of the space). With TABLE (CSV/JSONL/Parquet in the `import` format): score against it. "
              "Without --lookup: train mode (every choice is trained here through the Launch contract).")
@click.option("--method", "protocol", type=click.Choice(["recommend", "tune"]), default="recommend", show_default=True,
              help="recommend: every method chooses one config. tune: every method gets --budget trials (lookup "
              "mode; `tune` with and without the LLM against random search and BO at the same budget and seeds), "
              "reported as the best-so-far percentile after 1, 3, 5, 10 and --budget trials.")
@click.option("--train-timeout", type=click.IntRange(min=1), help="Train mode: seconds allowed per training run.")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sweep YAML of the space (default: the knowledge's space, else inferred from the runs).")
@click.option("--metric", help="Target metric, higher is better (default test/acc).")
@click.option("--models", help="Comma-separated LLM names on --base-url (default: the embedded demo model).")
@click.option("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama).")
@click.option("--api-key", envvar="METALLMIX_LLM_API_KEY", help="Endpoint key (env; never logged).")
@click.option("--judge-model", help="Judge LLM for every model (default: each model judges itself).")
@click.option("--baselines", default=",".join(BASELINES), show_default=True,
              help="Comma-separated baselines, or none (`tune` runs with --method tune only).")
@click.option("--no-llm", is_flag=True, help="Baselines only (no zero-shot or meta-informed LLM).")
@click.option("--budget", type=click.IntRange(min=1), default=20, show_default=True,
              help="Evaluations per random-search / BO run (and trials per tune with --method tune).")
@click.option("--seeds", default="3", show_default=True, help="Seeds for RS/BO: a count, or a list like 0,1,2.")
@click.option("--datasets", help="Comma-separated datasets to hold out (default: all).")
@click.option("--llm-datasets", type=click.IntRange(min=0), help="Run the LLM methods on the first N datasets only.")
@click.option("--judge-repeats", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--max-repairs", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--explanation-max-chars", type=click.IntRange(min=50),
              help="Cap the LLM's explanation (llama.cpp enforces it; default 400 for the embedded model).")
@click.option("--no-judge", is_flag=True, help="Skip the LLM judge.")
@click.option("--offline", is_flag=True, help="Log the evaluation run offline (also when WANDB_MODE=offline).")
@click.option("--no-log", is_flag=True, help="Do not log a W&B evaluation run.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results JSON here.")
@click.option("--per-dataset/--no-per-dataset", default=True, show_default=True, help="Print a table per dataset.")
def evaluate(**opts: Any) -> None:
    """Leave-one-dataset-out: hide each dataset's runs, let every method choose a config for it, score
    the choice (metric, regret, percentile among all configs, response and training time, judge
    scores, raw validity of LLM answers), and rank the methods.

    \b
    Examples:
      metallmix-wandb evaluate --project nb201 --lookup full_grid.parquet --metric val/acc --no-llm
      metallmix-wandb evaluate --project medmnist-meta --lookup --models gemma3:4b,qwen2.5-coder:7b \\
          --base-url http://localhost:11434/v1 --budget 20 --seeds 3
      metallmix-wandb evaluate --project nb201 --lookup full_grid.parquet --method tune --budget 10 --no-llm
    """
    from rich.console import Console

    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=opts["project"], entity=opts["entity"], qdrant_path=opts["qdrant_path"],
                             qdrant_url=opts["qdrant_url"], metric=opts["metric"], llm_base_url=opts["base_url"],
                             llm_api_key=opts["api_key"], wandb_mode="offline" if opts["offline"] else None)
    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    err, out = Console(stderr=True), Console()
    if not out.is_terminal:  # a pipe or a file: wide enough for the paper-style tables
        out = Console(width=200)
    report = _run(settings, opts, err)
    if opts["per_dataset"]:
        from metallmix_wandb.evaluate.console import print_per_dataset

        print_per_dataset(out, report)
    from metallmix_wandb.evaluate.console import print_summary

    print_summary(out, report)
    if report.curves:
        from metallmix_wandb.evaluate.console import print_curves

        print_curves(out, report)
    _deliver(report, settings, opts, err)


def _run(settings: Any, opts: dict[str, Any], err: Any) -> Any:
    from metallmix_wandb.knowledge.meta_learner.artifact import KnowledgeError, load_knowledge
    from metallmix_wandb.llm.server import LLMServerError
    from metallmix_wandb.evaluate.lookup_source import lookup_from_experiments, lookup_from_table
    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.knowledge.table_io import TableReadError
    from metallmix_wandb.evaluate.lookup import LookupTableError
    from metallmix_wandb.knowledge.meta_learner.features import MetaLearnerError, infer_space
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError
    from metallmix_wandb.evaluate.pipeline import EvaluateRequest, EvaluationError, evaluate
    from metallmix_wandb.recommend.pipeline import recommendable_space

    try:
        with open_store(settings) as store:
            experiments = list(store.all())
            if not experiments:
                fail(f"the knowledge base has no experiments for '{settings.project}': import or sync runs first")
            if opts["space"]:
                space = SearchSpace.from_yaml(opts["space"])
            else:
                try:
                    space = load_knowledge(settings.project, settings.cache_dir).space
                except KnowledgeError:
                    space = infer_space(experiments)
            space = recommendable_space(space)
            table, trainer = None, None
            if opts["lookup"] == "store":
                table = lookup_from_experiments(experiments, space, settings.metric)
            elif opts["lookup"]:
                table = lookup_from_table(Path(opts["lookup"]), space, settings.metric, settings.time_metric)
            else:
                from metallmix_wandb.evaluate.log import results_folder
                from metallmix_wandb.evaluate.launch_trainer import LaunchTrainer

                err.print("[yellow]Train mode: every chosen config (and every RS/BO trial) is trained here.[/]")
                trainer = LaunchTrainer(space, project=settings.project, metric=settings.metric,
                                        time_metric=settings.time_metric, timeout_s=opts["train_timeout"],
                                        folder=results_folder(settings.cache_dir, settings.project) / "train")
            if opts["protocol"] == "tune" and table is None:
                fail("--method tune runs in lookup mode only (each trial looks up the table): pass --lookup")
            req = EvaluateRequest(
                protocol=opts["protocol"], project=settings.project, metric=settings.metric, time_metric=settings.time_metric,
                budget=opts["budget"], seeds=_seeds(opts["seeds"]), baselines=_baselines(opts["baselines"]),
                datasets=_names(opts["datasets"]) or None, llm_datasets=opts["llm_datasets"],
                top_k=settings.top_k, judge=not opts["no_judge"], judge_repeats=opts["judge_repeats"],
                max_repairs=opts["max_repairs"], explanation_max_chars=opts["explanation_max_chars"],
                n_jobs=settings.n_jobs)
            with _endpoints(settings, _names(opts["models"]), opts["no_llm"], opts["judge_model"], err) as (llms, demo), \
                    err.status("evaluating") as status:
                if demo and req.explanation_max_chars is None:  # the tiny model rambles without a cap
                    req = req.model_copy(update={"explanation_max_chars": 400})
                return evaluate(experiments, store, space, table, req, llms, on_step=status.update, trainer=trainer)
    except (StoreError, SearchSpaceError, LookupTableError, TableReadError, EvaluationError, MetaLearnerError,
            LLMServerError) as exc:
        fail(str(exc))


def _deliver(report: Any, settings: Any, opts: dict[str, Any], err: Any) -> None:
    from metallmix_wandb.evaluate.log import log_evaluation, save_local

    path = save_local(report, settings.cache_dir, opts["out"])
    err.print(f"results: {path}")
    if opts["no_log"] or (settings.wandb_mode or "").lower() == "disabled":
        return
    try:
        logged = log_evaluation(report, project=settings.project, entity=settings.entity, offline=settings.offline)
    except Exception as exc:  # noqa: BLE001 - no key / no server: the local results are already saved
        err.print(f"[yellow]W&B evaluation run not logged: {exc}[/]")
        return
    report.wandb_run = logged.run_dir if logged.offline else logged.run_path
    save_local(report, settings.cache_dir, opts["out"])
    err.print(f"W&B evaluation run: {report.wandb_run}")
