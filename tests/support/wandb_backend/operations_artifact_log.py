"""Artifact logging and use from an online `wandb.init` run (wandb 0.31.0: `run.log_artifact` and
`run.use_artifact`, saved by wandb-core's artifact saver; `ArtifactType` from the Python side).

The saver's sequence: CreateArtifact (a PENDING version, or the existing one when the digest is known)
-> CreateArtifactManifest -> CreateArtifactFiles (upload URLs) -> PUT each file -> PUT the manifest ->
CommitArtifact. The files land in `World.blobs` by upload token and are joined into the artifact's
`files` from the committed manifest. `UseArtifact` records lineage on the run (`used_artifacts`).
Tested in tests/support/test_wandb_backend_runlog.py, tests/datasets/test_artifacts.py and
tests/training/test_launch_job.py (`wandb job create`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tests.support.wandb_backend.model import BackendArtifact, gql_id, now_iso
from tests.support.wandb_backend.operations import op
from tests.support.wandb_backend.operations_artifacts import artifact_fragment
from tests.support.wandb_backend.operations_runlog import blob_url
from tests.support.wandb_backend.server import GqlRequest, GraphQLError

if TYPE_CHECKING:
    from tests.support.wandb_backend.server import Backend


def _by_id(b: Backend, artifact_id: str) -> BackendArtifact:
    art = next((a for a in b.world.artifacts if a.id == artifact_id), None)
    if art is None:
        raise GraphQLError(f"artifact {artifact_id} not found")
    return art


@op("ArtifactType")
def artifact_type(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    entity = v.get("entity") or b.world.default_entity
    if b.world.project_id(entity, v["project"], create=False) is None:
        return {"project": None}
    name, _, ref = v["name"].partition(":")
    art = b.world.find_artifact(entity, v["project"], name, ref or "latest")
    return {"project": {"artifact": {"artifactType": {"name": art.type}} if art else None}}


def _created(art: BackendArtifact, latest: BackendArtifact | None) -> dict[str, Any]:
    return {"id": art.id, "state": art.state,
            "artifactSequence": {"id": gql_id("ArtifactSequence", art.entity, art.project, art.name),
                                 "latestArtifact": {"id": latest.id, "versionIndex": latest.version}
                                 if latest else None}}


@op("CreateArtifact")
def create_artifact(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """A new PENDING version; the same one again for the same client id (wandb-core saving what the
    Python side created, as `wandb job create` does); or the committed version with the same digest
    (the server deduplicates). wandb-core sends one `input` object, the Python SDK loose variables."""
    v = r.variables.get("input") or r.variables
    entity, project = v.get("entityName") or b.world.default_entity, v["projectName"]
    name = v.get("artifactCollectionName") or v["artifactCollectionNames"][0]
    b.world.project_id(entity, project)
    same = [a for a in b.world.artifacts if (a.entity, a.project, a.name) == (entity, project, name)]
    committed = [a for a in same if a.state == "COMMITTED"]
    latest = max(committed, key=lambda a: a.version) if committed else None
    if any(a.type != v["artifactTypeName"] for a in same):
        raise GraphQLError(f"artifact collection {name} has another type than {v['artifactTypeName']}")
    known = next((a for a in same if v.get("clientID") and a.client_id == v["clientID"]), None) \
        or next((a for a in committed if a.client_digest == v["digest"]), None)
    if known is not None:
        return {"createArtifact": {"artifact": _created(known, latest)}}
    art = BackendArtifact(entity=entity, project=project, name=name, type=v["artifactTypeName"],
                          version=len(same), aliases=[], metadata=json.loads(v.get("metadata") or "{}"),
                          state="PENDING", description=v.get("description"), created_by=v.get("runName"),
                          client_digest=v["digest"], client_id=v.get("clientID"),
                          pending_aliases=[a["alias"] for a in v.get("aliases") or []])
    b.world.artifacts.append(art)
    return {"createArtifact": {"artifact": _created(art, latest)}}


MANIFEST = "wandb_manifest.json"


def _manifest_answer(b: Backend, art: BackendArtifact, include_upload: bool) -> dict[str, Any]:
    file: dict[str, Any] = {"id": gql_id("File", art.id, MANIFEST)}
    if include_upload:
        token, url = blob_url(b)
        art.uploads[MANIFEST] = token
        file.update(uploadUrl=url, uploadHeaders=[])
    return {"artifactManifest": {"id": gql_id("ArtifactManifest", art.id), "file": file}}


@op("CreateArtifactManifest")
def create_manifest(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    art = _by_id(b, v["artifactID"])
    return {"createArtifactManifest": _manifest_answer(b, art, bool(v.get("includeUpload")))}


@op("UpdateArtifactManifest")
def update_manifest(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    artifact_id = next((a.id for a in b.world.artifacts
                        if gql_id("ArtifactManifest", a.id) == v["artifactManifestID"]), None)
    if artifact_id is None:
        raise GraphQLError(f"artifact manifest {v['artifactManifestID']} not found")
    art = _by_id(b, artifact_id)
    return {"updateArtifactManifest": _manifest_answer(b, art, bool(v.get("includeUpload")))}


@op("CreateArtifactFiles")
def create_files(b: Backend, r: GqlRequest) -> dict[str, Any]:
    edges = []
    for spec in r.variables["input"]["artifactFiles"]:
        art = _by_id(b, spec["artifactID"])
        token, url = blob_url(b)
        art.uploads[spec["name"]] = token
        edges.append({"node": {"storagePath": f"wandb_artifacts/{token}", "uploadUrl": url, "uploadHeaders": [],
                               "uploadMultipartUrls": None, "artifact": {"id": art.id}}})
    return {"createArtifactFiles": {"files": {"edges": edges}}}


@op("CommitArtifact")
def commit_artifact(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """Join the uploaded files by the manifest's paths, then move the aliases ("latest") to this version."""
    art = _by_id(b, r.variables["artifactID"])
    manifest = json.loads(b.world.blobs.get(art.uploads.get(MANIFEST, ""), b"{}") or b"{}")
    missing = [p for p in manifest.get("contents", {}) if art.uploads.get(p) not in b.world.blobs]
    if not manifest or missing:
        raise GraphQLError(f"artifact {art.name}: manifest or files not uploaded ({missing[:3]})")
    art.files = {p: b.world.blobs[art.uploads[p]] for p in manifest["contents"]}
    for old in b.world.artifacts:
        if (old.entity, old.project, old.name) == (art.entity, art.project, art.name) and old is not art:
            old.aliases = [a for a in old.aliases if a not in art.pending_aliases]
    art.aliases, art.state = list(dict.fromkeys(art.pending_aliases)), "COMMITTED"
    run = b.world.runs.get((art.entity, art.project, art.created_by or ""))
    if run is not None:
        run.logged_artifacts.append(art.id)
    return {"commitArtifact": {"artifact": {"id": art.id, "digest": art.client_digest or art.digest}}}


@op("UseArtifact")
def use_artifact(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """Lineage: the run (entityName/projectName/runName) used the artifact (artifactID). The Python SDK
    sends them as variables (`record_artifact_use`), wandb-core as one `input` object."""
    v = r.variables.get("input") or r.variables
    art = _by_id(b, v["artifactID"])
    run = b.world.runs.get((v.get("entityName") or b.world.default_entity, v["projectName"], v["runName"]))
    if run is None:
        raise GraphQLError(f"run {v['runName']} not found")
    if art.id not in run.used_artifacts:
        run.used_artifacts.append(art.id)
    return {"useArtifact": {"artifact": {"id": art.id, "digest": art.client_digest or art.digest,
                                         "description": art.description, "state": art.state,
                                         "createdAt": now_iso(), "metadata": json.dumps(art.metadata)}}}


@op("ArtifactByID")
def artifact_by_id(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """`Artifact.wait()` after `log_artifact` reloads the committed version by id."""
    art = next((a for a in b.world.artifacts if a.id == r.variables["id"]), None)
    return {"artifact": artifact_fragment(b, art) if art else None}
