"""Artifact operations (wandb 0.31.0 wandb/sdk/artifacts/_generated/operations.py).

Answers are validated by the SDK's pydantic models, so every fragment carries all its required fields.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from tests.support.wandb_backend.model import BackendArtifact, gql_id, now_iso
from tests.support.wandb_backend.operations import op
from tests.support.wandb_backend.server import GqlRequest

if TYPE_CHECKING:
    from tests.support.wandb_backend.server import Backend


def _project_info(b: Backend, art: BackendArtifact) -> dict[str, Any]:
    pid = b.world.project_id(art.entity, art.project) or 0
    return {"id": gql_id("Project", str(pid)), "internalId": str(pid), "name": art.project,
            "entity": {"name": art.entity}}


def _collection(b: Backend, art: BackendArtifact, typename: str) -> dict[str, Any]:
    return {"__typename": typename, "name": art.name, "project": _project_info(b, art)}


def artifact_fragment(b: Backend, art: BackendArtifact) -> dict[str, Any]:
    return {
        "__typename": "Artifact", "id": art.id, "artifactSequence": _collection(b, art, "ArtifactSequence"),
        "versionIndex": art.version, "artifactType": {"name": art.type}, "description": None,
        "metadata": json.dumps(art.metadata), "ttlDurationSeconds": -1, "ttlIsInherited": True, "tags": [],
        "historyStep": None, "state": "COMMITTED", "size": sum(len(d) for d in art.files.values()),
        "digest": art.digest, "digestAlgorithm": "MANIFEST_MD5", "commitHash": art.digest[:20],
        "fileCount": len(art.files), "createdAt": now_iso(), "updatedAt": None,
        "aliases": [{"__typename": "ArtifactAlias", "id": gql_id("ArtifactAlias", art.id, a), "alias": a,
                     "artifactCollection": _collection(b, art, "ArtifactSequence")} for a in art.aliases],
    }


def membership_fragment(b: Backend, art: BackendArtifact) -> dict[str, Any]:
    return {
        "__typename": "ArtifactCollectionMembership", "id": gql_id("Membership", art.id),
        "versionIndex": art.version, "createdAt": now_iso(),
        "aliases": [{"__typename": "ArtifactAlias", "id": gql_id("ArtifactAlias", art.id, a), "alias": a}
                    for a in art.aliases],
        "artifactCollection": _collection(b, art, "ArtifactSequence"),
        "artifact": artifact_fragment(b, art),
    }


@op("ArtifactMembershipByName")
def membership_by_name(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    if b.world.project_id(v["entity"], v["project"], create=False) is None:
        return {"project": None}
    name, _, ref = v["name"].partition(":")
    art = b.world.find_artifact(v["entity"], v["project"], name, ref or "latest")
    return {"project": {"artifactCollectionMembership": membership_fragment(b, art) if art else None}}


def manifest_json(art: BackendArtifact) -> bytes:
    """An artifact manifest (version 1) with the md5 of every file, as wandb writes them."""
    contents = {path: {"digest": base64.b64encode(hashlib.md5(data).digest()).decode(), "size": len(data)}
                for path, data in sorted(art.files.items())}
    return json.dumps({"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                       "storagePolicyConfig": {"storageLayout": "V2"}, "contents": contents}).encode()


def _by_id(b: Backend, artifact_id: str) -> BackendArtifact | None:
    return next((a for a in b.world.artifacts if a.id == artifact_id), None)


@op("FetchArtifactManifest")
def fetch_manifest(b: Backend, r: GqlRequest) -> dict[str, Any]:
    art = _by_id(b, r.variables["id"])
    if art is None:
        return {"artifact": None}
    url = b.publish_file("wandb_manifest.json", manifest_json(art), "application/json")
    return {"artifact": {"currentManifest": {"file": {"directUrl": url}}}}


@op("GetArtifactMembershipFileUrls")
def membership_file_urls(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    if b.world.project_id(v["entity"], v["project"], create=False) is None:
        return {"project": None}
    art = b.world.find_artifact(v["entity"], v["project"], v["collection"], v["alias"])
    if art is None:
        return {"project": {"artifactCollection": None}}
    names = sorted(art.files)
    start, per_page = int(v.get("cursor") or 0), int(v.get("perPage") or 1000)
    page = names[start:start + per_page]
    edges = [{"node": {"__typename": "File", "name": n,
                       "directUrl": b.publish_file(n, art.served_files.get(n, art.files[n]))}} for n in page]
    end = start + len(page)
    return {"project": {"artifactCollection": {"__typename": "ArtifactSequence", "artifactMembership": {
        "files": {"pageInfo": {"__typename": "PageInfo", "endCursor": str(end), "hasNextPage": end < len(names)},
                  "edges": edges}}}}}
