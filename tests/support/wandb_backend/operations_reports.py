"""Projects and report save: what `wandb_workspaces.reports.v2.Report.save()` sends (wandb-workspaces
0.4.13 over wandb 0.31.0): GetProjects, CreateProject when the project is new, ProjectInternalId for each
run set that names its entity and project (reports/v2/gql.py `projectInternalId`), then upsertView."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.support.wandb_backend.model import gql_id, now_iso
from tests.support.wandb_backend.operations import op
from tests.support.wandb_backend.server import GqlRequest, GraphQLError

if TYPE_CHECKING:
    from tests.support.wandb_backend.server import Backend


def _project_node(b: Backend, entity: str, name: str, pid: int) -> dict[str, Any]:
    w = b.world
    return {"__typename": "Project", "id": gql_id("Project", str(pid)), "name": name, "entityName": entity,
            "createdAt": now_iso(), "isBenchmark": False,
            "user": {"id": "VXNlcjox", "name": "Test User", "username": w.username, "email": None, "admin": False,
                     "flags": None, "entity": w.default_entity, "deletedAt": None,
                     "apiKeys": {"edges": []}, "teams": {"edges": [{"node": {"name": w.default_entity}}]}}}


@op("GetProjects")
def get_projects(b: Backend, r: GqlRequest) -> dict[str, Any]:
    entity = r.variables.get("entity") or b.world.default_entity
    names = sorted((p, pid) for (e, p), pid in b.world.projects.items() if e == entity)
    edges = [{"node": _project_node(b, entity, p, pid)} for p, pid in names]
    return {"models": {"pageInfo": {"__typename": "PageInfo", "endCursor": None, "hasNextPage": False},
                       "edges": edges}}


@op("CreateProject")
def create_project(b: Backend, r: GqlRequest) -> dict[str, Any]:
    inp = r.variables["input"]
    entity, name = inp.get("entityName") or b.world.default_entity, inp["name"]
    inserted = b.world.project_id(entity, name, create=False) is None
    pid = b.world.project_id(entity, name) or 0
    node = {"id": gql_id("Project", str(pid)), "name": name, "entityName": entity,
            "description": inp.get("description"), "access": None, "views": None}
    return {"result": {"project": node, "model": node, "inserted": inserted}}


@op("ProjectInternalId")
def project_internal_id(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """A run set's project: its internal id, or null when it does not exist (the SDK then refuses)."""
    pid = b.world.project_id(r.variables["entityName"], r.variables["projectName"], create=False)
    return {"project": None if pid is None else {"id": gql_id("Project", str(pid)), "internalId": str(pid)}}


@op("upsertView")
def upsert_view(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """Stores the report (variables as sent, spec a JSON string) in `world.reports`, keyed by its id.
    An empty entityName is refused, as W&B refuses an entity that does not exist."""
    v = dict(r.variables)
    if not v.get("entityName"):
        raise GraphQLError("entity not found: ''")
    pid = b.world.project_id(v["entityName"], v["projectName"]) or 0
    existing = next((rep for rep in b.world.reports if v.get("id") and rep["id"] == v["id"]), None)
    if existing is None:
        v["id"] = gql_id("View", str(len(b.world.reports) + 1))
        b.world.reports.append(v)
    else:
        existing.update({k: val for k, val in v.items() if k != "id"})
        v = existing
    return {"upsertView": {"view": {
        "id": v["id"], "type": v.get("type"), "name": v.get("name"), "displayName": v.get("displayName"),
        "description": v.get("description"),
        "project": {"id": gql_id("Project", str(pid)), "name": v["projectName"], "entityName": v["entityName"]},
        "spec": v["spec"], "updatedAt": now_iso()}, "inserted": existing is None}}
