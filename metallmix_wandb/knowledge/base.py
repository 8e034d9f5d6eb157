"""The knowledge feature's extension point: `RunSource`, where the runs `sync` reads come from.

Implementations, one module each, are listed in `metallmix_wandb.knowledge.RUN_SOURCES`: offline run
folders (runs_offline.py), the W&B API (runs_online.py) and an imported table (table_import.py). A
source yields RawRuns, or (path, reason, detail) for a run it could not read, so `sync` can say why
it skipped it. Tested through tests/knowledge/test_sync.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from metallmix_wandb.knowledge.records import RawRun


class RunSource(Protocol):
    def describe(self) -> str:
        """What the runs are read from, for the report line."""
        ...

    def count(self) -> int:
        """How many items iterating will yield (the progress bar's total)."""
        ...

    def run_path(self, raw: RawRun) -> str:
        """The run's stable path: its point id in the knowledge base."""
        ...

    def __iter__(self) -> Iterator[RawRun | tuple[str, str, str]]: ...
