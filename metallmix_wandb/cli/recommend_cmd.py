"""`recommend` and `judge`: the product's main command and its re-scoring."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.cli.options import dataset_options, knowledge_options, open_store



class _NoLLMError(Exception):
    """Stands in for the LLM client's and server's errors when no LLM is used: never raised."""


@contextlib.contextmanager
def _llm_endpoint(settings: Any, use_llm: bool, err: Any) -> Iterator[tuple[Any, Any, str | None, str | None]]:
    """(llm, judge_llm, model, judge_model): the given endpoint, or the embedded demo server."""
    if not use_llm:
        yield None, None, None, None
        return
    from metallmix_wandb.llm.client import LLMClient

    if settings.llm_base_url:
        model = settings.llm_model or "default"
        judge_model = settings.judge_model or model
        llm = LLMClient(settings.llm_base_url, model, settings.llm_api_key)
        judge_llm = llm if judge_model == model else LLMClient(settings.llm_base_url, judge_model, settings.llm_api_key)
        yield llm, judge_llm, model, judge_model
        return
    from metallmix_wandb.llm.server import LocalLLMServer

    err.print("[yellow]No --base-url: starting the embedded SmolLM2-135M demo model on 127.0.0.1. It is a tiny "
              "model that proves the plumbing; point --base-url at Ollama / LM Studio with a 4-8B model for "
              "real advice.[/]")
    # 8k context: a meta-informed prompt with 8 experiments and the SHAP digest is ~3.5k tokens.
    with LocalLLMServer(n_ctx=8192) as server:
        llm = LLMClient(server.base_url, server.alias)
        yield llm, llm, server.alias, server.alias


@main.command()
@knowledge_options
@dataset_options("Meta-features as JSON, for a dataset that cannot be opened here.")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sweep YAML of the search space (default: the space stored with the knowledge).")
@click.option("--mode", type=click.Choice(["meta-informed", "zero-shot"]), default="meta-informed", show_default=True)
@click.option("-k", "--top-k", type=click.IntRange(min=1), help="Similar experiments in the prompt (default 8).")
@click.option("--candidates", type=click.IntRange(1, 10), default=1, show_default=True,
              help="Ask for up to K configs; the meta-learner picks among them.")
@click.option("--model", help="LLM name on the endpoint (env METALLMIX_LLM_MODEL).")
@click.option("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama). "
              "Default: the embedded demo model.")
@click.option("--api-key", envvar="METALLMIX_LLM_API_KEY", help="Endpoint key (env; never logged).")
@click.option("--judge-model", help="Judge LLM (default: the same model).")
@click.option("--judge-repeats", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--no-judge", is_flag=True, help="Skip the LLM judge.")
@click.option("--no-llm", is_flag=True, help="No LLM: the meta-learner's best config (the baseline path).")
@click.option("--fallback", type=click.Choice(["none", "meta-learner"]), default="none", show_default=True,
              help="What to return when the LLM gives no valid config.")
@click.option("--max-repairs", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--exclude-dataset", multiple=True,
              help="Leave this dataset's runs (path or short name) out of the evidence (repeatable); the "
              "meta-learner is unchanged: `evaluate` does full leave-one-dataset-out.")
@click.option("--queue", help="Enqueue the config on this W&B Launch queue.")
@click.option("--job", help="Launch job (default ENTITY/PROJECT/metallmix-train:latest).")
@click.option("--run-local", is_flag=True, help="Train the config now, through the Launch contract.")
@click.option("--no-log", is_flag=True, help="Do not log a W&B recommendation run.")
@click.option("--json", "as_json", is_flag=True, help="Print the recommendation as JSON.")
def recommend(**opts: Any) -> None:
    """Recommend a model and hyperparameters for a new dataset, without a search.

    \b
    Examples:
      metallmix-wandb recommend --project medmnist-meta --data new.npz --no-llm
      metallmix-wandb recommend --project medmnist-meta --data new.npz --model qwen2.5-coder:7b \\
          --base-url http://localhost:11434/v1 --candidates 3 --queue gpu-queue
    """
    from rich.console import Console

    from metallmix_wandb.knowledge.meta_learner.artifact import KnowledgeError, load_knowledge
    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError
    from metallmix_wandb.recommend.pipeline import RecommendError, RecommendRequest, recommend as run
    from metallmix_wandb.knowledge.similar import exclusion_keys, meta_features_for
    from metallmix_wandb.settings import load_settings

    err = Console(stderr=True)
    settings = load_settings(project=opts["project"], entity=opts["entity"], qdrant_path=opts["qdrant_path"],
                             qdrant_url=opts["qdrant_url"], top_k=opts["top_k"], llm_model=opts["model"],
                             llm_base_url=opts["base_url"], llm_api_key=opts["api_key"], judge_model=opts["judge_model"])
    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    try:
        meta = meta_features_for(opts["data"], opts["meta_json"], opts["modality"])
        knowledge = load_knowledge(settings.project, settings.cache_dir, settings.entity, online=not settings.offline)
        space = SearchSpace.from_yaml(opts["space"]) if opts["space"] else knowledge.space
    except (ValueError, KnowledgeError, SearchSpaceError) as exc:
        fail(str(exc))
    req = RecommendRequest(mode=opts["mode"], top_k=settings.top_k, candidates=opts["candidates"],
                           use_llm=not opts["no_llm"], fallback=opts["fallback"], judge=not opts["no_judge"],
                           judge_repeats=opts["judge_repeats"], max_repairs=opts["max_repairs"],
                           exclude_datasets=exclusion_keys(tuple(opts["exclude_dataset"])), metric=settings.metric,
                           time_metric=settings.time_metric)
    if req.use_llm and not settings.llm_base_url:  # the embedded demo model: keep its answer short
        req = req.model_copy(update={"explanation_max_chars": 400})
    if req.use_llm:
        from metallmix_wandb.llm.client import LLMError
        from metallmix_wandb.llm.server import LLMServerError
    else:  # --no-llm: no client or server, so neither module is imported (CLI start-up)
        LLMError = LLMServerError = _NoLLMError
    try:
        with open_store(settings) as store, _llm_endpoint(settings, req.use_llm, err) as (llm, jllm, m, jm), \
                err.status("recommending") as status:
            rec = run(meta, space, store, knowledge, req, llm, jllm, (m, jm), on_step=status.update)
    except LLMError as exc:
        if req.fallback != "meta-learner":
            fail(f"{exc}. Nothing was logged or enqueued (use --fallback meta-learner or --no-llm).")
        err.print(f"[yellow]LLM unavailable ({exc}); falling back to the meta-learner.[/]")
        with open_store(settings) as store:
            rec = run(meta, space, store, knowledge, req.model_copy(update={"use_llm": False}))
        rec.source = "meta-learner-fallback"
        rec.warnings.append(f"LLM unavailable: {exc}")
    except (StoreError, RecommendError, LLMServerError, KnowledgeError) as exc:
        fail(str(exc))
    from metallmix_wandb.recommend.output import deliver

    deliver(rec, space, settings, opts, err)


@main.command()
@click.argument("run_ref")
@knowledge_options
@click.option("--model", help="Judge LLM on the endpoint (default: the recommendation's judge/LLM model).")
@click.option("--base-url", help="OpenAI-compatible endpoint (default: the embedded demo model).")
@click.option("--api-key", envvar="METALLMIX_LLM_API_KEY", help="Endpoint key (env; never logged).")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sweep YAML (default: the space stored with the project's knowledge).")
def judge(run_ref: str, project: str | None, entity: str | None, qdrant_path: Path | None,
          qdrant_url: str | None, model: str | None, base_url: str | None, api_key: str | None, repeats: int,
          space: Path | None) -> None:
    """Re-judge a logged recommendation: RUN_REF is an offline run folder or ENTITY/PROJECT/RUN_ID.

    \b
    Example:
      metallmix-wandb judge wandb/offline-run-20261122_120000-abc123 --project medmnist-meta
    """
    from rich.console import Console

    from metallmix_wandb.knowledge.meta_learner.artifact import KnowledgeError, load_knowledge
    from metallmix_wandb.llm.client import LLMError
    from metallmix_wandb.recommend.log import read_recommendation
    from metallmix_wandb.llm.ask import judge as run_judge
    from metallmix_wandb.llm.output import CRITERIA, format_score_of
    from metallmix_wandb.recommend.prompts import judge_messages
    from metallmix_wandb.space.search_space import SearchSpace
    from metallmix_wandb.recommend.pipeline import recommendable_space
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             llm_model=model, llm_base_url=base_url, llm_api_key=api_key)
    try:
        rec = read_recommendation(run_ref)
        knowledge = load_knowledge(settings.project or "", settings.cache_dir, settings.entity)
        sp = recommendable_space(SearchSpace.from_yaml(space) if space else knowledge.space)
    except (OSError, ValueError, KnowledgeError) as exc:
        fail(str(exc))
    if not settings.llm_model and rec.judge_model and settings.llm_base_url:
        settings = settings.model_copy(update={"llm_model": rec.judge_model})
    err = Console(stderr=True)
    # The evidence is re-created from the record itself, so re-judging needs no Qdrant access.
    from metallmix_wandb.knowledge.records import Experiment, Neighbour

    neighbours = [Neighbour(distance=e.distance, experiment=Experiment(
        run_path=e.run_path, run_id=e.run_path.rsplit("/", 1)[-1], dataset=e.dataset, config=e.config,
        meta_features={}, summary={rec.metric: e.metric} if e.metric is not None else {},
        train_time_s=e.train_time_s)) for e in rec.evidence]
    messages = judge_messages(sp, rec.meta_features, [rec.config], rec.explanation, rec.raw_reply or
                              json.dumps({"configs": [rec.config], "explanation": rec.explanation}),
                              neighbours, knowledge.digest)
    code = format_score_of(rec.raw_reply, sp) if rec.raw_reply else None
    try:
        with _llm_endpoint(settings, True, err) as (llm, _, m, _jm):
            verdict = run_judge(llm, messages, repeats=repeats, format_score_code=code)
    except LLMError as exc:
        fail(str(exc))
    scores = {c: getattr(verdict.scores, c) for c in CRITERIA} | {"mean": verdict.scores.mean}
    click.echo(json.dumps({"run": run_ref, "judge_model": m, "scores": scores, "format_score_code": code,
                           "errors": verdict.errors}, indent=2))
