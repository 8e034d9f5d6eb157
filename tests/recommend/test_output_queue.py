"""`recommend --queue` (recommend/output.py) at the wire: the real `launch_add` and `wandb.Api` against the
loopback W&B backend push exactly one item, with a config inside the space, on the right job and queue;
a wrong `--job` pushes nothing and says so in one line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.knowledge.experiments import split_config
from metallmix_wandb.training.launch_spec import RUN_LABELS_KEY
from tests.support.recommend_kb import kb, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT
from tests.support.wandb_backend import Backend, LaunchQueue, wandb_backend_fixture

wandb_backend = pytest.fixture(wandb_backend_fixture)
JOB = f"team/{EXPLAIN_PROJECT}/metallmix-train:latest"


def _world(backend: Backend) -> LaunchQueue:
    backend.world.add_artifact("team", EXPLAIN_PROJECT, "metallmix-train", "job", files={"wandb-job.json": b"{}"})
    return backend.world.add_queue("team", "gpu")


def _recommend(kb: dict, *extra: str) -> tuple[int, str, dict | None]:  # noqa: F811
    result = CliRunner().invoke(main, ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]),
                                       "--no-llm", "--no-log", "--queue", "gpu", "--entity", "team", "--json", *extra])
    try:
        return result.exit_code, result.output, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, result.output, None


def test_recommend_queue_pushes_one_item_inside_the_space(kb: dict, wandb_backend: Backend) -> None:  # noqa: F811
    queue = _world(wandb_backend)
    code, out, data = _recommend(kb)
    assert code == 0, out
    (item,) = queue.items
    assert data["launch"]["queued"] == item.id
    assert item.spec["job"] == JOB and item.spec["project"] == EXPLAIN_PROJECT and item.spec["entity"] == "team"
    run_config = item.spec["overrides"]["run_config"]
    hparams, _ = split_config(run_config)
    assert kb["space"].without("dataset").validate_config(hparams).ok
    assert hparams == {k: v for k, v in data["recommendation"]["config"].items() if k in hparams}
    labels = run_config[RUN_LABELS_KEY]
    assert labels["group"] == "recommendation" and "metallmix-recommendation" in labels["tags"]
    assert wandb_backend.count("pushToRunQueueByName") == 1 and wandb_backend.unknown == []


def test_a_wrong_job_is_one_line_and_queues_nothing(kb: dict, wandb_backend: Backend) -> None:  # noqa: F811
    queue = _world(wandb_backend)
    code, out, data = _recommend(kb, "--job", "team/nope/missing:latest")
    assert code == 3 and queue.items == [] and wandb_backend.count("pushToRunQueueByName") == 0
    error = data["launch"]["error"]
    assert "'team/nope/missing:latest' is not available" in error and "\n" not in error
    assert "Traceback" not in out and wandb_backend.unknown == []
