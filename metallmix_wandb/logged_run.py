"""A W&B run this package wrote (recommendation, evaluation, tune), as the CLI reports it, and the one
way such a run is closed: finished with exit code 1 when logging failed, so it never reads as a success.
Tested through the CLI tests that log runs (tests/cli/test_recommend_cli.py, test_tune_cli.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel


class LoggedRun(BaseModel):
    run_id: str
    run_path: str
    run_dir: str
    offline: bool

    @classmethod
    def of(cls, run: Any) -> Self:
        """From a live `wandb.init` run: one definition of its path and folder for every run kind."""
        return cls(run_id=run.id, run_path="/".join(p for p in (run.entity, run.project, run.id) if p),
                   run_dir=str(Path(run.dir).parent), offline=bool(run.offline))


@contextmanager
def finishing(run: Any) -> Iterator[Any]:
    """Finishes `run` when the block ends; if the block raised, with exit code 1 (and re-raises), so a
    half-logged run is marked failed instead of left running or shown as finished."""
    try:
        yield run
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()
