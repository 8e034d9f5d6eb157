"""`metallmix-wandb tune` end to end: the real trainer through the Launch contract (offline W&B runs),
the real knowledge base (embedded Qdrant, XGBoost, SHAP digest), the state file and --resume."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.tune.state import load_state
from metallmix_wandb.knowledge.runs_offline import find_run_dirs, parse_run_dir
from metallmix_wandb.cli import main
from tests.support.tune_kb import PROJECT, TuneKB, tune_kb, tune_kb_files  # noqa: F401
from tests.support.wandb_runs import wait_for_exit_record


def _tune(kb: TuneKB, *extra: str) -> tuple[int, str, dict | None]:
    args = ["tune", "--project", PROJECT, "--space", str(kb.space_path), "--json", *extra]
    result = CliRunner().invoke(main, args)
    try:
        return result.exit_code, result.output, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, result.output, None


def _runs() -> list:
    root = Path(os.environ["WANDB_DIR"]) / "wandb"
    dirs = find_run_dirs(root) if root.exists() else []
    for d in dirs:  # W&B's service writes the exit record just after finish() returns
        wait_for_exit_record(d)
    return [parse_run_dir(d) for d in dirs]


def test_meta_features_alone_need_a_queue(tune_kb: TuneKB, tmp_path: Path) -> None:  # noqa: F811
    mf = tmp_path / "mf.json"
    mf.write_text(json.dumps({"n_instances": 500, "n_classes": 2, "modality": "US"}))
    code, out, _ = _tune(tune_kb, "--meta-features", str(mf), "--budget", "2", "--no-llm")
    assert code == 2 and "needs --data" in out
    code, out, _ = _tune(tune_kb, "--meta-features", str(mf), "--budget", "2", "--no-llm", "--resume")
    assert code == 2 and "needs --data" in out


def test_resume_without_a_tune_says_so(tune_kb: TuneKB, breastmnist: Path) -> None:  # noqa: F811
    code, out, _ = _tune(tune_kb, "--data", str(breastmnist), "--budget", "2", "--no-llm", "--resume")
    assert code == 2 and "nothing to resume" in out


def test_an_unreachable_queue_stops_the_tune_cleanly(tune_kb: TuneKB, tmp_path: Path) -> None:  # noqa: F811
    mf = tmp_path / "mf.json"
    mf.write_text(json.dumps({"n_instances": 500, "n_classes": 2, "modality": "US"}))
    code, out, _ = _tune(tune_kb, "--meta-features", str(mf), "--budget", "2", "--no-llm", "--queue", "gpu")
    assert code == 2 and "W&B is offline" in out and "--resume" in out
    (run,) = _runs()
    assert run.job_type == "tune" and run.summary["tune/status"] == "stopped" and run.summary["tune/trials_run"] == 0


def test_task_option_reaches_the_llm_prompts(tune_kb: TuneKB, tmp_path: Path) -> None:  # noqa: F811
    """`--task` is recommend's option (one definition): trial 1's recommend prompt carries it."""
    from tests.support.fake_llm import FakeLLMServer, reply

    mf = tmp_path / "mf.json"
    mf.write_text(json.dumps({"n_instances": 500, "n_classes": 2, "modality": "US"}))
    with FakeLLMServer([reply("not json")]) as server:
        code, out, _ = _tune(tune_kb, "--meta-features", str(mf), "--budget", "2", "--queue", "gpu",
                             "--base-url", server.base_url, "--model", "fake", "--max-train-time", "1e9",
                             "--task", "Tabular churn prediction.")
    assert code == 2 and "W&B is offline" in out
    assert server.requests and "Tabular churn prediction." in json.dumps(server.requests[0]["messages"])


@pytest.mark.slow
def test_three_real_trials_with_a_resume(tune_kb: TuneKB, breastmnist: Path) -> None:  # noqa: F811
    """2 trials, then --resume to a budget of 3: three real trainer runs (1 epoch, 32 px, 150 images)."""
    code, out, first = _tune(tune_kb, "--data", str(breastmnist), "--budget", "2", "--no-llm")
    assert code == 0, out
    code, out, data = _tune(tune_kb, "--data", str(breastmnist), "--budget", "3", "--no-llm", "--resume")
    assert code == 0, out
    assert data["group"] == first["group"] and "resuming" in out
    outcome = data["outcome"]
    trials = outcome["trials"]
    assert [t["number"] for t in trials] == [1, 2, 3] and outcome["stop_reason"] == "budget"
    assert trials[0]["proposal"]["source"] == "recommend:meta-learner"
    assert [t["proposal"]["source"] for t in trials[1:]] == ["surrogate", "surrogate"]
    configs = [t["result"]["config"] for t in trials]
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == 3
    assert all(tune_kb.space.without("dataset").validate_config(c).ok for c in configs)
    assert all(c["max_train_samples"] == 150 and c["epochs"] == 1 for c in configs)
    finished = [t for t in trials if t["result"]["status"] == "finished"]
    assert finished and all(t["curve"]["epochs"] == 1 and t["curve"]["trend"] == "too short" for t in finished)
    best = [t["best_so_far"] for t in trials if t["best_so_far"] is not None]
    assert best == sorted(best) and outcome["best"] is not None

    runs = _runs()
    train = sorted((r for r in runs if r.job_type == "train"), key=lambda r: r.name)
    assert len(train) == 3 and {r.group for r in train} == {data["group"]}
    for t, r in zip(trials, train, strict=True):
        assert r.name.endswith(f"trial {t['number']}") and t["proposal"]["source"] in r.notes
        assert t["result"]["run_path"].endswith(r.run_id) and len(r.history) == 1
        assert r.config["base_model"] == t["result"]["config"]["base_model"]
    tune_runs = [r for r in runs if r.job_type == "tune"]
    assert len(tune_runs) == 2 and {r.summary["tune/status"] for r in tune_runs} == {"finished"}
    last = max(tune_runs, key=lambda r: r.summary["tune/trials_run"])
    assert last.summary["final_choice"] == configs[outcome["best"] - 1]
    state = load_state(Path(data["state_file"]))
    assert state.status == "finished" and len(state.trials) == 3 and len(state.tune_runs) == 2
    assert all(t.result.history == [] for t in state.trials)  # the runs hold the curves, not the state
