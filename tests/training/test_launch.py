"""The Launch contract: a spec is built only from a config inside the space, and `run_local` trains it
through WANDB_LAUNCH + WANDB_LAUNCH_CONFIG_PATH exactly as a queued run would see it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metallmix_wandb.knowledge.experiments import split_config
from metallmix_wandb.training.launch import LaunchError, enqueue, run_local, write_spec
from metallmix_wandb.knowledge.runs_offline import find_run_dirs, parse_run_dir
from metallmix_wandb.training.launch_spec import (RUN_LABELS_KEY, LaunchSpecError, build_launch_spec,
                                                  launch_init_labels)
from metallmix_wandb.space.search_space import SearchSpace
from tests.support.wandb_runs import wait_for_exit_record

REPO = Path(__file__).resolve().parents[2]
SMOKE = SearchSpace.from_yaml(REPO / "sweeps" / "smoke.yaml").without("dataset")


def test_a_config_outside_the_space_never_becomes_a_spec() -> None:
    bad = {**SMOKE.sample(0)[0], "learning_rate": 3.0}
    with pytest.raises(LaunchSpecError, match="learning_rate"):
        build_launch_spec(bad, SMOKE, dataset="d.npz", project="p")


def test_labels_travel_in_the_run_config_and_are_no_hyperparameters(tmp_path: Path) -> None:
    config = SMOKE.sample(0)[0]
    spec = build_launch_spec(config, SMOKE, dataset="d.npz", project="p", group="g", tags=["a", "b"],
                             notes="why", name="n")
    labels = {"group": "g", "tags": ["a", "b"], "notes": "why", "name": "n"}
    assert spec.run_config[RUN_LABELS_KEY] == labels
    hparams, meta = split_config(spec.run_config)  # what sync reads back from the run's config
    assert RUN_LABELS_KEY not in hparams and meta == {} and SMOKE.validate_config(hparams).ok
    assert RUN_LABELS_KEY not in build_launch_spec(config, SMOKE, dataset=None, project="p").run_config
    # the trainer reads them where wandb.init reads the launch config, and only in a launched run
    path = write_spec(spec, tmp_path, "rec")
    cfg = json.dumps(spec.run_config)
    chunks = {f"WANDB_CONFIG_{i}": cfg[i * 50:(i + 1) * 50] for i in range(len(cfg) // 50 + 1)}
    for env in ({"WANDB_CONFIG": cfg}, {"WANDB_LAUNCH_CONFIG_PATH": str(path)}, chunks):
        assert launch_init_labels({"WANDB_LAUNCH": "True", **env}) == labels
    assert launch_init_labels({"WANDB_CONFIG": cfg}) == {}
    bad = json.dumps({RUN_LABELS_KEY: {"tags": 3}})
    assert launch_init_labels({"WANDB_LAUNCH": "True", "WANDB_CONFIG": bad}) == {}
    assert launch_init_labels({"WANDB_LAUNCH": "True", "WANDB_CONFIG": "{broken"}) == {}


def test_offline_queue_fails_clearly_and_names_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    spec = build_launch_spec(SMOKE.sample(0)[0], SMOKE, dataset="d.npz", project="p", entity="team", queue="gpu")
    path = write_spec(spec, tmp_path, "rec")
    with pytest.raises(LaunchError, match=str(path)):
        enqueue(spec, path)


@pytest.mark.slow
def test_run_local_trains_through_the_launch_contract(wandb_offline_env: Path, breastmnist: Path,
                                                      tmp_path: Path) -> None:
    config = {**SMOKE.sample(1)[0], "base_model": "mobilenet_v3_small", "fine_tuning": "full"}
    spec = build_launch_spec(config, SMOKE, dataset=str(breastmnist), project="launch-test",
                             group="recommendation-abc", tags=["metallmix-recommendation"], notes="why")
    result = run_local(write_spec(spec, tmp_path, "rec"), spec, timeout_s=300)
    assert result.exit_code == 0, result.log_tail
    (run_dir,) = find_run_dirs(wandb_offline_env)
    wait_for_exit_record(run_dir)
    run = parse_run_dir(run_dir)
    assert run.state == "finished" and run.project == "launch-test" and run.group == "recommendation-abc"
    assert run.tags == ["metallmix-recommendation"] and run.notes == "why"  # from the run config, no env
    for key, value in config.items():
        assert run.config[key] == value, key
    assert run.config["dataset"] == str(breastmnist) and 0.0 <= run.summary["test/acc"] <= 1.0
