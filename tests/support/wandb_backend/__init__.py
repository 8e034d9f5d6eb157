"""A loopback W&B-compatible backend for tests: the real `wandb.Api`, wandb-core and `launch_add` run
against it over HTTP on 127.0.0.1.

Mirrors **wandb 0.31.0** (the SDK in the project venv): the GraphQL documents were read from its source
(wandb/apis/public/runs.py, summary.py, api.py, wandb/sdk/launch/api.py, wandb/apis/public/jobs.py,
wandb/sdk/artifacts/_generated/operations.py) and from wandb-core (core/api/graphql/*.graphql), and each
was checked by running the SDK against this backend. Operations answered (by GraphQL operationName,
falling back to the name in the query text):

- identity: Viewer, GetDefaultEntity, ServerFeaturesQuery (no features enabled)
- runs: Runs (paged, filters on state/jobType/group/name/tags/config.*/summary_metrics.* and on the
  times createdAt/updatedAt/heartbeatAt with $gt/$gte/$lt/$lte/$eq/$ne; order by
  created_at/heartbeat_at/summary_metrics.*); `World.delete_run` stands for a run deleted in the UI;
  every UpsertBucket write bumps the run's updatedAt, Run / RunState / RunHistoryKeys, UpsertBucket
  (Run.update, summary writes, Api.create_run)
- history: RunSampledHistory (`run.history(keys=...)`), RunFullHistory (`run.history()`),
  RunParquetHistory + file downloads with Range/HEAD (`scan_history`), HistoryPage / SampledHistoryPage
  (wandb-core's live tail, for steps >= `BackendRun.live_from_step`)
- launch: pushToRunQueueByName, ProjectRunQueues, pushToRunQueue, GetRunQueueItem
- artifacts: ArtifactMembershipByName, FetchArtifactManifest, GetArtifactMembershipFileUrls (download;
  `BackendArtifact.served_files` serves other bytes than the manifest describes: a corrupt download)
- reports (wandb-workspaces 0.4.13 `Report.save()`): GetProjects, CreateProject, ProjectInternalId (run sets),
  upsertView (an empty entityName is refused)
- online runs (`wandb.init`, operations_runlog.py): UpsertBucket (run start), OrganizationCoreWeave-
  OrganizationID, CreateRunFiles + PUT uploads, POST /files/E/P/RUN/file_stream (history, summary,
  console, exit -> state); counted as "file_stream" and "upload", not as GraphQL
- artifact logging and use (operations_artifact_log.py): ArtifactType, CreateArtifact (deduplicated by
  digest), CreateArtifactManifest/UpdateArtifactManifest, CreateArtifactFiles + PUT, CommitArtifact,
  ArtifactByID, UseArtifact (lineage on the run)
- run deletion: DeleteRun
- wandb-core telemetry (POST /sdk/otel/v1/*) is accepted and ignored (counted as "otel").

Anything else (another operation, an unsupported filter or order, an unknown URL) is answered with a
GraphQL error / 404, appended to `backend.unknown` and printed to stderr: the backend never answers
silently wrong. Not served yet: sweeps, report loading/listing, the launch agent.

How a test uses it::

    from tests.support.wandb_backend import Backend, wandb_backend_fixture
    wandb_backend = pytest.fixture(wandb_backend_fixture)   # or wrap running_backend() yourself

    def test_x(wandb_backend: Backend) -> None:
        wandb_backend.world.add_run("team", "proj", "r1", config={"lr": 0.1}, summary={"acc": 0.9},
                                    history=[{"val/acc": 0.5}, {"val/acc": 0.6}])
        api = wandb.Api(timeout=30)            # build it inside the fixture: it reads WANDB_BASE_URL
        runs = list(api.runs("team/proj", lazy=False))
        assert wandb_backend.graphql_counts() == {"Viewer": 1, "GetDefaultEntity": 1, "Runs": 1}

A test that calls `wandb.init` in its own process uses `wandb_backend_session_fixture` instead (W&B
ignores environment changes after its first session, so the session is torn down around the test).

Controls: `backend.fail(500|429, times=N|None, operation="Runs")`, `fail(kind="timeout", hang_s=...)`,
`fail(kind="reset")`, `set_latency(seconds, operation=None)`, `count(op)`, `graphql_counts()`,
`requests` (method, path, operation, status, variables, time), `reset_counts()`, `publish_file()`.
The environment (`running_backend`) is online with a dummy 40-character key and WANDB_DIR,
WANDB_CONFIG_DIR, WANDB_CACHE_DIR and WANDB_DATA_DIR in a temp folder. wandb-core is one process per
Python process and outlives the backend; every `wandb.Api()` made inside the block talks to it.
"""

from tests.support.wandb_backend.fixture import (DUMMY_API_KEY, running_backend, wandb_backend_fixture,
                                                 wandb_backend_session_fixture)
from tests.support.wandb_backend.model import BackendArtifact, BackendRun, LaunchQueue, QueueItem, World
from tests.support.wandb_backend.server import Backend, Fault, GraphQLError, GqlRequest, wait_for

__all__ = ["DUMMY_API_KEY", "Backend", "BackendArtifact", "BackendRun", "Fault", "GqlRequest", "GraphQLError",
           "LaunchQueue", "QueueItem", "World", "running_backend", "wait_for", "wandb_backend_fixture",
           "wandb_backend_session_fixture"]
