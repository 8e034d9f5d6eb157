"""Offline run folders (`wandb/offline-run-*`) -> RawRun, via the direct record-log reader.
Tested through tests/knowledge/test_sync.py and test_record_log.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from metallmix_wandb.knowledge.record_log import RecordLogError, read_record_log
from metallmix_wandb.knowledge.records import RawRun

RUN_GLOBS = ("offline-run-*", "run-*")


def find_run_dirs(root: Path) -> list[Path]:
    """Run folders under `root`: the folder itself, `root/*run-*`, or `root/wandb/*run-*`."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"offline run folder not found: {root}")
    if any(root.glob("run-*.wandb")):
        return [root]
    found: set[Path] = set()
    for base in (root, root / "wandb"):
        for pattern in RUN_GLOBS:
            found.update(p for p in base.glob(pattern) if p.is_dir() and any(p.glob("run-*.wandb")))
    return sorted(found)


def _json(value_json: str) -> Any:
    try:
        return json.loads(value_json)
    except (TypeError, ValueError):
        return value_json


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _items(items: Any) -> dict[str, Any]:
    """Decode many `value_json` fields with one json.loads: the parse's hot path (20 history rows of
    20 keys cost 400 calls otherwise)."""
    keys, values = [], []
    for item in items:
        keys.append(_key(item))
        values.append(item.value_json or "null")
    try:
        decoded = json.loads("[" + ",".join(values) + "]")
    except ValueError:  # one malformed value: fall back to decoding each on its own
        decoded = [_json(v) for v in values]
    return dict(zip(keys, decoded, strict=True))


def _apply_config(config: dict[str, Any], rec: Any) -> None:
    config.update(_items(rec.update))
    for item in rec.remove:
        config.pop(_key(item), None)


def _history_row(rec: Any) -> dict[str, Any]:
    row = _items(rec.item)
    if rec.HasField("step") and "_step" not in row:
        row["_step"] = rec.step.num
    return row


def parse_run_dir(run_dir: Path) -> RawRun:
    """Read one offline run folder. A missing exit record means the run was killed or is running."""
    from wandb.proto import wandb_internal_pb2 as pb

    files = sorted(Path(run_dir).glob("run-*.wandb"))
    if not files:
        raise RecordLogError(f"{run_dir}: no run-*.wandb file")
    log = read_record_log(files[0])
    run_id = files[0].stem.removeprefix("run-")
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    meta: dict[str, Any] = {"run_id": run_id}
    exit_code: int | None = None
    for payload in log.payloads:
        rec = pb.Record()
        try:
            rec.ParseFromString(payload)
        except Exception:  # a payload that passed CRC but is not a Record: stop as a damaged tail
            log.truncated = True
            break
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            r = rec.run
            meta.update(
                run_id=r.run_id or run_id, name=r.display_name or None, project=r.project or None,
                entity=r.entity or None, group=r.run_group or None, job_type=r.job_type or None,
                notes=r.notes or None, tags=list(r.tags),
            )
            if r.HasField("start_time"):
                meta["created_at"] = r.start_time.ToDatetime().isoformat() + "Z"
            _apply_config(config, r.config)
            summary.update(_items(r.summary.update))
        elif kind == "config":
            _apply_config(config, rec.config)
        elif kind == "history":
            history.append(_history_row(rec.history))
        elif kind == "summary":
            summary.update(_items(rec.summary.update))
            for item in rec.summary.remove:
                summary.pop(_key(item), None)
        elif kind == "exit":
            exit_code = rec.exit.exit_code
    config.pop("_wandb", None)
    summary = {k: v for k, v in summary.items() if not k.startswith("_wandb")}
    if exit_code is None:
        state = "incomplete"
    elif exit_code == 0:
        state = "finished"
    else:
        state = "crashed"
    return RawRun(
        path=str(Path(run_dir).resolve()), state=state, exit_code=exit_code, config=config,
        summary=summary, history=history, **meta,
    )


def wait_for_exit_record(run_dir: Path, timeout_s: float, poll_s: float = 0.1) -> RawRun:
    """W&B's service writes the exit record shortly after `finish()` (or the process) returns: poll
    until it is there or `timeout_s` passes, and return the last parse, which lacks an exit code only
    when time ran out (so a caller can tell a slow writer from a killed run). Parse errors propagate."""
    deadline = time.monotonic() + timeout_s
    while True:
        raw = parse_run_dir(run_dir)
        if raw.exit_code is not None or time.monotonic() > deadline:
            return raw
        time.sleep(poll_s)


class OfflineRunSource:
    """Runs from offline folders. Their path is entity/project/run_id, as online, with the entity
    'offline' unless one is given, so a later `wandb sync` of the same run keeps its id."""

    def __init__(self, root: Path, project: str | None = None, entity: str | None = None) -> None:
        self.root = Path(root)
        self.project = project
        self.entity = entity or "offline"
        self._dirs: list[Path] | None = None

    def describe(self) -> str:
        return f"offline runs under {self.root}"

    def count(self) -> int:
        if self._dirs is None:
            self._dirs = find_run_dirs(self.root)
        return len(self._dirs)

    def run_path(self, raw: RawRun) -> str:
        return f"{self.entity}/{raw.project or self.project or 'unknown'}/{raw.run_id}"

    def __iter__(self) -> Iterator[RawRun | tuple[str, str, str]]:
        """RawRun, or (path, reason, detail) for a folder that cannot be used at all."""
        if self._dirs is None:
            self._dirs = find_run_dirs(self.root)
        for run_dir in self._dirs:
            try:
                raw = parse_run_dir(run_dir)
            except (RecordLogError, OSError) as exc:
                yield str(run_dir), "unreadable", str(exc)
                continue
            if self.project and raw.project and raw.project != self.project:
                yield str(run_dir), "other project", f"project={raw.project}"
                continue
            yield raw
