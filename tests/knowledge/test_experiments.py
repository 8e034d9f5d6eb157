from __future__ import annotations

import math

import pytest

from metallmix_wandb.knowledge.experiments import MetricNames, split_config, summarise_trajectory, to_experiment
from metallmix_wandb.knowledge.records import COMPLETE_KEY, TRAINER_KEY, Experiment, RawRun, SkippedRun

NAMES = MetricNames()
CONFIG = {"dataset": "/d/breast.npz", "learning_rate": 1e-3, "meta/n_classes": 2, "meta/modality": "US",
          "_wandb": {}, "dataset_name": "breast"}


def _raw(**kw) -> RawRun:
    base = dict(path="/runs/a", run_id="a", state="finished", exit_code=0, config=CONFIG,
                summary={"test/acc": 0.8, "train_time_s": 12.0, "_runtime": 13.0},
                history=[{"val/acc": 0.5}, {"val/acc": 0.7}, {"val/acc": 0.6}])
    return RawRun(**{**base, **kw})


def test_usable_run_becomes_an_experiment() -> None:
    exp = to_experiment(_raw(), NAMES, run_path="offline/p/a")
    assert isinstance(exp, Experiment)
    assert exp.run_path == "offline/p/a" and exp.source == "/runs/a"
    assert exp.config == {"learning_rate": 1e-3}
    assert exp.meta_features == {"n_classes": 2.0, "modality": "US"}
    assert exp.dataset_name == "breast" and exp.train_time_s == 12.0
    assert exp.trajectory.best_epoch == 1 and exp.trajectory.best_value == 0.7 and exp.trajectory.final_value == 0.6


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"state": "crashed", "exit_code": 1}, "crashed"),
        ({"state": "incomplete", "exit_code": None}, "incomplete"),
        ({"summary": {"train_time_s": 1.0}}, "missing metric"),
        ({"summary": {"test/acc": None}}, "NaN metric"),
        ({"summary": {"test/acc": math.inf}}, "NaN metric"),
        ({"summary": {"test/acc": "high"}}, "NaN metric"),
        ({"config": {"learning_rate": 1e-3, "meta/n_classes": 2}}, "no dataset"),
        ({"config": {"dataset": "x", "learning_rate": 1e-3}}, "no meta-features"),
        ({"job_type": "recommendation"}, "not a training run"),
    ],
)
def test_unusable_runs_are_skipped_with_a_reason(change: dict, reason: str) -> None:
    result = to_experiment(_raw(**change), NAMES)
    assert isinstance(result, SkippedRun)
    assert result.reason == reason and result.path == "/runs/a"


def test_a_run_of_our_trainer_without_its_end_marker_is_incomplete() -> None:
    """Issue 16: a trainer SIGKILLed while sharing its parent's W&B service got exit code 0."""
    ours = {**CONFIG, TRAINER_KEY: 1}
    done = {"test/acc": 0.8, "train_time_s": 12.0, COMPLETE_KEY: True}
    killed = to_experiment(_raw(config=ours, summary={"test/acc": 0.8, "train_time_s": 12.0}), NAMES)
    assert isinstance(killed, SkippedRun) and killed.reason == "incomplete" and "end marker" in killed.detail
    assert isinstance(to_experiment(_raw(config=ours, summary=done), NAMES), Experiment)
    # Runs of other trainers (imported tables, other teams) carry no marker and are kept as before.
    assert isinstance(to_experiment(_raw(), NAMES), Experiment)


def test_target_metric_is_a_setting() -> None:
    raw = _raw(summary={"test/f1": 0.4})
    assert isinstance(to_experiment(raw, NAMES), SkippedRun)
    assert isinstance(to_experiment(raw, MetricNames(target="test/f1")), Experiment)


def test_train_time_falls_back_to_runtime() -> None:
    exp = to_experiment(_raw(summary={"test/acc": 0.8, "_runtime": 13.0}), NAMES)
    assert isinstance(exp, Experiment) and exp.train_time_s == 13.0


def test_split_config_accepts_nested_meta() -> None:
    hp, meta = split_config({"meta": {"n_classes": 3, "modality": "CT"}, "lr": 0.1, "dataset": "d"})
    assert hp == {"lr": 0.1} and meta == {"n_classes": 3.0, "modality": "CT"}


def test_trajectory_of_empty_or_nan_history() -> None:
    assert summarise_trajectory([], "val/acc").best_epoch is None
    t = summarise_trajectory([{"val/acc": math.nan}, {"val/acc": None}, {"x": 1}], "val/acc")
    assert t.epochs == 3 and t.best_value is None
