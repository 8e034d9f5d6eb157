"""The experiment knowledge base in Qdrant: one collection per W&B project.

Embedded (`QdrantClient(path=...)`) and server (`QdrantClient(url=...)`) share every line below
except the constructor. The fitted meta-feature scaler lives in the collection's own metadata, so
points and queries are always scaled alike, on either backend; so do the sync watermarks (per source,
what an incremental sync has read up to), so they go wherever the points go.
"""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metallmix_wandb.knowledge.records import Experiment, Neighbour
from metallmix_wandb.knowledge.scaling import MetaScaler

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from metallmix_wandb.settings import Settings

POINT_NAMESPACE = uuid.UUID("6f1d4f0e-4c1b-5b7e-9a52-8a3c6d1e2f40")
BATCH = 256
SCROLL_PAGE = 1024
NO_PROJECT = "no project: pass --project or set WANDB_PROJECT"


class StoreError(RuntimeError):
    """A knowledge-base problem the user can act on (locked folder, unreachable server, no data)."""


def collection_name(project: str) -> str:
    """One collection per project; the entity is part of each run path, not of the name, so
    online and offline syncs of a project meet in one place."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"metallmix__{project}")


def point_id(run_path: str) -> str:
    """Stable per run, so a re-sync updates in place and never duplicates."""
    return str(uuid.uuid5(POINT_NAMESPACE, run_path))


def open_client(path: Path | None = None, url: str | None = None, api_key: str | None = None) -> QdrantClient:
    from qdrant_client import QdrantClient

    if url:
        try:
            client = QdrantClient(url=url, api_key=api_key, timeout=10, check_compatibility=False)
            client.get_collections()
        except Exception as exc:  # the client raises several transport errors; all mean the same here
            raise StoreError(f"cannot reach the Qdrant server at {url}: {exc}") from exc
        return client
    assert path is not None, "either a Qdrant path or a URL is needed"
    Path(path).mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(path))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise StoreError(
                f"the Qdrant folder {path} is in use by another metallmix-wandb (or Qdrant) process. "
                "Wait for it to finish, or use a Qdrant server (--qdrant-url) for concurrent access."
            ) from exc
        raise


def _payload(exp: Experiment) -> dict[str, Any]:
    return exp.model_dump(mode="json", exclude={"history"})


class ExperimentStore:
    """Experiments of one project in one collection; the scaler in the collection metadata."""

    def __init__(self, client: QdrantClient, collection: str) -> None:
        self.client = client
        self.collection = collection
        self._wal = False

    def _fast_commits(self) -> None:
        """Embedded Qdrant commits each point to its SQLite file on its own: ~10 ms a point with SQLite's
        default rollback journal (10,000 points took 140 s), ~1 ms in WAL mode, as durable. The mode is
        stored in the file, so setting it once from a second connection is enough."""
        path = None if self._wal else self.client.init_options.get("path")
        db = Path(path) / "collection" / self.collection / "storage.sqlite" if path else None
        if db is None or not db.exists():
            return
        import sqlite3
        from contextlib import closing

        try:
            with closing(sqlite3.connect(db)) as conn:
                self._wal = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        except sqlite3.Error:  # busy or read-only: keep the default journal
            self._wal = True

    @classmethod
    def from_settings(cls, settings: Settings) -> ExperimentStore:
        """The project's collection, on the embedded folder or the server the settings name."""
        if not settings.project:
            raise StoreError(NO_PROJECT)
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        client = open_client(path=settings.resolved_qdrant_path, url=settings.qdrant_url, api_key=key)
        return cls(client, collection_name(settings.project))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ExperimentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exists(self) -> bool:
        return self.client.collection_exists(self.collection)

    def scaler(self) -> MetaScaler | None:
        if not self.exists():
            return None
        meta = self.client.get_collection(self.collection).config.metadata or {}
        return MetaScaler.model_validate(meta["scaler"]) if "scaler" in meta else None

    def require_scaler(self) -> MetaScaler:
        scaler = self.scaler()
        if scaler is None:
            raise StoreError(
                f"the knowledge base has no collection '{self.collection}' yet: run `metallmix-wandb sync` first"
            )
        return scaler

    def _metadata(self) -> dict[str, Any]:
        if not self.exists():
            return {}
        return dict(self.client.get_collection(self.collection).config.metadata or {})

    def watermark(self, key: str) -> dict[str, Any] | None:
        """What the last complete sync of source `key` recorded ({"since": ..., and the metric names})."""
        return (self._metadata().get("watermarks") or {}).get(key)

    def set_watermark(self, key: str, value: dict[str, Any]) -> None:
        marks = {**(self._metadata().get("watermarks") or {}), key: value}
        self.client.update_collection(self.collection, metadata={"watermarks": marks})

    def meta_by_run(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """run_path -> (dataset, meta-features) of every point, reading only those payload fields: what
        deciding on the scaler needs, at a fraction of the cost of `all()`."""
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        if not self.exists():
            return out
        offset = None
        while True:
            points, offset = self.client.scroll(self.collection, limit=SCROLL_PAGE, offset=offset,
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
        for start in range(0, len(ids), BATCH):
            chunk = models.PointIdsList(points=ids[start:start + BATCH])
            self.client.delete(self.collection, points_selector=chunk, wait=True)
        return len(ids)

    def count(self) -> int:
        return self.client.count(self.collection, exact=True).count if self.exists() else 0

    def reset(self, scaler: MetaScaler) -> None:
        """(Re)create the collection for this scaler's vector size; the sync watermarks carry over."""
        from qdrant_client import models

        marks = self._metadata().get("watermarks")
        if self.exists():
            self.client.delete_collection(self.collection)
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=scaler.dim, distance=models.Distance.EUCLID),
            metadata={"scaler": scaler.model_dump(), **({"watermarks": marks} if marks else {})},
        )
        with warnings.catch_warnings():  # embedded mode ignores payload indexes and says so; a server uses them
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field in ("dataset", "state"):
                self.client.create_payload_index(self.collection, field, field_schema=models.PayloadSchemaType.KEYWORD)
        self._wal = False

    def upsert(self, experiments: Iterable[Experiment], scaler: MetaScaler) -> int:
        from qdrant_client import models

        self._fast_commits()
        n = 0
        batch: list[models.PointStruct] = []
        for exp in experiments:
            vector = scaler.transform(exp.meta_features)
            batch.append(models.PointStruct(id=point_id(exp.run_path), vector=vector, payload=_payload(exp)))
            if len(batch) >= BATCH:
                self.client.upsert(self.collection, points=batch, wait=True)
                n += len(batch)
                batch = []
        if batch:
            self.client.upsert(self.collection, points=batch, wait=True)
            n += len(batch)
        return n

    def set_shap_top3(self, top3: dict[str, list[dict[str, Any]]]) -> int:
        """Write each run's 3 most influential features (keyed by run path) into its payload, in
        batched `set_payload` operations. Points that already hold the same list, and runs not in
        the collection, are left alone (embedded Qdrant commits every point to SQLite, ~2-20 ms
        each); returns how many points were written."""
        from qdrant_client import models

        if not self.exists():
            return 0
        self._fast_commits()
        ids = {point_id(path): items for path, items in top3.items()}
        stored = {
            str(p.id): (p.payload or {}).get("shap_top3")
            for p in self.client.retrieve(self.collection, ids=list(ids), with_payload=["shap_top3"])
        }
        ops = [
            models.SetPayloadOperation(set_payload=models.SetPayload(payload={"shap_top3": top}, points=[i]))
            for i, top in ids.items() if i in stored and stored[i] != top
        ]
        for start in range(0, len(ops), BATCH):
            batch = ops[start:start + BATCH]
            self.client.batch_update_points(self.collection, update_operations=batch, wait=True)
        return len(ops)

    def all(self) -> Iterator[Experiment]:
        if not self.exists():
            return
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.collection, limit=SCROLL_PAGE, offset=offset, with_payload=True, with_vectors=False
            )
            for p in points:
                yield Experiment.model_validate(p.payload)
            if offset is None:
                return

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
        rounds at most."""
        scaler = self.require_scaler()
        vector = scaler.transform(meta_features)
        excluded = set(exclude_datasets)
        limit = max(4 * k, 32)
        while True:
            points = self.client.query_points(self.collection, query=vector, limit=limit, with_payload=True).points
            keep = [
                p for p in points
                if p.payload["dataset"] not in excluded and p.payload.get("dataset_name") not in excluded
                and (not only_finished or p.payload.get("state") == "finished")
            ]
            if len(keep) >= k or len(points) < limit:
                return [Neighbour(experiment=Experiment.model_validate(p.payload), distance=p.score) for p in keep[:k]]
            limit *= 4
