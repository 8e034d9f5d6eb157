"""The loopback backend serves online `wandb.init` runs (operations_runlog.py) and artifact logging
(operations_artifact_log.py): the real SDK and wandb-core write; the world is read back."""

from __future__ import annotations

import pytest
import wandb

from tests.support.wandb_backend import Backend, wandb_backend_session_fixture

wandb_backend = pytest.fixture(wandb_backend_session_fixture)


def test_an_online_run_lands_in_the_world(wandb_backend: Backend) -> None:
    with wandb.init(project="p", job_type="train", group="g", tags=["t"], config={"lr": 0.1}) as run:
        run.log({"val/acc": 0.5})
        run.log({"val/acc": 0.7})
        run.summary["test/acc"] = 0.8
        run_id = run.id
    stored = wandb_backend.world.runs[("team", "p", run_id)]
    assert (stored.state, stored.job_type, stored.group, stored.tags) == ("finished", "train", "g", ["t"])
    assert stored.config["lr"] == 0.1 and stored.summary["test/acc"] == 0.8
    assert [row["val/acc"] for row in stored.history] == [0.5, 0.7]
    assert "output.log" in stored.files or "wandb-metadata.json" in stored.files
    assert wandb_backend.unknown == []


def test_a_failed_run_and_a_new_artifact_version(wandb_backend: Backend, tmp_path) -> None:
    run = wandb.init(project="p")
    for i in range(2):
        (tmp_path / "a.txt").write_text(f"version {i}")
        art = wandb.Artifact("things", type="dataset", metadata={"i": i})
        art.add_file(str(tmp_path / "a.txt"))
        run.log_artifact(art).wait()
    run.finish(exit_code=1)
    assert wandb_backend.world.runs[("team", "p", run.id)].state == "failed"
    v0, v1 = wandb_backend.world.artifacts
    assert (v0.version, v0.aliases, v0.files) == (0, [], {"a.txt": b"version 0"})
    assert (v1.version, v1.aliases, v1.metadata) == (1, ["latest"], {"i": 1})
    assert wandb.Api().artifact("team/p/things:latest").version == "v1"
    assert wandb_backend.unknown == []
