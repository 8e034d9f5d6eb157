"""Runs from a W&B server through the public API (`wandb.Api().runs` + `scan_history`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from metallmix_wandb.knowledge.records import RawRun

if TYPE_CHECKING:
    import wandb


def _summary_dict(run: Any) -> dict[str, Any]:
    summary = run.summary
    raw = getattr(summary, "_json_dict", None)
    return dict(raw) if isinstance(raw, Mapping) else dict(summary)


class OnlineRunSource:
    """Every run of entity/project. History is fetched only for finished runs (one request each)."""

    def __init__(self, api: wandb.Api, project: str, entity: str | None = None,
                 filters: dict[str, Any] | None = None) -> None:
        self.api = api
        self.project = project
        self.entity = entity or api.default_entity
        self.filters = filters
        self._runs: list[Any] | None = None

    def describe(self) -> str:
        return f"W&B runs of {self.entity}/{self.project}"

    def _all(self) -> list[Any]:
        if self._runs is None:
            self._runs = list(self.api.runs(f"{self.entity}/{self.project}", filters=self.filters, per_page=500))
        return self._runs

    def count(self) -> int:
        return len(self._all())

    def run_path(self, raw: RawRun) -> str:
        return raw.path

    def __iter__(self) -> Iterator[RawRun | tuple[str, str, str]]:
        for run in self._all():
            path = "/".join(run.path)
            try:
                history = list(run.scan_history(page_size=1000)) if run.state == "finished" else []
                # group, job_type, notes, tags, created_at are GraphQL attrs that may be absent.
                yield RawRun(
                    path=path, run_id=run.id, name=run.name, project=self.project, entity=run.entity,
                    group=getattr(run, "group", None), job_type=getattr(run, "job_type", None),
                    notes=getattr(run, "notes", None), tags=list(getattr(run, "tags", None) or []),
                    state=run.state, config=dict(run.config), summary=_summary_dict(run), history=history,
                    created_at=getattr(run, "created_at", None),
                )
            except Exception as exc:  # one bad run (a deleted file, a server hiccup) must not stop a sync
                yield path, "unreadable", f"{type(exc).__name__}: {exc}"
