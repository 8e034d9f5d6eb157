"""What wandb-core sends while a `wandb.init` run is online (wandb 0.31.0 wandb-core): the run start
(UpsertBucket, in operations.py), the organisation probe, the file stream (history, summary, console,
exit) and run-file uploads (CreateRunFiles + PUT to the returned URL).

The file stream is a POST of JSON to /files/ENTITY/PROJECT/RUN/file_stream: {"files": {"wandb-history.jsonl":
{"offset": N, "content": [json rows]}, "wandb-summary.json": {"content": [json]}, "output.log": ...},
"complete": bool, "exitcode": int}; the run's history, summary and state follow it (state "running",
then "finished" on exit code 0, else "failed"), as the real server does. Tested in
tests/support/test_wandb_backend_runlog.py and by every test that runs `wandb.init` online.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from tests.support.wandb_backend.operations import op
from tests.support.wandb_backend.server import GqlRequest, GraphQLError, route

if TYPE_CHECKING:
    import re

    from tests.support.wandb_backend.server import Backend


@op("OrganizationCoreWeaveOrganizationID")
def coreweave_org(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """Not a CoreWeave organisation: wandb-core then uses its default storage paths."""
    return {"entity": {"organization": None}}


@op("CreateRunFiles")
def create_run_files(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    run = b.world.runs.get((v["entity"], v["project"], v["run"]))
    if run is None:
        raise GraphQLError(f"run {v['entity']}/{v['project']}/{v['run']} not found")
    files = [{"name": n, "uploadUrl": f"{b.url}/uploads/run/{v['entity']}/{v['project']}/{v['run']}/{n}"}
             for n in v["files"]]
    return {"createRunFiles": {"runID": run.storage_id, "uploadHeaders": [], "files": files}}


@route("PUT", r"/uploads/run/([^/]+)/([^/]+)/([^/]+)/(.+)", "upload")
def run_file_upload(b: Backend, m: re.Match[str], body: bytes) -> tuple[int, Any]:
    run = b.world.runs.get((m.group(1), m.group(2), m.group(3)))
    if run is None:
        return 404, {"error": "no such run"}
    run.files[m.group(4)] = body
    return 200, {}


@route("PUT", r"/uploads/blob/([0-9a-f]+)", "upload")
def blob_upload(b: Backend, m: re.Match[str], body: bytes) -> tuple[int, Any]:
    """An artifact file or manifest: stored under its upload token (operations_artifact_log.py)."""
    b.world.blobs[m.group(1)] = body
    return 200, {}


def blob_url(b: Backend) -> tuple[str, str]:
    """A fresh upload URL and its token (what a signed upload URL is on the real server)."""
    token = uuid.uuid4().hex
    return token, f"{b.url}/uploads/blob/{token}"


@route("POST", r"/files/([^/]+)/([^/]+)/([^/]+)/file_stream", "file_stream")
def file_stream(b: Backend, m: re.Match[str], body: bytes) -> tuple[int, Any]:
    run = b.world.runs.get((m.group(1), m.group(2), m.group(3)))
    if run is None:
        return 404, {"error": "no such run"}
    req = json.loads(body or b"{}")
    files = req.get("files") or {}
    history = files.get("wandb-history.jsonl")
    if history:
        offset = int(history.get("offset") or 0)
        rows = [json.loads(line) for line in history.get("content") or []]
        run.history[offset:offset + len(rows)] = rows
    summary = files.get("wandb-summary.json")
    if summary and summary.get("content"):
        run.summary = json.loads(summary["content"][-1])
    console = files.get("output.log")
    if console:
        run.files["output.log"] = (run.files.get("output.log", b"")
                                   + "".join(line + "\n" for line in console.get("content") or []).encode())
    if req.get("complete"):
        run.state = "finished" if req.get("exitcode") == 0 else "failed"
    elif run.state not in ("finished", "failed", "crashed", "killed"):
        run.state = "running"
    return 200, {"exitcode": None, "limits": {}}


@op("DeleteRun")
def delete_run(b: Backend, r: GqlRequest) -> dict[str, Any]:
    """`Run.delete()` (wandb/apis/public/runs.py); `wandb job create` deletes its hidden run with it."""
    run = b.world.run_by_storage_id(r.variables["id"])
    if run is None:
        raise GraphQLError(f"run {r.variables['id']} not found")
    del b.world.runs[(run.entity, run.project, run.name)]
    return {"deleteRun": {"clientMutationId": None}}
