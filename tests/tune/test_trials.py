"""Trial runners and the tune state file: a crashed real trial, results read back from runs, atomic state.
The queued trial (`--queue`) is tested at the wire in test_trials_backend.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from metallmix_wandb.tune.state import TuneState, load_state, save_state, state_key, state_path
from metallmix_wandb.tune.trials import LocalTrialRunner, result_from_run
from metallmix_wandb.knowledge.records import RawRun
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.records import Proposal, TrialResult, TuneTrial

SPACE = SearchSpace.from_yaml_text("""
parameters:
  base_model: {values: [mobilenet_v3_small]}
  learning_rate: {values: [0.001]}
  epochs: {value: 1}
  image_size: {value: 32}
  max_train_samples: {value: 60}
""")


def _raw(state: str = "finished", summary: dict | None = None) -> RawRun:
    return RawRun(path="/runs/x", run_id="x", state=state, exit_code=0 if state == "finished" else 1,
                  summary=summary if summary is not None else {"test/acc": 0.8, "train_time_s": 3.0, "_runtime": 9},
                  history=[{"_step": 0, "epoch": 0, "val/acc": 0.7}])


def test_a_finished_run_becomes_a_result() -> None:
    r = result_from_run({"a": 1}, _raw(), {}, "test/acc", "train_time_s", 0, run_path="offline/p/x")
    assert r.ok and r.metric == 0.8 and r.train_time_s == 3.0 and r.run_dir == "/runs/x"
    assert r.history == [{"epoch": 0, "val/acc": 0.7}] and "_runtime" not in r.summary


@pytest.mark.parametrize(("raw", "code", "error"), [
    (_raw("crashed"), 1, "exit code 1"),
    (_raw(summary={"test/acc": math.nan}), 0, "no finite test/acc"),
    (None, None, "no finite test/acc"),
])
def test_unusable_runs_are_crashed_trials(raw: RawRun | None, code: int | None, error: str) -> None:
    r = result_from_run({"a": 1}, raw, {}, "test/acc", "train_time_s", code)
    assert r.status == "crashed" and not r.ok and r.metric is None and error in r.error


def test_the_trainers_result_file_is_the_fallback() -> None:
    written = {"history": [{"val/acc": 0.5}], "summary": {"test/acc": 0.6}, "run_dir": "/gone", "error": None}
    r = result_from_run({}, None, written, "test/acc", "train_time_s", 0)
    assert r.ok and r.metric == 0.6 and r.run_dir == "/gone" and r.history == [{"val/acc": 0.5}]


def test_state_round_trip_is_small_and_atomic(tmp_path: Path) -> None:
    key = state_key("p", "/data/a.npz", SPACE.to_sweep_config(), "accuracy", None)
    assert key == state_key("p", "/data/a.npz", SPACE.to_sweep_config(), "accuracy", None)
    assert key != state_key("p", "/data/a.npz", SPACE.to_sweep_config(), "time", None)
    path = state_path(tmp_path, "team/proj", key)
    assert path.parent.name == "team_proj"
    trained = TrialResult(config={"a": 1}, metric=0.5, history=[{"val/acc": 0.5}], run_dir="/runs/x")
    looked_up = TrialResult(config={"a": 2}, metric=0.6, history=[{"val/acc": 0.6}])
    state = TuneState(key=key, tune_id="t", group="tune-t", project="p", trials=[
        TuneTrial(number=1, proposal=Proposal(config={"a": 1}, source="x"), result=trained),
        TuneTrial(number=2, proposal=Proposal(config={"a": 2}, source="x"), result=looked_up)])
    save_state(state, path)
    back = load_state(path)
    assert back.trials[0].result.history == [] and back.trials[1].result.history == [{"val/acc": 0.6}]
    assert state.trials[0].result.history == [{"val/acc": 0.5}]  # the caller's copy is untouched
    assert [p.name for p in path.parent.iterdir()] == [path.name] and load_state(tmp_path / "none.json") is None
    path.write_text("{broken")
    with pytest.raises(ValueError, match="delete it"):
        load_state(path)


@pytest.mark.slow
def test_a_real_trial_that_crashes_is_a_crashed_result(wandb_offline_env: Path, tmp_path: Path) -> None:
    """The real trainer through the Launch contract, on a dataset path that does not exist: exit 1."""
    runner = LocalTrialRunner(SPACE, dataset=str(tmp_path / "missing.npz"), project="tune-crash", group="tune-c",
                              folder=tmp_path / "specs")
    runner.set_proposal(1, Proposal(config={}, source="surrogate", reasoning="because"))
    result = runner(SPACE.snap({}).config)
    assert result.status == "crashed" and not result.ok and "dataset" in result.error
    assert result.run_dir is not None and (tmp_path / "specs" / "trial-01.launch.json").is_file()
    from metallmix_wandb.tune.trials import read_run

    raw = read_run(result.run_dir)
    assert raw.group == "tune-c" and raw.state == "crashed" and "because" in raw.notes
    assert raw.name == "tune-c trial 1" and "trial-1" in raw.tags
