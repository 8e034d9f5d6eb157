"""QueueTrialRunner against the loopback W&B backend (the real wandb.Api and wandb-core)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.wandb_backend import Backend, running_backend, wait_for
from tests.tune.test_trials import SPACE


@pytest.fixture
def wandb_backend(tmp_path: Path) -> Iterator[Backend]:
    with running_backend(root=tmp_path / "wandb_backend") as backend:
        yield backend


@pytest.mark.xfail(strict=True, reason="QueueTrialRunner._wait polls api.run(path), which wandb.Api caches: "
                                       "the run's state never changes after the first read (needs "
                                       "run.load(force=True) or api.flush() per poll)")
def test_a_queued_trial_sees_its_run_finish(wandb_backend: Backend, tmp_path: Path) -> None:
    from metallmix_wandb.tune.records import Proposal
    from metallmix_wandb.tune.trials import QueueTrialRunner

    config = {"base_model": "mobilenet_v3_small", "learning_rate": 0.001}
    run = wandb_backend.world.add_run("team", "p", "r1", state="running", config=config,
                                      summary={"test/acc": 0.75, "train_time_s": 4.0},
                                      history=[{"epoch": 0, "val/acc": 0.7}])
    runner = QueueTrialRunner(SPACE, dataset=None, project="p", group="tune-abc", folder=tmp_path, queue="q",
                              poll_s=0.1)
    runner.timeout_s = 3.0
    runner.set_proposal(2, Proposal(config={}, source="surrogate", reasoning="lower lr helped"))

    def finish_after_first_poll() -> None:
        wait_for(lambda: wandb_backend.count("Run") >= 1)
        time.sleep(0.3)
        with wandb_backend.world.lock:
            run.state = "finished"

    threading.Thread(target=finish_after_first_poll, daemon=True).start()
    result = runner._wait(config, "r1", start=time.perf_counter())
    assert result.ok and result.metric == 0.75, (result.error, wandb_backend.graphql_counts())
    assert run.group == "tune-abc" and "trial-2" in run.tags
