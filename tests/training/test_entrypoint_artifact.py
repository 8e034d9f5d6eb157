"""A launched run trains from a dataset artifact reference, at the wire: the dataset is logged by
`metallmix-wandb dataset log` through the real SDK into the loopback W&B backend, then the trainer runs
as a Launch agent starts it (WANDB_LAUNCH=True + WANDB_LAUNCH_CONFIG_PATH, `run_local`), online against
the backend, and downloads the artifact through `run.use_artifact` (lineage recorded on the server)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli.commands import main
from metallmix_wandb.knowledge.experiments import MetricNames, to_experiment
from metallmix_wandb.knowledge.records import Experiment, RawRun
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.training.launch import run_local, write_spec
from metallmix_wandb.training.launch_spec import build_launch_spec
from tests.support.wandb_backend import Backend, wandb_backend_session_fixture

wandb_backend = pytest.fixture(wandb_backend_session_fixture)
REPO = Path(__file__).resolve().parents[2]
SMOKE = SearchSpace.from_yaml(REPO / "sweeps" / "smoke.yaml").without("dataset")


def _log(path: Path, name: str, project: str) -> str:
    result = CliRunner().invoke(main, ["dataset", "log", str(path), "--name", name, "-p", project, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["reference"]


@pytest.mark.slow
def test_a_launched_run_trains_from_an_artifact_reference(wandb_backend: Backend, breastmnist: Path,
                                                          tmp_path: Path) -> None:
    ref = _log(breastmnist, "breast-28", "data")
    assert ref == "wandb-artifact://team/data/breast-28:v0"
    config = {**SMOKE.sample(1)[0], "base_model": "mobilenet_v3_small", "fine_tuning": "feature_extraction"}
    spec = build_launch_spec(config, SMOKE, dataset=ref, project="launch-test", entity="team",
                             group="recommendation-abc")
    result = run_local(write_spec(spec, tmp_path, "rec"), spec, timeout_s=300)
    assert result.exit_code == 0, result.log_tail

    (art,) = wandb_backend.world.artifacts
    (run,) = [r for r in wandb_backend.world.project_runs("team", "launch-test")]
    assert run.state == "finished" and run.job_type == "train" and run.group == "recommendation-abc"
    assert run.used_artifacts == [art.id]  # lineage: the server knows this run used the dataset
    # W&B stores an artifact config value as the artifact it used; the reference goes beside it
    assert run.config["dataset"]["_type"] == "artifactVersion" and run.config["dataset"]["id"] == art.id
    assert run.config["dataset_artifact"] == "team/data/breast-28:v0"
    assert run.config["dataset_name"] == "breastmnist_28"
    assert run.config["meta/modality"] == "US" and run.config["meta/n_instances"] == 546
    assert 0.0 <= run.summary["test/acc"] <= 1.0
    downloaded = Path(run.summary["dataset_source"])
    assert downloaded.name == "breastmnist_28.npz" and "datasets" in downloaded.parts
    assert hashlib.md5(downloaded.read_bytes()).digest() == hashlib.md5(breastmnist.read_bytes()).digest()
    assert wandb_backend.unknown == []
    # and `sync` counts the run under the reference (not "no dataset")
    import wandb

    api_run = wandb.Api(timeout=30).run(f"team/launch-test/{run.name}")  # the config as sync reads it
    raw = RawRun(path=api_run.path and "/".join(api_run.path), run_id=api_run.id, state=api_run.state,
                 job_type=api_run.job_type, config=dict(api_run.config), summary=api_run.summary._json_dict,
                 history=list(run.history))
    exp = to_experiment(raw, MetricNames())
    assert isinstance(exp, Experiment), exp
    assert exp.dataset == ref and exp.dataset_name == "breastmnist_28" and "dataset_artifact" not in exp.config


def test_an_unknown_artifact_fails_the_run_in_one_line(wandb_backend: Backend, tmp_path: Path) -> None:
    """W&B resolves the artifact reference in the Launch config inside `wandb.init`, so a missing one
    fails the start: one line that names the artifact, exit code 1, nothing trained."""
    wandb_backend.world.add_artifact("team", "data", "other", "dataset", files={"x.npz": b"x"})
    config = {**SMOKE.sample(1)[0], "base_model": "mobilenet_v3_small"}
    ref = "wandb-artifact://team/data/nope:latest"
    spec = build_launch_spec(config, SMOKE, dataset=ref, project="launch-test", entity="team")
    result = run_local(write_spec(spec, tmp_path, "rec"), spec, timeout_s=120)
    assert result.exit_code == 1
    (line,) = result.log_tail.strip().splitlines()
    assert line.startswith("error: wandb.init failed") and "nope:latest" in line, line
    assert not [r for r in wandb_backend.world.project_runs("team", "launch-test") if "test/acc" in r.summary]


def test_offline_a_reference_is_refused_with_a_clear_line(wandb_offline_env: Path) -> None:
    from tests.training.test_entrypoint import _run_train

    proc = _run_train(["--dataset=wandb-artifact://team/data/breast-28:v0", "--epochs=1"])
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: wandb-artifact://team/data/breast-28:v0 needs W&B online (WANDB_MODE is "
                                   "offline): the artifact is downloaded from the server; pass a local path as --dataset")
