"""Launch queue operations (wandb 0.31.0 wandb/sdk/launch/api.py, wandb/apis/public/jobs.py).

`launch_add` sends pushToRunQueueByName first (falling back to ProjectRunQueues + pushToRunQueue when the
by-name push returns nothing), and only then looks the job artifact up: a missing job still leaves an
item on the queue, as on the real server.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tests.support.wandb_backend.model import LaunchQueue, QueueItem, gql_id
from tests.support.wandb_backend.operations import op
from tests.support.wandb_backend.server import GqlRequest, GraphQLError

if TYPE_CHECKING:
    from tests.support.wandb_backend.server import Backend


def _push(b: Backend, queue: LaunchQueue, v: dict[str, Any]) -> dict[str, Any]:
    spec = json.loads(v["runSpec"])
    tv = v.get("templateVariableValues")
    item = QueueItem(id=gql_id("RunQueueItem", str(len(queue.items) + 1), queue.name), spec=spec,
                     template_variables=json.loads(tv) if tv else None, priority=v.get("priority"))
    queue.items.append(item)
    return {"runQueueItemId": item.id, "runSpec": json.dumps(spec)}


@op("pushToRunQueueByName")
def push_by_name(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    queue = b.world.queues.get((v["entityName"], v["projectName"], v["queueName"]))
    if queue is None:
        raise GraphQLError(f"run queue {v['entityName']}/{v['projectName']}/{v['queueName']} not found")
    result = _push(b, queue, v)
    return {"pushToRunQueueByName": {k: val for k, val in result.items() if k in r.query}}


@op("ProjectRunQueues")
def project_run_queues(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    if b.world.project_id(v["entity"], v["projectName"], create=False) is None:
        return {"project": None}
    queues = [q for (e, p, _), q in b.world.queues.items() if (e, p) == (v["entity"], v["projectName"])]
    return {"project": {"runQueues": [{"id": q.id, "name": q.name, "createdBy": b.world.username,
                                       "access": "PROJECT"} for q in queues]}}


@op("pushToRunQueue")
def push_by_id(b: Backend, r: GqlRequest) -> dict[str, Any]:
    queue = next((q for q in b.world.queues.values() if q.id == r.variables["queueID"]), None)
    if queue is None:
        raise GraphQLError(f"run queue {r.variables['queueID']} not found")
    return {"pushToRunQueue": {"runQueueItemId": _push(b, queue, r.variables)["runQueueItemId"]}}


@op("GetRunQueueItem")
def run_queue_item(b: Backend, r: GqlRequest) -> dict[str, Any]:
    v = r.variables
    queue = b.world.queues.get((v["entityName"], v["projectName"], v["runQueue"]))
    if queue is None:
        return {"project": None}

    def node(item: QueueItem) -> dict[str, Any]:
        return {"id": item.id, "state": item.state, "associatedRunId": item.associated_run_id}

    if "itemId" in v:
        item = next((i for i in queue.items if i.id == v["itemId"]), None)
        return {"project": {"runQueue": {"runQueueItem": node(item) if item else None}}}
    return {"project": {"runQueue": {"runQueueItems": {"edges": [{"node": node(i)} for i in queue.items]}}}}
