"""`dataset log`, and `--dataset-artifact` / the local-path refusal of `recommend --queue` and
`tune --queue`, against the loopback W&B backend (the real SDK and wandb-core; `launch_add` for real)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from tests.support.recommend_kb import MF, kb, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT
from tests.support.tune_kb import PROJECT as TUNE_PROJECT
from tests.support.tune_kb import TuneKB, tune_kb, tune_kb_files  # noqa: F401
from tests.support.wandb_backend import Backend, running_backend, wandb_backend_session_fixture

wandb_backend = pytest.fixture(wandb_backend_session_fixture)
REF = "wandb-artifact://team/data/breast-28:latest"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_dataset_log_prints_the_pinned_reference(wandb_backend: Backend, breastmnist: Path) -> None:
    code, out = _invoke("dataset", "log", str(breastmnist), "--name", "breast-28", "-p", "data")
    assert code == 0, out
    assert "logged dataset artifact wandb-artifact://team/data/breast-28:v0" in out
    assert "--dataset-artifact wandb-artifact://team/data/breast-28:v0" in out and "modality=US" in out
    (art,) = wandb_backend.world.artifacts
    assert art.type == "dataset" and art.metadata["meta_features"]["n_classes"] == 2
    code, out = _invoke("dataset", "log", str(breastmnist), "--name", "bad/name", "-p", "data")
    assert code == 2 and "bad artifact name 'bad/name'" in out


def test_dataset_log_offline_says_how_to_upload(wandb_offline_env: Path, breastmnist: Path) -> None:
    import wandb

    wandb.teardown()  # a fresh W&B session that sees WANDB_MODE=offline
    code, out = _invoke("dataset", "log", str(breastmnist), "--name", "breast-28", "-p", "data", "-e", "team")
    assert code == 0, out
    assert "logged dataset artifact wandb-artifact://team/data/breast-28:latest" in out
    assert "offline: upload it with `wandb sync " in out


@pytest.mark.parametrize("command", [
    ["recommend", "--project", "p", "--no-llm"],
    ["tune", "--project", "p", "--no-llm", "--budget", "2", "--space", "sweeps/smoke.yaml"],
])
def test_queue_with_a_local_path_is_refused_before_anything(wandb_backend: Backend, breastmnist: Path,
                                                           command: list[str]) -> None:
    queue = wandb_backend.world.add_queue("team", "gpu-queue")
    wandb_backend.reset_counts()
    code, out = _invoke(*command, "--data", str(breastmnist), "--queue", "gpu-queue", "--entity", "team")
    assert code == 2
    assert "--queue runs on another machine, which cannot read the local path" in out
    assert "metallmix-wandb dataset log" in out and "Nothing was enqueued." in out
    assert queue.items == [] and wandb_backend.count() == 0  # refused before any request


def test_one_dataset_source_at_a_time(breastmnist: Path) -> None:
    code, out = _invoke("recommend", "--project", "p", "--data", str(breastmnist), "--dataset-artifact", REF)
    assert code == 2 and "give one of --data, --meta-features or --dataset-artifact" in out


def _dataset_artifact(backend: Backend) -> None:
    backend.world.add_artifact("team", "data", "breast-28", "dataset", files={"breastmnist_28.npz": b"npz"},
                               metadata={"meta_features": dict(MF), "root": "breastmnist_28.npz"})


def test_recommend_queue_sends_the_artifact_reference(kb: dict, tmp_path: Path) -> None:  # noqa: F811
    import wandb

    wandb.teardown()
    with running_backend(root=tmp_path / "backend") as backend:
        _dataset_artifact(backend)
        queue = backend.world.add_queue("team", "gpu-queue")
        backend.world.add_artifact("team", EXPLAIN_PROJECT, "metallmix-train", "job",
                                   files={"wandb-job.json": b"{}"})
        code, out = _invoke("recommend", "--project", EXPLAIN_PROJECT, "--entity", "team", "--dataset-artifact",
                            REF, "--no-llm", "--queue", "gpu-queue", "--no-log", "--json")
        assert code == 0, out
        (item,) = queue.items
        assert item.spec["overrides"]["run_config"]["dataset"] == "wandb-artifact://team/data/breast-28:v0"
        assert backend.count("file") == 0  # meta-features from the metadata: nothing downloaded
        assert backend.unknown == []
    wandb.teardown()


def test_tune_queue_trials_carry_the_artifact_reference(tune_kb: TuneKB, tmp_path: Path) -> None:  # noqa: F811
    """The job is missing on the server, so the first trial is not enqueued (the job is checked before
    anything is pushed); its saved spec is what would have been pushed."""
    import wandb

    wandb.teardown()
    with running_backend(root=tmp_path / "backend") as backend:
        _dataset_artifact(backend)
        code, out = _invoke("tune", "--project", TUNE_PROJECT, "--entity", "team", "--space",
                            str(tune_kb.space_path), "--dataset-artifact", REF, "--budget", "2", "--no-llm",
                            "--queue", "no-such-queue", "--job", "team/p/metallmix-train:latest")
    wandb.teardown()
    assert code == 2 and "Nothing was enqueued" in out, out
    (spec_path,) = (tune_kb.cache_dir / "tune" / "specs").glob("*/trial-01.launch.json")
    spec = json.loads(spec_path.read_text())
    assert spec["overrides"]["run_config"]["dataset"] == "wandb-artifact://team/data/breast-28:v0"
