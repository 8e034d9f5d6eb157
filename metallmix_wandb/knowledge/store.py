"""The experiment knowledge base in Qdrant: one collection per W&B project.

Embedded (`QdrantClient(path=...)`) and server (`QdrantClient(url=...)`) share every line below
except how a client is had (`session`): a server's is held for the store's life; the embedded folder
is opened for each read or write batch and closed after, so concurrent commands queue for a moment
instead of failing (knowledge/qdrant_access.py). The fitted meta-feature scaler lives in the
collection's own metadata, so points and queries are always scaled alike, on either backend; so do
the sync watermarks (per source, what an incremental sync has read up to), so they go wherever the
points go.
"""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metallmix_wandb.knowledge.qdrant_access import (  # noqa: F401 - StoreError, open_client: imported from here
    ELSEWHERE, META_FILE, STORAGE_FILE, WAIT_S, StoreError, embedded_client, open_client,
)
from metallmix_wandb.knowledge.records import Experiment, Neighbour
from metallmix_wandb.knowledge.scaling import MetaScaler

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from metallmix_wandb.settings import Settings

POINT_NAMESPACE = uuid.UUID("6f1d4f0e-4c1b-5b7e-9a52-8a3c6d1e2f40")
BATCH = 256
SCROLL_PAGE = 1024
NO_PROJECT = "no project: pass --project or set WANDB_PROJECT"


def collection_name(project: str) -> str:
    """One collection per project; the entity is part of each run path, not of the name, so
    online and offline syncs of a project meet in one place."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"metallmix__{project}")


def point_id(run_path: str) -> str:
    """Stable per run, so a re-sync updates in place and never duplicates."""
    return str(uuid.uuid5(POINT_NAMESPACE, run_path))


def _payload(exp: Experiment) -> dict[str, Any]:
    return exp.model_dump(mode="json", exclude={"history"})


class ExperimentStore:
    """Experiments of one project in one collection; the scaler in the collection metadata.

    Every method is one read or write batch (`session`); a caller groups several into one batch with
    `with store.session():`. One store is used by one thread at a time."""

    def __init__(self, client: QdrantClient | None, collection: str, *, folder: Path | None = None,
                 wait_s: float = WAIT_S) -> None:
        """`client`: held until `close` (a server's, or an embedded folder a test holds open); None with
        `folder`: the embedded folder, opened for each batch and waited for up to `wait_s`."""
        if client is None and folder is None:
            raise ValueError("an ExperimentStore needs a client or an embedded folder")
        self._held = client
        self._open: QdrantClient | None = client
        path = client.init_options.get("path") if client is not None else folder
        self.folder = Path(path) if path else None
        self.collection = collection
        self._wait_s = wait_s
        self._wal = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ExperimentStore:
        """The project's collection, on the server or the embedded folder the settings name. Nothing
        is opened here for a folder: each batch opens it (and waits for it) on its own."""
        if not settings.project:
            raise StoreError(NO_PROJECT)
        name = collection_name(settings.project)
        if settings.qdrant_url:
            key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            return cls(open_client(url=settings.qdrant_url, api_key=key), name)
        return cls(None, name, folder=settings.resolved_qdrant_path, wait_s=settings.qdrant_wait_s)

    @contextmanager
    def session(self) -> Iterator[QdrantClient]:
        """One read or write batch: embedded, the folder is open (and locked) only inside it; a
        session inside another shares the outer one's client."""
        if self._open is not None:
            yield self._open
            return
        assert self.folder is not None
        with embedded_client(self.folder, self._wait_s) as client:
            self._open = client
            try:
                yield client
            finally:
                self._open = None

    def close(self) -> None:
        if self._held is not None:
            self._held.close()

    def __enter__(self) -> ExperimentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fast_commits(self) -> None:
        """Embedded Qdrant commits each point to its SQLite file on its own: ~10 ms a point with SQLite's
        default rollback journal (10,000 points took 140 s), ~1 ms in WAL mode, as durable. The mode is
        stored in the file, so setting it once from a second connection is enough."""
        db = self._storage_file()
        if self._wal or db is None or not db.exists():
            return
        import sqlite3
        from contextlib import closing

        try:
            with closing(sqlite3.connect(db)) as conn:
                self._wal = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        except sqlite3.Error:  # busy or read-only: keep the default journal
            self._wal = True

    def _storage_file(self) -> Path | None:
        return self.folder / "collection" / self.collection / STORAGE_FILE if self.folder else None

    def _rebuild_hint(self) -> str:
        """What a user does about a damaged collection: a full sync re-embeds every run."""
        return "run `metallmix-wandb sync --full` to rebuild it" + (f", {ELSEWHERE}" if self.folder else "")

    def exists(self) -> bool:
        with self.session() as client:
            return client.collection_exists(self.collection)

    def _metadata(self) -> dict[str, Any]:
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return {}
            return dict(client.get_collection(self.collection).config.metadata or {})

    def scaler(self) -> MetaScaler | None:
        """The scaler as stored (None before the first sync); an unreadable one is a StoreError."""
        meta = self._metadata()
        if "scaler" not in meta:
            return None
        try:
            return MetaScaler.model_validate(meta["scaler"])
        except ValueError as exc:
            where = self.folder / META_FILE if self.folder else f"collection '{self.collection}'"
            raise StoreError(f"the meta-feature scaler in {where} is unreadable ({' '.join(str(exc).split())[:200]}): "
                             f"{self._rebuild_hint()}") from exc

    def vector_size(self) -> int | None:
        """The collection's vector size as configured (None before the first sync)."""
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return None
            return getattr(client.get_collection(self.collection).config.params.vectors, "size", None)

    def require_scaler(self) -> MetaScaler:
        """The scaler a query needs, once it matches the collection's vector size: a mismatch (an
        edited or half-rebuilt collection) is a StoreError, not a numpy error mid-query."""
        with self.session():
            scaler = self.scaler()
            if scaler is None:
                raise StoreError(
                    f"the knowledge base has no collection '{self.collection}' yet: run `metallmix-wandb sync` first")
            size = self.vector_size()
        if size != scaler.dim:
            where = self.folder / META_FILE if self.folder else f"collection '{self.collection}'"
            raise StoreError(f"the vector size changed in {where}: the collection holds {size}-dimensional vectors "
                             f"but its meta-feature scaler makes {scaler.dim}: {self._rebuild_hint()}")
        return scaler

    def watermark(self, key: str) -> dict[str, Any] | None:
        """What the last complete sync of source `key` recorded ({"since": ..., and the metric names})."""
        return (self._metadata().get("watermarks") or {}).get(key)

    def set_watermark(self, key: str, value: dict[str, Any]) -> None:
        with self.session() as client:
            marks = {**(self._metadata().get("watermarks") or {}), key: value}
            client.update_collection(self.collection, metadata={"watermarks": marks})

    def meta_by_run(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """run_path -> (dataset, meta-features) of every point, reading only those payload fields: what
        deciding on the scaler needs, at a fraction of the cost of `all()`."""
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return out
            offset = None
            while True:
                points, offset = client.scroll(self.collection, limit=SCROLL_PAGE, offset=offset,
                                               with_payload=["run_path", "dataset", "meta_features"],
                                               with_vectors=False)
                for p in points:
                    payload = p.payload or {}
                    out[payload["run_path"]] = (payload["dataset"], payload.get("meta_features") or {})
                if offset is None:
                    return out

    def delete(self, run_paths: Iterable[str]) -> int:
        from qdrant_client import models

        ids = [point_id(p) for p in run_paths]
        with self.session() as client:
            for start in range(0, len(ids), BATCH):
                chunk = models.PointIdsList(points=ids[start:start + BATCH])
                client.delete(self.collection, points_selector=chunk, wait=True)
        return len(ids)

    def count(self) -> int:
        with self.session() as client:
            return client.count(self.collection, exact=True).count if client.collection_exists(self.collection) else 0

    def reset(self, scaler: MetaScaler) -> None:
        """(Re)create the collection for this scaler's vector size; the sync watermarks carry over."""
        from qdrant_client import models

        with self.session() as client:
            marks = self._metadata().get("watermarks")
            if client.collection_exists(self.collection):
                client.delete_collection(self.collection)
            client.create_collection(
                self.collection,
                vectors_config=models.VectorParams(size=scaler.dim, distance=models.Distance.EUCLID),
                metadata={"scaler": scaler.model_dump(), **({"watermarks": marks} if marks else {})},
            )
            with warnings.catch_warnings():  # embedded mode ignores payload indexes and says so; a server uses them
                warnings.filterwarnings("ignore", message="Payload indexes have no effect")
                for field in ("dataset", "state"):
                    client.create_payload_index(self.collection, field, field_schema=models.PayloadSchemaType.KEYWORD)
        self._wal = False

    def upsert(self, experiments: Iterable[Experiment], scaler: MetaScaler) -> int:
        from qdrant_client import models

        n = 0
        with self.session() as client:
            self._fast_commits()
            batch: list[models.PointStruct] = []
            for exp in experiments:
                vector = scaler.transform(exp.meta_features)
                batch.append(models.PointStruct(id=point_id(exp.run_path), vector=vector, payload=_payload(exp)))
                if len(batch) >= BATCH:
                    client.upsert(self.collection, points=batch, wait=True)
                    n += len(batch)
                    batch = []
            if batch:
                client.upsert(self.collection, points=batch, wait=True)
                n += len(batch)
        return n

    def set_shap_top3(self, top3: dict[str, list[dict[str, Any]]]) -> int:
        """Write each run's 3 most influential features (keyed by run path) into its payload, in
        batched `set_payload` operations. Points that already hold the same list, and runs not in
        the collection, are left alone (embedded Qdrant commits every point to SQLite, ~2-20 ms
        each); returns how many points were written."""
        from qdrant_client import models

        with self.session() as client:
            if not client.collection_exists(self.collection):
                return 0
            self._fast_commits()
            ids = {point_id(path): items for path, items in top3.items()}
            stored = {
                str(p.id): (p.payload or {}).get("shap_top3")
                for p in client.retrieve(self.collection, ids=list(ids), with_payload=["shap_top3"])
            }
            ops = [
                models.SetPayloadOperation(set_payload=models.SetPayload(payload={"shap_top3": top}, points=[i]))
                for i, top in ids.items() if i in stored and stored[i] != top
            ]
            for start in range(0, len(ops), BATCH):
                batch = ops[start:start + BATCH]
                client.batch_update_points(self.collection, update_operations=batch, wait=True)
        return len(ops)

    def all(self) -> list[Experiment]:
        """Every experiment, read in one batch (a list, so the folder is not held while the caller works)."""
        out: list[Experiment] = []
        with self.session() as client:
            if not client.collection_exists(self.collection):
                return out
            offset = None
            while True:
                points, offset = client.scroll(
                    self.collection, limit=SCROLL_PAGE, offset=offset, with_payload=True, with_vectors=False
                )
                out.extend(Experiment.model_validate(p.payload) for p in points)
                if offset is None:
                    return out

    def search(
        self,
        meta_features: dict[str, Any],
        k: int = 8,
        exclude_datasets: Sequence[str] = (),
        only_finished: bool = True,
    ) -> list[Neighbour]:
        """Nearest first; `exclude_datasets` matches a run's dataset value or its short name. Filters are applied to an over-fetched, growing window of neighbours rather
        than as a Qdrant payload filter: embedded Qdrant checks a filter point by point in Python
        (~25 ms per 1,000 points), while an unfiltered query takes ~1 ms. Results are the same on
        both backends; leave-one-dataset-out, whose hidden dataset is always nearest, needs a few
        rounds at most. An empty collection (emptied or its storage file deleted) is a StoreError:
        an answer with no evidence would look like one with some."""
        excluded = set(exclude_datasets)
        limit = max(4 * k, 32)
        with self.session() as client:
            vector = self.require_scaler().transform(meta_features)
            while True:
                points = client.query_points(self.collection, query=vector, limit=limit, with_payload=True).points
                if not points:
                    where = self._storage_file() or f"collection '{self.collection}'"
                    raise StoreError(f"the knowledge base is empty: {where} holds no experiments: run "
                                     "`metallmix-wandb sync` again (it reads every run into an empty collection)"
                                     + (f", {ELSEWHERE}" if self.folder else ""))
                keep = [
                    p for p in points
                    if p.payload["dataset"] not in excluded and p.payload.get("dataset_name") not in excluded
                    and (not only_finished or p.payload.get("state") == "finished")
                ]
                if len(keep) >= k or len(points) < limit:
                    return [Neighbour(experiment=Experiment.model_validate(p.payload), distance=p.score)
                            for p in keep[:k]]
                limit *= 4
