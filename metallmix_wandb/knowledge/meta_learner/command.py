"""The body of `explain`, and the explain step that ends `sync` and `import --direct`.

Kept apart from the click declaration (cli/explain_cmd.py) so the CLI only parses options; the
output lines and exit codes are the command's contract. Tested through tests/cli/test_explain_cli.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markdown import Markdown
from rich.text import Text

from metallmix_wandb.cli.app import fail
from metallmix_wandb.safe_text import for_terminal

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.explain import KnowledgeReport
    from metallmix_wandb.knowledge.store import ExperimentStore
    from metallmix_wandb.settings import Settings
    from metallmix_wandb.space.search_space import SearchSpace


def explain_command(settings: Settings, space_yaml: Path | None, *, log_to_wandb: bool, show_digest: bool) -> None:
    """`explain`: fit and explain the meta-learner; any problem is one `error:` line and exit 2."""
    from metallmix_wandb.knowledge.meta_learner.explain import MetaLearnerError
    from metallmix_wandb.knowledge.store import ExperimentStore, StoreError
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError

    if not settings.project:
        fail("no project: pass --project or set WANDB_PROJECT")
    space = None
    if space_yaml is not None:
        try:
            space = SearchSpace.from_yaml(space_yaml)
        except SearchSpaceError as exc:
            fail(str(exc))
    try:
        with ExperimentStore.from_settings(settings) as store:
            report = run_explain(store, settings, space, log_to_wandb=log_to_wandb)
    except (StoreError, MetaLearnerError) as exc:
        fail(str(exc))
    print_knowledge(report, show_digest=show_digest)


def explain_after_sync(console: Console, settings: Settings, space_yaml: Path | None) -> None:
    """The explain step after a sync: a sync that worked stays a success when the runs cannot train a
    meta-learner yet, so that is a yellow line, not an error (shared by `sync` and `import --direct`)."""
    from metallmix_wandb.knowledge.meta_learner.explain import MetaLearnerError
    from metallmix_wandb.knowledge.store import ExperimentStore, StoreError
    from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError

    try:
        space = SearchSpace.from_yaml(space_yaml) if space_yaml else None
    except SearchSpaceError as exc:
        fail(str(exc))
    try:
        with ExperimentStore.from_settings(settings) as store:
            knowledge = run_explain(store, settings, space=space)
    except (StoreError, MetaLearnerError) as exc:
        console.print(Text.assemble(("meta-learner knowledge not updated: ", "yellow"), for_terminal(str(exc))))
        return
    print_knowledge(knowledge)


def run_explain(store: ExperimentStore, settings: Settings, space: SearchSpace | None = None,
                log_to_wandb: bool = True) -> KnowledgeReport:
    """The explain pipeline behind a status line on stderr (it takes seconds to minutes)."""
    from metallmix_wandb.knowledge.meta_learner.explain import explain

    with Console(stderr=True).status("training the meta-learner (with leave-one-dataset-out) and SHAP"):
        return explain(store, settings, space=space, log_to_wandb=log_to_wandb)


def print_knowledge(report: KnowledgeReport, show_digest: bool = False) -> None:
    """The quality line and where the knowledge went (stderr), then the digest (stdout)."""
    err = Console(stderr=True, soft_wrap=True)  # paths stay on one line, copy-pasteable
    err.print(Text(f"meta-learner on {report.runs} runs / {report.datasets} datasets: {report.quality_line}"))
    if report.variant:
        err.print(Text(f"meta-learner {report.variant}"))
    err.print(Text(f"knowledge cached in {report.cache_dir}"))
    if report.wandb_error:
        err.print(Text(f"W&B artifact not logged: {report.wandb_error}", style="yellow"))
    elif report.wandb_run:
        where = "offline run" if report.wandb_mode == "offline" else "run"
        err.print(Text(f"artifact {report.artifact} logged from {where} {report.wandb_run}"))
    if show_digest:
        Console().print(Markdown(for_terminal(report.digest)))  # parameter names and values are run text
