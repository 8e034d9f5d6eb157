"""`tune --queue`'s trial runner at the wire: the real `launch_add` and `wandb.Api` against the loopback
W&B backend. The test plays the launch agent: it takes the pushed item off the queue and creates and
advances the run in the backend's world, with the labels the trainer would pass to `wandb.init`."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from metallmix_wandb.knowledge.experiments import split_config
from metallmix_wandb.training.launch import LaunchError
from metallmix_wandb.training.launch_spec import RUN_LABELS_KEY, launch_init_labels
from metallmix_wandb.tune.records import Proposal, TuneTrial
from metallmix_wandb.tune.state import TuneState, load_state, save_state
from metallmix_wandb.tune.trials import QueueTrialRunner
from tests.support.wandb_backend import Backend, BackendRun, LaunchQueue, QueueItem, wait_for, wandb_backend_fixture
from tests.tune.test_trials import SPACE

wandb_backend = pytest.fixture(wandb_backend_fixture)

CONFIG = {"base_model": "mobilenet_v3_small", "learning_rate": 0.001}
SUMMARY = {"test/acc": 0.75, "train_time_s": 4.0, "val/acc": {"max": 0.8}, "_wandb": {"runtime": 5}}
HISTORY = [{"epoch": 0, "val/acc": 0.7}, {"epoch": 1, "val/acc": 0.8}]


def _runner(tmp_path: Path, **kw: Any) -> QueueTrialRunner:
    runner = QueueTrialRunner(SPACE, dataset=None, project="p", entity="team", group="tune-abc",
                              folder=tmp_path / "specs", queue="q", poll_s=0.05, **kw)
    runner.set_proposal(2, Proposal(config=CONFIG, source="surrogate", reasoning="lower lr helped"))
    return runner


def _world(backend: Backend) -> LaunchQueue:
    backend.world.add_artifact("team", "p", "metallmix-train", "job", files={"wandb-job.json": b"{}"})
    return backend.world.add_queue("team", "q")


def _start_run(backend: Backend, item: QueueItem) -> BackendRun:
    """What an agent + the trainer do with a queue item: start the run with the preset id, the launch
    config merged into its config, and the labels the trainer reads from WANDB_CONFIG."""
    run_config = item.spec["overrides"]["run_config"]
    labels = launch_init_labels({"WANDB_LAUNCH": "True", "WANDB_CONFIG": json.dumps(run_config)})
    with backend.world.lock:
        item.state, item.associated_run_id = "CLAIMED", item.spec["run_id"]
    return backend.world.add_run(item.spec["entity"], item.spec["project"], item.spec["run_id"], state="running",
                                 job_type="train", display_name=labels.get("name"), group=labels.get("group"),
                                 tags=labels.get("tags", []), notes=labels.get("notes"), config=dict(run_config))


@pytest.mark.parametrize("final", ["finished", "failed"])
def test_a_queued_trial_sees_its_run_go_running_then_end(wandb_backend: Backend, tmp_path: Path,
                                                         final: str) -> None:
    queue = _world(wandb_backend)
    started: list[BackendRun] = []

    def agent() -> None:
        wait_for(lambda: queue.items, timeout_s=30)
        run = _start_run(wandb_backend, queue.items[0])
        started.append(run)
        seen = wandb_backend.count("Run")
        wait_for(lambda: wandb_backend.count("Run") >= seen + 2, timeout_s=30)  # the runner saw it running
        with wandb_backend.world.lock:
            run.summary, run.history, run.state = dict(SUMMARY), list(HISTORY), final

    threading.Thread(target=agent, daemon=True).start()
    result = _runner(tmp_path, timeout_s=30)(dict(CONFIG))

    assert wandb_backend.unknown == []
    (item,) = queue.items
    spec = item.spec
    assert spec["job"] == "team/p/metallmix-train:latest" and spec["project"] == "p" and spec["entity"] == "team"
    run_config = spec["overrides"]["run_config"]
    hparams, _ = split_config(run_config)
    assert RUN_LABELS_KEY not in hparams and SPACE.validate_config(hparams).ok
    (run,) = started
    assert run.group == "tune-abc" and {"metallmix-tune", "tune-abc", "trial-2"} <= set(run.tags)
    assert "lower lr helped" in run.notes and run.display_name == "tune-abc trial 2"
    assert wandb_backend.count("UpsertBucket") == 0  # no Run.update rewriting the live run
    assert result.run_path == f"team/p/{spec['run_id']}"
    if final == "failed":
        assert result.status == "crashed" and not result.ok
        return
    assert result.ok and result.metric == 0.75 and result.train_time_s == 4.0, result.error
    # the tune state (with the define_metric(summary="max") value) saves and reads back
    state = TuneState(key="k", tune_id="t", group="tune-abc", project="p", trials=[
        TuneTrial(number=2, proposal=Proposal(config=CONFIG, source="surrogate"), result=result)])
    save_state(state, tmp_path / "state.json")
    back = load_state(tmp_path / "state.json").trials[0].result
    assert back.summary["val/acc"] == {"max": 0.8} and "_wandb" not in back.summary
    assert result.history == HISTORY
    assert wandb_backend.count("RunFullHistory") == 1 and wandb_backend.count("RunParquetHistory") == 0


@pytest.mark.timeout(120)  # a runner that ignores its 1 s timeout hangs: pytest-timeout fails it
def test_a_trial_no_agent_starts_times_out(wandb_backend: Backend, tmp_path: Path) -> None:
    queue = _world(wandb_backend)
    result = _runner(tmp_path, timeout_s=1.0)(dict(CONFIG))
    assert result.status == "crashed" and "not finished after 1 s" in result.error and "queued" in result.error
    assert len(queue.items) == 1 and wandb_backend.unknown == []


def test_a_queued_trial_has_a_default_timeout(tmp_path: Path) -> None:
    assert _runner(tmp_path).timeout_s == 6 * 3600 and _runner(tmp_path, timeout_s=5.0).timeout_s == 5.0


def test_a_wrong_job_leaves_nothing_on_the_queue(wandb_backend: Backend, tmp_path: Path) -> None:
    queue = _world(wandb_backend)
    with pytest.raises(LaunchError, match="'team/p/nope:latest' is not available") as err:
        _runner(tmp_path, job="team/p/nope:latest")(dict(CONFIG))
    assert queue.items == [] and wandb_backend.count("pushToRunQueueByName") == 0
    assert "\n" not in str(err.value) and "Nothing was enqueued" in str(err.value)
