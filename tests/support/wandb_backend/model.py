"""The in-memory W&B world the loopback backend serves: entities, projects, runs, queues, artifacts.

Plain dataclasses; the server takes `World.lock` around every read and write, so a test may mutate the
world between SDK calls (e.g. flip a run's state) without racing the server threads.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

_ids = itertools.count(1)


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def parse_time(value: str) -> datetime:
    """A server timestamp or a filter value ("2026-01-02T03:04:05", "...Z", "...+00:00"), as UTC.
    Raises ValueError for anything else (the real server answers a bad time filter with an error)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def gql_id(kind: str, *parts: str) -> str:
    """The server's opaque node id: base64("Kind:v1:part:part")."""
    return base64.b64encode(":".join([kind, "v1", *parts]).encode()).decode()


@dataclass
class BackendRun:
    """One run as the server stores it. `config` holds plain values (served as {"key": {"value": v}})."""

    entity: str
    project: str
    name: str  # the run id (the SDK's `run.id`)
    display_name: str | None = None
    state: str = "finished"
    job_type: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    description: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    system_metrics: dict[str, Any] = field(default_factory=dict)
    sweep_name: str | None = None
    created_at: str = field(default_factory=now_iso)
    heartbeat_at: str = field(default_factory=now_iso)
    #: Bumped by every write to the run (UpsertBucket); None = the later of created_at and heartbeat_at.
    updated_at: str | None = None
    #: History steps served as "live" (not yet exported to parquet); None = all exported when the
    #: backend has pyarrow, else all live.
    live_from_step: int | None = None
    #: Written by an online `wandb.init` run (operations_runlog.py, operations_artifact_log.py): uploaded
    #: run files by name, and the ids of the artifacts the run used (lineage) and logged.
    files: dict[str, bytes] = field(default_factory=dict)
    used_artifacts: list[str] = field(default_factory=list)
    logged_artifacts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.updated_at is None:
            self.updated_at = max(self.created_at, self.heartbeat_at, key=parse_time).replace("Z", "")

    @property
    def storage_id(self) -> str:
        return gql_id("Run", self.name, self.project, self.entity)

    def history_rows(self) -> list[dict[str, Any]]:
        """Rows with `_step` filled in (0, 1, ... where a row has none)."""
        return [{"_step": i, **row} if "_step" not in row else dict(row) for i, row in enumerate(self.history)]

    def history_keys(self) -> dict[str, Any]:
        keys: dict[str, Any] = {}
        for row in self.history_rows():
            for k, v in row.items():
                keys.setdefault(k, {"typeCounts": [{"type": type(v).__name__, "count": 0}]})
                keys[k]["typeCounts"][0]["count"] += 1
        steps = [r["_step"] for r in self.history_rows()]
        return {"keys": keys, "lastStep": max(steps) if steps else -1}

    def node(self, project_id: int) -> dict[str, Any]:
        """Every field of RunFragment (wandb 0.31 apis/public/runs.py); the server trims to the query."""
        return {
            "id": self.storage_id, "projectId": project_id, "name": self.name,
            "displayName": self.display_name or self.name, "sweepName": self.sweep_name, "state": self.state,
            "tags": list(self.tags), "group": self.group, "jobType": self.job_type, "commit": None,
            "readOnly": False, "createdAt": self.created_at, "heartbeatAt": self.heartbeat_at,
            "updatedAt": self.updated_at,
            "description": self.description, "notes": self.notes,
            "config": json.dumps({k: {"value": v, "desc": None} for k, v in self.config.items()}),
            "summaryMetrics": json.dumps(self.summary), "systemMetrics": json.dumps(self.system_metrics),
            "historyLineCount": len(self.history), "historyKeys": self.history_keys(),
            "user": {"name": "Test User", "username": "tester"},
        }


@dataclass
class QueueItem:
    id: str
    spec: dict[str, Any]
    template_variables: dict[str, Any] | None
    priority: int | None
    state: str = "PENDING"
    associated_run_id: str | None = None
    created_at: str = field(default_factory=now_iso)


@dataclass
class LaunchQueue:
    entity: str
    project: str  # "model-registry" for entity-level queues (wandb's LAUNCH_DEFAULT_PROJECT)
    name: str
    id: str = field(default_factory=lambda: gql_id("RunQueue", str(next(_ids))))
    items: list[QueueItem] = field(default_factory=list)
    resource: str = "local-process"


@dataclass
class BackendArtifact:
    """One artifact version. `files` maps the path inside the artifact to its bytes."""

    entity: str
    project: str
    name: str  # collection name, no version
    type: str
    version: int = 0
    aliases: list[str] = field(default_factory=lambda: ["latest"])
    files: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: gql_id("Artifact", str(next(_ids))))
    #: "COMMITTED" for artifacts a test adds; an SDK-logged one is "PENDING" until CommitArtifact.
    state: str = "COMMITTED"
    description: str | None = None
    created_by: str | None = None  # the run id that logged it
    client_digest: str | None = None  # the manifest digest the SDK sent (deduplication)
    client_id: str | None = None  # the SDK's id for this version (the same save sends it twice)
    pending_aliases: list[str] = field(default_factory=list)  # set on commit
    uploads: dict[str, str] = field(default_factory=dict)  # path (or the manifest's name) -> blob token
    #: bytes served for a path instead of `files[path]` while the manifest keeps the md5 of `files`:
    #: a download corrupted on the way (the SDK does not check the md5 of what it downloads)
    served_files: dict[str, bytes] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        h = hashlib.md5()
        for path in sorted(self.files):
            h.update(path.encode() + hashlib.md5(self.files[path]).digest())
        return h.hexdigest()


@dataclass
class World:
    """Everything the backend knows. Add data with the helpers; read it back after the SDK wrote to it."""

    default_entity: str = "team"
    username: str = "tester"
    runs: dict[tuple[str, str, str], BackendRun] = field(default_factory=dict)
    projects: dict[tuple[str, str], int] = field(default_factory=dict)
    queues: dict[tuple[str, str, str], LaunchQueue] = field(default_factory=dict)
    artifacts: list[BackendArtifact] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)  # uploaded artifact files, by upload token
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def project_id(self, entity: str, project: str, create: bool = True) -> int | None:
        with self.lock:
            if (entity, project) not in self.projects and create:
                self.projects[(entity, project)] = next(_ids)
            return self.projects.get((entity, project))

    def add_run(self, entity: str, project: str, name: str, **fields: Any) -> BackendRun:
        with self.lock:
            self.project_id(entity, project)
            run = BackendRun(entity=entity, project=project, name=name, **fields)
            self.runs[(entity, project, name)] = run
            return run

    def delete_run(self, entity: str, project: str, name: str) -> None:
        """What deleting a run in the W&B UI does (the SDK's DeleteRun mutation is not served)."""
        with self.lock:
            del self.runs[(entity, project, name)]

    def project_runs(self, entity: str, project: str) -> list[BackendRun]:
        with self.lock:
            return [r for (e, p, _), r in self.runs.items() if (e, p) == (entity, project)]

    def run_by_storage_id(self, storage_id: str) -> BackendRun | None:
        with self.lock:
            return next((r for r in self.runs.values() if r.storage_id == storage_id), None)

    def add_queue(self, entity: str, name: str, project: str = "model-registry") -> LaunchQueue:
        with self.lock:
            self.project_id(entity, project)
            queue = LaunchQueue(entity=entity, project=project, name=name)
            self.queues[(entity, project, name)] = queue
            return queue

    def add_artifact(self, entity: str, project: str, name: str, type: str,
                     files: dict[str, bytes] | None = None, **fields: Any) -> BackendArtifact:
        with self.lock:
            self.project_id(entity, project)
            same = [a for a in self.artifacts if (a.entity, a.project, a.name) == (entity, project, name)]
            for old in same:
                old.aliases = [a for a in old.aliases if a != "latest"]
            art = BackendArtifact(entity=entity, project=project, name=name, type=type, version=len(same),
                                  files=dict(files or {}), **fields)
            self.artifacts.append(art)
            return art

    def find_artifact(self, entity: str, project: str, name: str, ref: str) -> BackendArtifact | None:
        """`ref` is an alias ("latest") or a version ("v3")."""
        with self.lock:
            for a in self.artifacts:
                if (a.entity, a.project, a.name) != (entity, project, name):
                    continue
                if ref in a.aliases or ref == f"v{a.version}":
                    return a
            return None
