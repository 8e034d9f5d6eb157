"""The knowledge feature's extension point: `RunSource`, where the runs `sync` reads come from.

Implementations, one module each, are listed in `metallmix_wandb.knowledge.RUN_SOURCES`: offline run
folders (runs_offline.py), the W&B API (runs_online.py) and an imported table (table_import.py). A
source yields RawRuns, or (path, reason, detail) for a run it could not read, so `sync` can say why
it skipped it. A source that reads a server may also be incremental (`IncrementalSource`: only the
runs updated since a watermark `sync` keeps in the collection) and may fail mid-way with a
`SourceError` (network, auth), after which `sync` keeps what it read. Tested through
tests/knowledge/test_sync.py and tests/knowledge/test_runs_online.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

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


class SourceError(RuntimeError):
    """The source cannot go on (the server is unreachable, refuses the key, keeps failing). One line,
    said to the user as is; `sync` stores what was read before it."""


@runtime_checkable
class IncrementalSource(RunSource, Protocol):
    """A source that can read only what changed. `sync` sets `since` from the watermark it stored last
    time (unset: read everything), and after a complete pass stores `next_watermark()`."""

    since: str | None
    watermark_key: str
    """Which runs the watermark covers ("entity/project"): also the run-path prefix of its points."""

    def next_watermark(self) -> str:
        """The `since` for the next sync: safe to store once this pass has been stored in full."""
        ...

    def listed_paths(self) -> set[str] | None:
        """Every run path this pass listed, or None when it listed a subset (a filter or `since`):
        on a full pass, stored points of this source missing here are runs deleted on the server."""
        ...
