"""The body of `evaluate` (cli/evaluate_cmd.py only declares the options): settings -> knowledge base,
space and lookup table (or trainer) -> the LLM endpoints -> `evaluate` -> the printed tables, the
local results and the W&B evaluation run.

Every failure a user can fix raises `EvaluationError` with the message the command prints; option
values that do not parse raise click's usage errors. Tested through tests/evaluate/test_pipeline.py,
test_tune_mode.py and test_train_mode.py (all run the `evaluate` command).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import BaseModel, ConfigDict, SecretStr
from rich.console import Console

from metallmix_wandb.evaluate.methods import BASELINES
from metallmix_wandb.evaluate.request import EvalProtocol, EvaluateRequest, EvaluationError, LLMEndpoint

if TYPE_CHECKING:
    from metallmix_wandb.evaluate.lookup import LookupTable
    from metallmix_wandb.evaluate.records import EvaluationReport
    from metallmix_wandb.knowledge.store import ExperimentStore
    from metallmix_wandb.settings import Settings

OpenStore = Callable[["Settings"], AbstractContextManager["ExperimentStore"]]

EMBEDDED_EXPLANATION_CHARS = 400
"""The explanation cap for the embedded demo model when none is given: the tiny model rambles without one."""


class EvaluateOptions(BaseModel):
    """The `evaluate` options as given on the command line (None: not given)."""

    model_config = ConfigDict(extra="forbid")

    project: str | None
    entity: str | None
    qdrant_path: Path | None
    qdrant_url: str | None
    lookup: str | None
    protocol: EvalProtocol
    train_timeout: int | None
    space: Path | None
    metric: str | None
    models: str | None
    base_url: str | None
    api_key: SecretStr | None
    llm_timeout: float | None = None
    judge_model: str | None
    baselines: str
    no_llm: bool
    budget: int
    seeds: str
    datasets: str | None
    llm_datasets: int | None
    judge_repeats: int
    max_repairs: int
    explanation_max_chars: int | None
    no_judge: bool
    offline: bool
    no_log: bool
    out: Path | None
    per_dataset: bool


def parse_names(text: str | None) -> list[str]:
    """A comma-separated option as a list (blanks dropped)."""
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def parse_seeds(text: str) -> list[int]:
    """"3" -> seeds 0, 1, 2; "0,5,9" -> those seeds."""
    parts = parse_names(text)
    try:
        if len(parts) == 1 and "," not in text:
            return list(range(int(parts[0])))
        return [int(p) for p in parts]
    except ValueError:
        raise click.BadParameter(f"expected a count or a comma-separated list of integers, got {text!r}") from None


def parse_baselines(text: str) -> list[str]:
    """--baselines: registered baseline names, or none."""
    names = parse_names(text)
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise click.BadParameter(f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)} or none",
                                 param_hint="--baselines")
    return names


@contextlib.contextmanager
def llm_endpoints(settings: Settings, models: list[str], no_llm: bool, judge_model: str | None,
                  err: Console) -> Iterator[tuple[list[LLMEndpoint], bool]]:
    """The LLMs to evaluate and whether they are the embedded demo model: each model on the settings'
    endpoint, or the embedded model (started here, stopped on exit)."""
    from metallmix_wandb.llm.factory import open_endpoint

    if no_llm:
        yield [], False
        return
    if models and not settings.llm_base_url:
        raise click.UsageError("--models names models on an endpoint: pass --base-url too (or set "
                               "METALLMIX_LLM_BASE_URL); without one the embedded demo model is evaluated")

    def notice() -> None:
        err.print("[yellow]No --base-url: evaluating the embedded SmolLM2-135M demo model (a tiny model that proves "
                  "the plumbing; point --base-url at Ollama / LM Studio for real models).[/]")

    with open_endpoint(settings, notice) as endpoint:
        if endpoint.embedded:
            yield [LLMEndpoint(name=endpoint.default_model, client=endpoint.client())], True
            return
        judge = endpoint.client(judge_model) if judge_model else None
        yield [LLMEndpoint(name=m, client=endpoint.client(m), judge_client=judge, judge_name=judge_model)
               for m in models or ["default"]], False


def run_evaluate(opts: EvaluateOptions, open_store: OpenStore) -> None:
    """The whole command: evaluate, print the tables, save the results and log the evaluation run."""
    from metallmix_wandb.evaluate.console import print_curves, print_held_out, print_per_dataset, print_summary
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=opts.project, entity=opts.entity, qdrant_path=opts.qdrant_path,
                             qdrant_url=opts.qdrant_url, metric=opts.metric, llm_base_url=opts.base_url,
                             llm_api_key=opts.api_key, llm_timeout_s=opts.llm_timeout,
                             wandb_mode="offline" if opts.offline else None)
    if not settings.project:
        raise EvaluationError("no project: pass --project or set WANDB_PROJECT")
    err, out = Console(stderr=True), Console()
    if not out.is_terminal:  # a pipe or a file: wide enough for the paper-style tables
        out = Console(width=200)
    report = _evaluate(settings, opts, err, open_store)
    if opts.per_dataset:
        print_per_dataset(out, report)
    print_summary(out, report)
    if report.curves:
        print_curves(out, report)
    print_held_out(out, report)
    _deliver(report, settings, opts, err)


def _evaluate(settings: Settings, opts: EvaluateOptions, err: Console, open_store: OpenStore) -> EvaluationReport:
    from metallmix_wandb.evaluate.launch_trainer import LaunchTrainer
    from metallmix_wandb.evaluate.log import results_folder
    from metallmix_wandb.evaluate.lookup import LookupTableError
    from metallmix_wandb.evaluate.lookup_source import lookup_from_experiments, lookup_from_table
    from metallmix_wandb.evaluate.pipeline import evaluate
    from metallmix_wandb.knowledge.meta_learner.artifact import KnowledgeError, load_knowledge
    from metallmix_wandb.knowledge.meta_learner.features import MetaLearnerError, infer_space
    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.knowledge.table_io import TableReadError
    from metallmix_wandb.llm.server import LLMServerError
    from metallmix_wandb.recommend.pipeline import recommendable_space
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError

    assert settings.project is not None
    try:
        with open_store(settings) as store:
            experiments = list(store.all())
            if not experiments:
                raise EvaluationError(f"the knowledge base has no experiments for '{settings.project}': import or "
                                      "sync runs first")
            if opts.space:
                space = SearchSpace.from_yaml(opts.space)
            else:
                try:
                    space = load_knowledge(settings.project, settings.cache_dir).space
                except KnowledgeError:
                    space = infer_space(experiments)
            space = recommendable_space(space)
            table: LookupTable | None = None
            trainer: LaunchTrainer | None = None
            if opts.lookup == "store":
                table = lookup_from_experiments(experiments, space, settings.metric)
            elif opts.lookup:
                table = lookup_from_table(Path(opts.lookup), space, settings.metric, settings.time_metric)
            else:
                err.print("[yellow]Train mode: every chosen config (and every RS/BO trial) is trained here.[/]")
                trainer = LaunchTrainer(space, project=settings.project, metric=settings.metric,
                                        time_metric=settings.time_metric, timeout_s=opts.train_timeout,
                                        folder=results_folder(settings.cache_dir, settings.project) / "train")
            if opts.protocol == "tune" and table is None:
                raise EvaluationError("--method tune runs in lookup mode only (each trial looks up the table): "
                                      "pass --lookup")
            req = EvaluateRequest(
                protocol=opts.protocol, project=settings.project, metric=settings.metric,
                time_metric=settings.time_metric, budget=opts.budget, seeds=parse_seeds(opts.seeds),
                baselines=parse_baselines(opts.baselines), datasets=parse_names(opts.datasets) or None,
                llm_datasets=opts.llm_datasets, top_k=settings.top_k, judge=not opts.no_judge,
                judge_repeats=opts.judge_repeats, max_repairs=opts.max_repairs,
                explanation_max_chars=opts.explanation_max_chars, n_jobs=settings.n_jobs)
            endpoints = llm_endpoints(settings, parse_names(opts.models), opts.no_llm, opts.judge_model, err)
            with endpoints as (llms, demo), err.status("evaluating") as status:
                if demo and req.explanation_max_chars is None:
                    req = req.model_copy(update={"explanation_max_chars": EMBEDDED_EXPLANATION_CHARS})
                return evaluate(experiments, store, space, table, req, llms, on_step=status.update, trainer=trainer)
    except (StoreError, SearchSpaceError, LookupTableError, TableReadError, MetaLearnerError, LLMServerError) as exc:
        raise EvaluationError(str(exc)) from exc


def _deliver(report: EvaluationReport, settings: Settings, opts: EvaluateOptions, err: Console) -> None:
    """The local results (what `report` reads), then the W&B evaluation run unless --no-log."""
    from metallmix_wandb.evaluate.log import log_evaluation, save_local

    path = save_local(report, settings.cache_dir, opts.out)
    err.print(f"results: {path}")
    if opts.no_log or (settings.wandb_mode or "").lower() == "disabled":
        return
    try:
        logged = log_evaluation(report, project=report.project, entity=settings.entity, offline=settings.offline)
    except Exception as exc:  # noqa: BLE001 - no key / no server: the local results are already saved
        err.print(f"[yellow]W&B evaluation run not logged: {exc}[/]")
        return
    report.wandb_run = logged.run_dir if logged.offline else logged.run_path
    save_local(report, settings.cache_dir, opts.out)
    err.print(f"W&B evaluation run: {report.wandb_run}")
