"""The body of `tune` (kept apart from the click declaration): settings -> parts -> run_tune -> output.
Tested in tests/cli/test_tune_cli.py.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from metallmix_wandb.cli.app import fail
from metallmix_wandb.numbers import fixed
from metallmix_wandb.safe_text import for_terminal
from metallmix_wandb.tune.records import Proposal, TuneOutcome, TuneTrial

if TYPE_CHECKING:
    from metallmix_wandb.llm.factory import Endpoint

EXIT_STOPPED = 130


def _parts(opts: dict[str, Any], err: Console) -> tuple[Any, ...]:
    from metallmix_wandb.knowledge.meta_learner.artifact import load_knowledge
    from metallmix_wandb.space.search_space import SearchSpace
    from metallmix_wandb.cli.options import new_dataset_meta
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=opts["project"], entity=opts["entity"], qdrant_path=opts["qdrant_path"],
                             qdrant_url=opts["qdrant_url"], llm_model=opts["model"], llm_base_url=opts["base_url"],
                             llm_api_key=opts["api_key"], llm_timeout_s=opts.get("llm_timeout"),
                             task=opts.get("task"))
    if not settings.project:
        raise ValueError("no project: pass --project or set WANDB_PROJECT")
    meta = new_dataset_meta(opts, settings)
    knowledge = load_knowledge(settings.project, settings.cache_dir, settings.entity, online=not settings.offline)
    space = SearchSpace.from_yaml(opts["space"])
    return settings, meta, knowledge, space


def _state(opts: dict[str, Any], settings: Any, meta: dict, space: Any, err: Console) -> tuple[Any, Path, bool]:
    from metallmix_wandb.tune.state import TuneState, load_state, state_key, state_path
    from metallmix_wandb.training.offline_sweep import new_id
    from metallmix_wandb.recommend.pipeline import recommendable_space

    tuned = recommendable_space(space).to_sweep_config()
    dataset = opts.get("dataset_artifact") or (str(Path(opts["data"]).resolve()) if opts["data"] else None)
    key = state_key(settings.project, dataset or meta, tuned, opts["objective"], opts["max_train_time"])
    path = state_path(settings.cache_dir, settings.project, key)
    old = load_state(path)
    if opts["resume"]:
        if old is None:
            raise ValueError(f"nothing to resume: no tune state at {path} (run without --resume first)")
        err.print(f"resuming {old.group}: {len(old.trials)} trial(s) done, status {old.status}")
        return old.model_copy(update={"budget": opts["budget"], "target": opts["target"]}), path, True
    if old is not None and old.status != "finished":
        err.print(f"[yellow]an unfinished tune of this data and space exists ({old.group}); starting a new one "
                  "(use --resume to continue it)[/]")
    tune_id = new_id()
    state = TuneState(key=key, tune_id=tune_id, group=f"tune-{tune_id}", project=settings.project,
                      entity=settings.entity, dataset=dataset, meta_features=meta, space=tuned,
                      objective=opts["objective"], max_train_time_s=opts["max_train_time"], budget=opts["budget"],
                      target=opts["target"])
    return state, path, False


def run_command(opts: dict[str, Any], err: Console, open_store: Callable[[Any], Any]) -> int:
    from metallmix_wandb.knowledge.meta_learner.artifact import KnowledgeError
    from metallmix_wandb.training.launch import LaunchError
    from metallmix_wandb.llm.server import LLMServerError
    from metallmix_wandb.knowledge.store import StoreError
    from metallmix_wandb.tune.trials import LocalTrialRunner, QueueTrialRunner
    from metallmix_wandb.space.search_space import SearchSpaceError
    from metallmix_wandb.tune.objective import TimePolicy
    from metallmix_wandb.recommend.pipeline import RecommendError, recommendable_space
    from metallmix_wandb.tune.pipeline import TuneRequest, first_trial, run_tune

    try:
        settings, meta, knowledge, space = _parts(opts, err)
        state, path, resumed = _state(opts, settings, meta, space, err)
    except (ValueError, KnowledgeError, SearchSpaceError) as exc:
        fail(str(exc))
    use_llm = not opts["no_llm"]
    req = TuneRequest(budget=opts["budget"], target=opts["target"], use_llm=use_llm, candidates=opts["candidates"],
                      policy=TimePolicy(objective=opts["objective"], max_train_time_s=opts["max_train_time"]),
                      top_k=min(settings.top_k, 4), metric=settings.metric, time_metric=settings.time_metric,
                      seed=opts["seed"], explanation_max_chars=None if settings.llm_base_url else 300,
                      task=settings.task)
    tuned = recommendable_space(space)
    common: dict[str, Any] = {
        "dataset": state.dataset, "project": settings.project, "group": state.group, "entity": settings.entity,
        "folder": settings.cache_dir / "tune" / "specs" / state.group, "metric": req.metric,
        "time_metric": req.time_metric, "timeout_s": opts["trial_timeout"], "name": state.group}
    runner = (QueueTrialRunner(tuned, queue=opts["queue"], job=opts["job"], **common) if opts["queue"]
              else LocalTrialRunner(tuned, **common))

    def on_proposal(n: int, p: Proposal) -> None:
        runner.set_proposal(n, p)
        for w in p.warnings:
            err.print(Text(f"warning: {for_terminal(w)}", style="yellow"))
        err.print(Text(f"trial {n}/{req.budget} ({p.source}): {_short(p.config, tuned)}"))

    def on_trial(t: TuneTrial) -> None:
        r = t.result
        what = f"{req.metric}={fixed(r.metric)}" if r.ok else f"crashed: {r.error}"
        err.print(Text(f"  -> {what}, {fixed(r.train_time_s, '.1f')} s training; best so far {fixed(t.best_so_far)}",
                       style="green" if r.ok else "red"))

    try:
        with _endpoint(settings, use_llm, err) as ep:
            llm = ep.client() if ep is not None else None
            model = ep.default_model if ep is not None else None
            state.llm_model = model
            first = None
            with open_store(settings) as store:
                if not state.trials:
                    with err.status("trial 1: recommend"):
                        first, state.evidence = first_trial(meta, space, store, knowledge, req, llm, model)
                    state.shap_digest = knowledge.digest
                base = list(store.all())
            logger, run_dir = _start_logger(settings, state, req, model, resumed, err)
            outcome = run_tune(meta=meta, space=space, knowledge=knowledge, base_experiments=base, state=state,
                               state_file=path, evaluate_config=runner, req=req, first=first, llm=llm, logger=logger,
                               on_proposal=on_proposal, on_trial=on_trial)
    except (StoreError, RecommendError, LLMServerError, KnowledgeError, LaunchError) as exc:
        fail(f"{exc} (finished trials are kept: continue with --resume)")
    show(outcome, tuned, req.metric, err, state.group, path, run_dir, opts["as_json"])
    if outcome.stop_reason == "interrupted":
        err.print(Text(f"stopped: {len(outcome.trials)} finished trial(s) are logged; continue with --resume",
                       style="yellow"))
        return EXIT_STOPPED
    return 0


def _endpoint(settings: Any, use_llm: bool, err: Console) -> contextlib.AbstractContextManager[Endpoint | None]:
    """The LLM the settings name, or the embedded demo model (saying so first); none with --no-llm."""
    from metallmix_wandb.llm.factory import EMBEDDED_NOTICE, open_endpoint

    if not use_llm:
        return contextlib.nullcontext()
    return open_endpoint(settings, lambda: err.print(EMBEDDED_NOTICE))


def _start_logger(settings: Any, state: Any, req: Any, model: str | None, resumed: bool,
                  err: Console) -> tuple[Any, str | None]:
    """The tune run; W&B failing to start one (no login, say) must not stop the tune itself."""
    from metallmix_wandb.tune.log import TuneRunLogger

    name = state.group + (" (resumed)" if resumed else "")
    logger = TuneRunLogger(settings.project, state.group, name, _run_config(state, req, model),
                           entity=settings.entity, metric=req.metric)
    try:
        info = logger.start()
    except Exception as exc:  # noqa: BLE001 - wandb.init raises many types
        err.print(Text(f"warning: the tune run is not logged to W&B ({type(exc).__name__}: {exc})", style="yellow"))
        return None, None
    state.tune_runs.append(info.run_path)
    return logger, info.run_dir


def _short(config: dict, space: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items() if k in space.tunable)


def _run_config(state: Any, req: Any, model: str | None) -> dict[str, Any]:
    return {"tune_id": state.tune_id, "dataset": state.dataset, "budget": req.budget, "target": req.target,
            "objective": req.policy.objective, "max_train_time_s": req.policy.max_train_time_s,
            "llm_model": model if req.use_llm else None, "metric": req.metric, "space": state.space,
            **{f"new_dataset/{k}": v for k, v in state.meta_features.items()}}


def show(outcome: TuneOutcome, space: Any, metric: str, err: Console, group: str, state_file: Path,
         run_dir: str | None, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"group": group, "state_file": str(state_file), "tune_run_dir": run_dir,
                               "outcome": outcome.model_dump(mode="json")}, indent=2, default=str))
        return
    out = Console()
    table = Table("#", "chosen by", "status", metric, "train s", "best so far", "curve", title=f"tune {group}")
    for t in outcome.trials:
        r = t.result
        curve = "crashed" if not r.ok else ("diverged" if t.curve.diverged else (t.curve.trend or "-"))
        table.add_row(str(t.number), t.proposal.source, r.status, fixed(r.metric), fixed(r.train_time_s, ".1f"),
                      fixed(t.best_so_far), curve)
    out.print(table)
    for t in outcome.trials:
        out.print(Text(f"  {t.number}: {_short(t.result.config, space)}", style="dim"))
    best = outcome.best_trial
    if best is not None:
        out.print(Text(f"final choice: trial {best.number}, {metric}={best.result.metric:.4f}: "
                       f"{_short(best.result.config, space)}", style="bold"))
    front = {t.number: t for t in outcome.trials}
    if outcome.pareto:
        out.print(Text("Pareto front (metric vs training time): " + "; ".join(
            f"trial {n} {metric}={front[n].result.metric:.4f} in {front[n].result.train_time_s:.1f} s"
            for n in outcome.pareto)))
    out.print(Text(f"stopped by: {outcome.stop_reason}; state: {state_file}; tune run: {run_dir}", style="dim"))
