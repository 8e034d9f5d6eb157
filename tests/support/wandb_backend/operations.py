"""GraphQL operations the loopback backend answers, by operation name, as wandb 0.31.0 sends them.

Each handler gets the backend and the request and returns the `data` object. Answers carry every field
the SDK might select; `_select` then drops the fields whose names do not occur in the query text, so a
lazy `Runs` page (LightweightRunFragment: no config/summaryMetrics) stays lazy, as on the real server.
Where a document comes from: wandb/apis/public/runs.py (Runs, Run, RunState, UpsertBucket,
RunSampledHistory, RunFullHistory, RunHistoryKeys), wandb/apis/public/summary.py (UpsertBucket with
summaryMetrics), wandb-core (Viewer, RunParquetHistory, HistoryPage, SampledHistoryPage; core/api/graphql/).
Launch and artifact operations live in operations_launch.py.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.support.wandb_backend.model import BackendRun, now_iso, parse_time
from tests.support.wandb_backend.server import GqlRequest, GraphQLError

if TYPE_CHECKING:
    from tests.support.wandb_backend.server import Backend

Handler = Callable[["Backend", GqlRequest], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def op(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn
    return register


def _select(node: dict[str, Any], query: str) -> dict[str, Any]:
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query))
    return {k: v for k, v in node.items() if k in words}


def _run(b: Backend, v: dict[str, Any], name_var: str = "name") -> BackendRun | None:
    entity, project = v.get("entity") or b.world.default_entity, v.get("project")
    return b.world.runs.get((entity, project, v.get(name_var)))


def _project_or_none(b: Backend, v: dict[str, Any]) -> int | None:
    return b.world.project_id(v.get("entity") or b.world.default_entity, v["project"], create=False)


# --- identity -------------------------------------------------------------------------------------
@op("Viewer", "GetDefaultEntity")
def viewer(b: Backend, r: GqlRequest) -> dict[str, Any]:
    w = b.world
    return {"viewer": {"id": "VXNlcjox", "entity": w.default_entity, "username": w.username,
                       "email": "tester@example.com", "flags": "{}", "admin": False,
                       "teams": {"edges": [{"node": {"name": w.default_entity}}]}}}


@op("ServerFeaturesQuery")
def server_features(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """No optional server features: the SDK takes its fallbacks."""
    return {"serverInfo": {"features": [{"name": n, "isEnabled": True} for n in b.server_features]}}


# --- runs -----------------------------------------------------------------------------------------
_FILTER_FIELDS = {"state": "state", "jobType": "job_type", "group": "group", "name": "name",
                  "display_name": "display_name", "sweep": "sweep_name"}


_TIME_FIELDS = {"createdAt": "created_at", "updatedAt": "updated_at", "heartbeatAt": "heartbeat_at"}
_TIME_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le, "$eq": operator.eq,
    "$ne": operator.ne}


def _time_matches(b: Backend, value: str, want: Any) -> bool:
    """`{"updatedAt": {"$gt": "2026-01-02T03:04:05Z"}}`: compared as instants (the server parses both
    sides; a value that is not an ISO time is an error there, not a silent mismatch)."""
    conditions = want if isinstance(want, dict) else {"$eq": want}
    for op_name, bound in conditions.items():
        if op_name not in _TIME_OPS:
            b._unknown(f"runs time filter operator {op_name!r}")
            raise GraphQLError(f"test backend: unsupported time filter operator {op_name!r}")
        try:
            ok = _TIME_OPS[op_name](parse_time(value), parse_time(bound))
        except (TypeError, ValueError, AttributeError) as exc:
            raise GraphQLError(f"invalid time in runs filter: {bound!r}") from exc
        if not ok:
            return False
    return True


def _matches(b: Backend, run: BackendRun, filters: dict[str, Any]) -> bool:
    for key, want in filters.items():
        if key == "$and":
            ok = all(_matches(b, run, f) for f in want)
        elif key == "$or":
            ok = any(_matches(b, run, f) for f in want)
        elif key == "tags":
            ok = (set(want["$in"]) & set(run.tags)) if isinstance(want, dict) and "$in" in want \
                else want in run.tags
        elif key in _TIME_FIELDS:
            ok = _time_matches(b, getattr(run, _TIME_FIELDS[key]), want)
        elif key in _FILTER_FIELDS:
            got = getattr(run, _FILTER_FIELDS[key])
            ok = got in want["$in"] if isinstance(want, dict) and "$in" in want else got == want
        elif key.startswith(("config.", "summary_metrics.")):
            src, _, path = key.partition(".")
            value = (run.config if src == "config" else run.summary).get(path.removesuffix(".value"))
            ok = value in want["$in"] if isinstance(want, dict) and "$in" in want else value == want
        else:
            b._unknown(f"runs filter {key!r}")
            raise GraphQLError(f"test backend: unsupported runs filter {key!r}")
        if not ok:
            return False
    return True


def _sort_key(b: Backend, order: str) -> Callable[[BackendRun], Any]:
    field = order.lstrip("+-")
    if field in {"created_at", "createdAt"}:
        return lambda r: r.created_at
    if field in {"heartbeat_at", "heartbeatAt"}:
        return lambda r: r.heartbeat_at
    if field.startswith("summary_metrics."):
        key = field.partition(".")[2]
        return lambda r: (r.summary.get(key) is None, r.summary.get(key))
    b._unknown(f"runs order {order!r}")
    raise GraphQLError(f"test backend: unsupported order {order!r}")


@op("Runs")
def runs(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    pid = _project_or_none(b, v)
    if pid is None:
        return {"project": None}
    filters = json.loads(v.get("filters") or "{}")
    order = v.get("order") or "+created_at"
    found = [run for run in b.world.project_runs(v.get("entity") or b.world.default_entity, v["project"])
             if _matches(b, run, filters)]
    found.sort(key=_sort_key(b, order), reverse=order.startswith("-"))
    start = int(v.get("cursor") or 0)
    per_page = int(v.get("perPage") or 50)
    page = found[start:start + per_page]
    edges = [{"node": _select(run.node(pid), r.query), "cursor": str(start + i + 1)} for i, run in enumerate(page)]
    return {"project": {"internalId": str(pid), "runCount": len(found), "readOnly": False, "runs": {
        "edges": edges,
        "pageInfo": {"endCursor": edges[-1]["cursor"] if edges else None,
                     "hasNextPage": start + per_page < len(found)}}}}


@op("Run", "RunState", "RunHistoryKeys")
def run(b: Backend, r: GqlRequest) -> dict[str, Any]:
    pid = _project_or_none(b, r.variables)
    if pid is None:
        return {"project": None}
    found = _run(b, r.variables)
    return {"project": {"run": _select(found.node(pid), r.query) if found else None}}


@op("UpsertBucket")
def upsert_bucket(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """Four shapes: Run.update() (id + config/tags/...), summary write (id + summaryMetrics),
    Api.create_run() (project/entity/name/state) and wandb-core's run start/config writes (name + config,
    jobType, groupName, tags...)."""
    v = r.variables
    if v.get("id"):
        found = b.world.run_by_storage_id(v["id"])
        if found is None:
            raise GraphQLError(f"run {v['id']} not found")
        inserted = False
    else:  # Api.create_run(), or wandb-core starting a run of wandb.init (config, jobType, group...)
        entity, project = v.get("entity") or b.world.default_entity, v.get("project") or "uncategorized"
        found = b.world.runs.get((entity, project, v["name"]))
        inserted = found is None
        if found is None:
            found = b.world.add_run(entity, project, v["name"], state=v.get("state") or "running")
    if "summaryMetrics" in v and v["summaryMetrics"] is not None:
        found.summary = json.loads(v["summaryMetrics"] or "{}")
    if v.get("config") is not None:
        found.config = {k: (c["value"] if isinstance(c, dict) and "value" in c else c)
                        for k, c in json.loads(v["config"]).items()}
    for var, attr in (("tags", "tags"), ("notes", "notes"), ("description", "description"),
                      ("display_name", "display_name"), ("displayName", "display_name"),
                      ("groupName", "group"), ("jobType", "job_type")):
        if var in v and (v[var] is not None or v.get("id")):  # a new run: unset means unset
            setattr(found, attr, v[var])
    found.updated_at = now_iso()  # every write bumps updatedAt, as on W&B (incremental sync reads it)
    node = found.node(b.world.project_id(found.entity, found.project) or 0)
    node["project"] = {"name": found.project, "entity": {"name": found.entity}}
    return {"upsertBucket": {"bucket": _select(node, r.query), "inserted": inserted}}


# --- history --------------------------------------------------------------------------------------
def _sample(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Evenly spaced rows, first and last kept (the real server samples too; tests should not rely on
    which middle rows come back)."""
    if n <= 0 or len(rows) <= n:
        return rows
    if n == 1:
        return [rows[-1]]
    return [rows[round(i * (len(rows) - 1) / (n - 1))] for i in range(n)]


def live_rows(run: BackendRun) -> list[dict[str, Any]]:
    """The rows not yet exported to parquet: wandb-core's live queries (HistoryPage, SampledHistoryPage)
    return only these, as the server mocks in wandb's own core/internal/runhistoryreader/reader_test.go do
    (wandb-core merges them with the parquet rows and would duplicate overlapping steps)."""
    from tests.support.wandb_backend.history_files import have_pyarrow

    if run.live_from_step is None:
        return [] if have_pyarrow() else run.history_rows()
    return [row for row in run.history_rows() if row["_step"] >= run.live_from_step]


def sampled_rows(rows: list[dict[str, Any]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """One sampledHistory spec: rows holding every key, only those keys, minStep..maxStep inclusive."""
    keys = spec.get("keys") or []
    lo, hi = spec.get("minStep"), spec.get("maxStep")
    rows = [{k: row[k] for k in keys} for row in rows
            if all(k in row for k in keys)
            and (lo is None or row["_step"] >= lo) and (hi is None or row["_step"] <= hi)]
    return _sample(rows, int(spec.get("samples") or 500))


@op("RunSampledHistory", "SampledHistoryPage")
def sampled_history(b: Backend, r: GqlRequest) -> dict[str, Any]:
    found = _run(b, r.variables, "name" if "name" in r.variables else "run")
    if found is None:
        return {"project": None}
    if r.operation == "SampledHistoryPage":  # wandb-core's live tail of a keyed scan
        rows, specs = live_rows(found), [r.variables["spec"]]
    else:  # Run.history(keys=...): the whole history, sampled
        rows, specs = found.history_rows(), r.variables["specs"]
    return {"project": {"run": {"sampledHistory": [sampled_rows(rows, json.loads(s)) for s in specs]}}}


@op("RunFullHistory")
def full_history(b: Backend, r: GqlRequest) -> dict[str, Any]:
    found = _run(b, r.variables)
    if found is None:
        return {"project": None}
    rows = _sample(found.history_rows(), int(r.variables.get("samples") or 500))
    node = "events" if re.search(r"\bevents\s*\(", r.query) else "history"
    return {"project": {"run": {node: [json.dumps(row) for row in rows] if node == "history" else []}}}


@op("HistoryPage")
def history_page(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """wandb-core's live-history page: steps minStep <= _step < maxStep, at most `pageSize` rows."""
    v = r.variables
    found = _run(b, v, "run")
    if found is None:
        return {"project": None}
    rows = [row for row in live_rows(found) if v["minStep"] <= row["_step"] < v["maxStep"]]
    return {"project": {"run": {"history": [json.dumps(row) for row in _sample(rows, int(v["pageSize"]))]}}}


@op("RunParquetHistory")
def parquet_history(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """Exported history as parquet files (signed URLs -> this backend's /files/), plus live rows.

    Rows at or after `run.live_from_step` are live (served by HistoryPage/SampledHistoryPage); without
    pyarrow every row is live."""
    from tests.support.wandb_backend.history_files import parquet_bytes

    found = _run(b, r.variables, "runName")
    if found is None:
        return {"project": None}
    rows = found.history_rows()
    cut = found.live_from_step
    exported = [row for row in rows if cut is None or row["_step"] < cut]
    live = [row for row in rows if cut is not None and row["_step"] >= cut]
    data = parquet_bytes(exported) if exported else None
    if exported and data is None:  # no pyarrow: serve it all live
        exported, live = [], rows
    urls = [b.publish_file(f"{found.name}-0.parquet", data)] if exported and data else []
    live_keys = r.variables.get("liveKeys") or ["_step"]
    return {"project": {"run": {"parquetHistory": {
        "parquetUrls": urls,
        "liveData": [{k: row[k] for k in live_keys if k in row} for row in live]}}}}
