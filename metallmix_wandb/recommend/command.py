"""The body of `recommend` (kept apart from the click declaration): settings -> knowledge and space ->
LLM clients -> pipeline -> log, launch and show (recommend/output.py).

Tested through the command (tests/cli/test_recommend_cli.py, tests/recommend/test_local_llm.py).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metallmix_wandb.cli.app import fail

if TYPE_CHECKING:
    from rich.console import Console

    from metallmix_wandb.llm.client import LLMClient
    from metallmix_wandb.llm.server import LocalLLMServer
    from metallmix_wandb.settings import Settings


@dataclass(frozen=True)
class LLMClients:
    """The recommender and the judge (the same client when the models are), with their model names."""

    llm: LLMClient | None = None
    judge: LLMClient | None = None
    model: str | None = None
    judge_model: str | None = None
    server: LocalLLMServer | None = None


@contextlib.contextmanager
def llm_clients(settings: Settings, use_llm: bool, err: Console,
                launched: LocalLLMServer | None = None) -> Iterator[LLMClients]:
    """No clients with `--no-llm`; else the settings' endpoint (the judge model may differ), or the
    embedded demo server (`launched`: already loading), whose one model also judges."""
    if not use_llm:
        yield LLMClients()
        return
    from metallmix_wandb.llm.factory import EMBEDDED_NOTICE, open_endpoint

    with open_endpoint(settings, lambda: err.print(EMBEDDED_NOTICE), launched) as endpoint:
        model = endpoint.default_model
        judge_model = model if endpoint.embedded else settings.judge_model or model
        llm = endpoint.client()
        judge = llm if judge_model == model else endpoint.client(judge_model)
        yield LLMClients(llm, judge, model, judge_model, endpoint.server)


class StderrConsole:
    """rich's stderr Console, made on first use: rich takes ~50 ms to import, and a `recommend --json`
    that goes well writes nothing to stderr."""

    def __init__(self) -> None:
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        return getattr(self._console, name)


@contextlib.contextmanager
def progress(err: Console, message: str) -> Iterator[Callable[[str], None]]:
    """rich's spinner and its step updates at a terminal; elsewhere (a pipe, a file) it would draw
    nothing, so none is made and rich's live display is not imported."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    with err.status(message) as status:
        yield status.update


def run_recommend(opts: dict[str, Any], open_store: Callable[[Any], Any]) -> None:
    """`recommend` with the click options `opts`; `open_store(settings)` opens the project's collection."""
    from metallmix_wandb.startup import long_lived_imports

    with long_lived_imports():  # the collector kept off what these imports make (startup.py: 0.3 s)
        from metallmix_wandb.cli.options import new_dataset_meta
        from metallmix_wandb.knowledge.meta_learner.artifact import KnowledgeError, load_knowledge
        from metallmix_wandb.knowledge.meta_learner.loader import import_xgboost
        from metallmix_wandb.knowledge.similar import exclusion_keys
        from metallmix_wandb.knowledge.store import StoreError
        from metallmix_wandb.recommend.output import deliver
        from metallmix_wandb.recommend.pipeline import (
            RecommendError, RecommendRequest, for_embedded_model, recommend, unseen_parameters,
        )
        from metallmix_wandb.safe_text import for_terminal
        from metallmix_wandb.secrets import redact
        from metallmix_wandb.settings import load_settings
        from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError

        import_xgboost()  # every recommendation loads the meta-learner (pipeline.recommend)

    err: Console = StderrConsole()  # type: ignore[assignment]  # a Console, made on first use
    settings = load_settings(project=opts["project"], entity=opts["entity"], qdrant_path=opts["qdrant_path"],
                             qdrant_url=opts["qdrant_url"], top_k=opts["top_k"], llm_model=opts["model"],
                             llm_base_url=opts["base_url"], llm_api_key=opts["api_key"], judge_model=opts["judge_model"],
                             task=opts.get("task"), llm_timeout_s=opts.get("llm_timeout"))
    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    from metallmix_wandb.llm.factory import launch_embedded

    # The embedded model loads (~1 s) while the meta-learner and the store are read; stopped on any exit.
    with launch_embedded(settings, not opts["no_llm"]) as launched:
        try:
            meta = new_dataset_meta(opts, settings)
            knowledge = load_knowledge(settings.project, settings.cache_dir, settings.entity,
                                       online=not settings.offline)
            space = SearchSpace.from_yaml(opts["space"]) if opts["space"] else knowledge.space
        except (ValueError, KnowledgeError, SearchSpaceError) as exc:
            fail(str(exc))
        unseen = unseen_parameters(space, knowledge.space)
        if unseen:
            fail(f"--space {opts['space']}: the meta-learner never saw {', '.join(unseen)} (its parameters: "
                 f"{', '.join(knowledge.space.tunable)}); sync with this --space first, or remove them")
        given = {k: opts[k] for k in ("offer", "judge_repeats") if opts.get(k)}  # else the request's defaults
        req = RecommendRequest(mode=opts["mode"], top_k=settings.top_k, candidates=opts["candidates"],
                               configs=(opts["candidates"] or 1) if opts["no_llm"] else 1,
                               use_llm=not opts["no_llm"], fallback=opts["fallback"],
                               judge=not opts["no_judge"], max_repairs=opts["max_repairs"], **given,
                               exclude_datasets=exclusion_keys(tuple(opts["exclude_dataset"])),
                               # the meta-learner predicts the metric it was trained on: name that one
                               metric=knowledge.manifest.metric or settings.metric,
                               time_metric=settings.time_metric, task=settings.task)
        if req.use_llm and not settings.llm_base_url:  # the embedded demo model: keep its answer short
            req = for_embedded_model(req, opts.get("judge_repeats"), offer=opts.get("offer"),
                                     top_k=opts.get("top_k"))
        llm_errors, server_errors = _llm_errors(req.use_llm)
        # The meta-learner needs no similar experiments: with --no-llm Qdrant (0.8 s to import) is opened
        # only to list them (--evidence). When it is, its client is imported here to be frozen too.
        reads_store = req.use_llm or bool(opts.get("evidence"))
        if reads_store:
            with long_lived_imports():
                import qdrant_client  # noqa: F401 - the pipeline reads the similar runs through it
        try:
            with (open_store(settings) if reads_store else contextlib.nullcontext()) as store, \
                    llm_clients(settings, req.use_llm, err, launched) as clients, \
                    progress(err, "recommending") as on_step:
                logged_from = clients.server.log_size() if clients.server else 0
                rec = recommend(meta, space, store, knowledge, req, clients.llm, clients.judge,
                                (clients.model, clients.judge_model), on_step=on_step)
                if clients.server:  # the embedded server's own prompt / generation speed (tokens per second)
                    rec.timings.update(clients.server.speed_since(logged_from))
        except llm_errors as exc:
            if req.fallback != "meta-learner":
                fail(f"{exc}. Nothing was logged or enqueued (use --fallback meta-learner or --no-llm).")
            from rich.text import Text

            err.print(Text(f"LLM unavailable ({for_terminal(str(exc))}); falling back to the meta-learner.",
                           style="yellow"))
            try:
                with open_store(settings) as store:
                    rec = recommend(meta, space, store, knowledge, req.model_copy(update={"use_llm": False}))
            except (StoreError, RecommendError, KnowledgeError) as again:  # the folder busy past the wait
                fail(redact(str(again), settings.secrets))
            rec.source = "meta-learner-fallback"
            rec.warnings.append(f"LLM unavailable: {exc}")
        except (StoreError, RecommendError, *server_errors, KnowledgeError) as exc:
            fail(redact(str(exc), settings.secrets))
        deliver(rec, space, settings, opts, err, knowledge)


def _llm_errors(use_llm: bool) -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(the client's errors, the embedded server's errors) to catch; none with `--no-llm`, so neither
    module is imported then (CLI start-up)."""
    if not use_llm:
        return (), ()
    from metallmix_wandb.llm.client import LLMError
    from metallmix_wandb.llm.server import LLMServerError

    return (LLMError,), (LLMServerError,)
