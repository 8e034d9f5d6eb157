"""How the knowledge base reaches Qdrant: one client to a server, or the embedded folder opened for
one read or write batch at a time.

Embedded Qdrant (`QdrantClient(path=...)`) locks its folder for as long as a client is open and fails
at once when another process holds it. Holding a client for a whole command (an LLM call included)
made every other command fail, so the folder is opened only around each batch and closed after
(`embedded_client`): readers hold it for the time it takes to load the collection, writers for the write.
A waiting process queues on a lock file of its own (`LOCK_FILE`, taken before Qdrant's) as long as
the queue moves; one holder keeping the folder past `wait_s` is one clear error. The own lock also
keeps a reader from loading the folder while a writer is half-way through recreating a collection:
Qdrant reads the files before taking its lock.

A damaged folder is one `StoreError` naming the file and the fix, never a traceback (`damage`).
Tested in tests/knowledge/test_store_access.py and tests/cli/test_store_robustness_cli.py.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import portalocker
    from qdrant_client import QdrantClient

LOCK_FILE = ".metallmix.lock"
META_FILE = "meta.json"
STORAGE_FILE = "storage.sqlite"
WAIT_S = 60.0
"""How long a command waits for the folder: enough for a large sync's write batch (10,000 points take
~10 s) and twenty concurrent readers on two busy cores."""
ELSEWHERE = "or pass --qdrant-path to use another folder"


class StoreError(RuntimeError):
    """A knowledge-base problem the user can act on (busy or damaged folder, unreachable server, no data)."""


def open_client(path: Path | None = None, url: str | None = None, api_key: str | None = None,
                wait_s: float = WAIT_S) -> QdrantClient:
    """A client held by the caller until it closes it: a server's, or the embedded folder's (waiting
    up to `wait_s` for another process to let go of it). Commands open the folder per batch instead
    (`embedded_client`); tests and benchmarks hold it."""
    if url:
        from qdrant_client import QdrantClient

        try:
            client = QdrantClient(url=url, api_key=api_key, timeout=10, check_compatibility=False)
            client.get_collections()
        except Exception as exc:  # the client raises several transport errors; all mean the same here
            raise StoreError(f"cannot reach the Qdrant server at {url}: {exc}") from exc
        return client
    assert path is not None, "either a Qdrant path or a URL is needed"
    Path(path).mkdir(parents=True, exist_ok=True)
    return _open_folder(Path(path), time.monotonic() + wait_s, wait_s)


@contextmanager
def embedded_client(path: Path, wait_s: float = WAIT_S) -> Iterator[QdrantClient]:
    """The folder's client for one batch, under this package's own lock; closed and unlocked after.
    Waits for the lock while other metallmix-wandb processes take their turns (`_take_turn`), then up
    to `wait_s` for Qdrant's own (any other Qdrant client), then raises StoreError."""
    import qdrant_client.local.qdrant_local  # noqa: F401 - imported before the lock: seconds on a busy machine

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lock = _take_turn(path / LOCK_FILE, wait_s)
    try:
        client = _open_folder(path, time.monotonic() + wait_s, wait_s)
        try:
            yield client
        finally:
            client.close()
    finally:
        lock.release()


def _take_turn(lock_file: Path, wait_s: float) -> portalocker.Lock:
    """The folder's lock, waited for as long as the queue moves: each holder writes a fresh token into
    the lock file, and the `wait_s` deadline restarts whenever the token changes. Twenty processes
    queueing on a busy machine all get their turn; one process keeping the folder past `wait_s` is a
    StoreError."""
    import portalocker

    lock = portalocker.Lock(lock_file, mode="a+", check_interval=0.02)
    seen, deadline = _holder(lock_file), time.monotonic() + wait_s
    while True:
        try:
            handle = lock.acquire(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
            break
        except portalocker.LockException as exc:
            holder = _holder(lock_file)
            if holder != seen:
                seen, deadline = holder, time.monotonic() + wait_s
            elif time.monotonic() >= deadline:
                raise StoreError(_busy(lock_file.parent, wait_s)) from exc
    handle.truncate(0)
    handle.write(f"{os.getpid()} {uuid.uuid4().hex}\n")
    handle.flush()
    return lock


def _holder(lock_file: Path) -> str:
    try:
        return lock_file.read_text()
    except OSError:
        return ""


def _open_folder(path: Path, deadline: float, wait_s: float) -> QdrantClient:
    """QdrantClient(path=...), retried with backoff while another client holds Qdrant's own lock."""
    from qdrant_client import QdrantClient

    pause = 0.02
    while True:
        try:
            return QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" not in str(exc):
                raise damage(path, exc) from exc
            if time.monotonic() + pause > deadline:
                raise StoreError(_busy(path, wait_s)) from exc
        except Exception as exc:  # noqa: BLE001 - json, sqlite, pickle, pydantic: all mean a damaged file
            raise damage(path, exc) from exc
        time.sleep(pause)
        pause = min(2 * pause, 0.5)


def _busy(path: Path, wait_s: float) -> str:
    return (f"the Qdrant folder {path} stayed in use by another process for {wait_s:g} s. Try again when it "
            "is done, or use a Qdrant server (--qdrant-url) for long concurrent work.")


def damage(path: Path, exc: BaseException) -> StoreError:
    """The error for a folder Qdrant could not load: which file is damaged and what to do about it."""
    from metallmix_wandb.knowledge.meta_learner.artifact import one_line

    meta = path / META_FILE
    rebuild = f"move {path} away and run `metallmix-wandb sync` again to rebuild it, {ELSEWHERE}"
    try:
        names = list(json.loads(meta.read_text())["collections"])
    except Exception as meta_exc:  # noqa: BLE001 - unreadable, not JSON, or not Qdrant's layout
        reason = ("empty" if meta.is_file() and meta.stat().st_size == 0
                  else f"no {meta_exc} entry" if isinstance(meta_exc, KeyError) else one_line(meta_exc, 120))
        return StoreError(f"the Qdrant index {meta} is damaged ({reason}): {rebuild}")
    for name in names:
        db = path / "collection" / name / STORAGE_FILE
        problem = sqlite_problem(db)
        if problem:
            return StoreError(f"the Qdrant storage file {db} is damaged ({problem}): delete it and run "
                              f"`metallmix-wandb sync` again (it reads every run into an empty collection), {ELSEWHERE}")
    return StoreError(f"the Qdrant folder {path} cannot be loaded ({one_line(exc, 200)}): {rebuild}")


def sqlite_problem(db: Path) -> str | None:
    """Why SQLite cannot read `db` (read-only integrity check), or None when it can or it is absent."""
    import sqlite3
    from contextlib import closing

    if not db.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
            rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        return str(exc)
    return None if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])
