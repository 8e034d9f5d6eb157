"""`run_tune` with real parts but no training: the real knowledge cache and meta-learner, the W&B SDK
offline for the tune run, the state file; each trial looked up from the smoke space's known structure.
Ctrl-C (KeyboardInterrupt in a trial) must leave the finished trials logged and the tune run stopped,
and a resume must continue from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from metallmix_wandb.knowledge.meta_learner.artifact import load_knowledge
from metallmix_wandb.tune.log import TuneRunLogger
from metallmix_wandb.tune.state import TuneState, load_state, state_path
from metallmix_wandb.knowledge.runs_offline import find_run_dirs, parse_run_dir
from metallmix_wandb.tune.records import TrialResult
from metallmix_wandb.recommend.pipeline import recommendable_space
from metallmix_wandb.tune.pipeline import TuneRequest, run_tune
from metallmix_wandb.tune.agent import first_from_meta_learner
from tests.support.tune_kb import PROJECT, TuneKB, smoke_acc, smoke_experiments, tune_kb, tune_kb_files  # noqa: F401
from tests.support.wandb_runs import wait_for_exit_record

META = {"n_instances": 780.0, "n_classes": 2.0, "imbalance_ratio": 2.7, "class_entropy": 0.84, "resolution": 28.0,
        "modality": "US"}


class Table:
    def __init__(self, interrupt_at: int | None = None) -> None:
        self.calls: list[dict] = []
        self.interrupt_at = interrupt_at

    def __call__(self, config: dict) -> TrialResult:
        if self.interrupt_at is not None and len(self.calls) + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append(config)
        acc = smoke_acc(META, config)
        return TrialResult(config=config, metric=acc, train_time_s=5.0 + len(self.calls),
                           history=[{"epoch": 0, "val/acc": acc, "train/acc": acc + 0.05}])


def _runs(root: Path, job_type: str) -> list:
    dirs = find_run_dirs(root)
    for d in dirs:  # W&B's service writes the exit record just after finish() returns
        wait_for_exit_record(d)
    return [r for r in (parse_run_dir(d) for d in dirs) if r.job_type == job_type]


def test_ctrl_c_marks_the_tune_run_stopped_and_resume_continues(tune_kb: TuneKB, tmp_path: Path) -> None:  # noqa: F811
    runs_root = Path(__import__("os").environ["WANDB_DIR"]) / "wandb"
    knowledge = load_knowledge(PROJECT, tune_kb.cache_dir)
    space = recommendable_space(tune_kb.space)
    path = state_path(tune_kb.cache_dir, PROJECT, "k1")
    state = TuneState(key="k1", tune_id="t1", group="tune-t1", project=PROJECT, meta_features=META,
                      space=space.to_sweep_config(), budget=5)
    learner = knowledge.learner()
    first = first_from_meta_learner(learner, META, space)
    logger = TuneRunLogger(PROJECT, state.group, "tune-t1", {"budget": 5})
    logger.start()
    base = smoke_experiments()
    req = TuneRequest(budget=5, use_llm=False)
    stopped = run_tune(meta=META, space=tune_kb.space, knowledge=knowledge, base_experiments=base, state=state,
                       state_file=path, evaluate_config=Table(interrupt_at=3), req=req, first=first, logger=logger)
    assert stopped.stop_reason == "interrupted" and len(stopped.trials) == 2
    saved = load_state(path)
    assert saved.status == "stopped" and [t.number for t in saved.trials] == [1, 2]
    (run,) = _runs(runs_root, "tune")
    assert run.group == "tune-t1" and run.exit_code == 130 and run.summary["tune/status"] == "stopped"
    assert [row["tune/best_so_far"] for row in run.history if "tune/best_so_far" in row] == \
        [t.best_so_far for t in stopped.trials]
    assert (Path(run.path) / "files" / "tune.json").is_file()

    table = Table()
    logger2 = TuneRunLogger(PROJECT, saved.group, "tune-t1 (resumed)", {"budget": 4})
    logger2.start()
    done = run_tune(meta=META, space=tune_kb.space, knowledge=knowledge, base_experiments=base,
                    state=saved.model_copy(update={"budget": 4}), state_file=path, evaluate_config=table,
                    req=req.model_copy(update={"budget": 4}), logger=logger2)
    assert done.stop_reason == "budget" and len(done.trials) == 4 and len(table.calls) == 2
    assert [t.result.config for t in done.trials[:2]] == [t.result.config for t in stopped.trials]
    assert len({str(sorted(t.result.config.items())) for t in done.trials}) == 4
    assert load_state(path).status == "finished"
    resumed = next(r for r in _runs(runs_root, "tune") if r.name == "tune-t1 (resumed)")
    assert resumed.summary["tune/status"] == "finished" and resumed.summary["tune/resumed_from"] == 2
    assert resumed.summary["final_choice"] == done.best_trial.result.config
    assert resumed.summary["tune/pareto_trials"] == done.pareto


def test_trial_one_is_recommends_answer_and_the_target_stops(tune_kb: TuneKB, tmp_path: Path) -> None:  # noqa: F811
    from metallmix_wandb.knowledge.store import ExperimentStore, collection_name, open_client
    from metallmix_wandb.tune.pipeline import first_trial

    knowledge = load_knowledge(PROJECT, tune_kb.cache_dir)
    req = TuneRequest(budget=3, use_llm=False, target=0.0)
    with ExperimentStore(open_client(path=tune_kb.qdrant_path), collection_name(PROJECT)) as store:
        first, evidence = first_trial(META, tune_kb.space, store, knowledge, req)
    assert first.source == "recommend:meta-learner" and len(evidence) == 4 and first.predicted is not None
    state = TuneState(key="k2", tune_id="t2", group="tune-t2", project=PROJECT, evidence=evidence)
    out = run_tune(meta=META, space=tune_kb.space, knowledge=knowledge, base_experiments=[], state=state,
                   state_file=tmp_path / "s.json", evaluate_config=Table(), req=req, first=first)
    assert len(out.trials) == 1 and out.stop_reason == "target"
    assert out.trials[0].result.config == first.config


def test_objective_time_lowers_the_predicted_training_time(tune_kb: TuneKB, tmp_path: Path) -> None:  # noqa: F811
    """The same tune, by accuracy and by time: the configs `--objective time` chooses after recommend's
    first trial are predicted to train faster (an ignored objective would choose the same ones)."""
    from metallmix_wandb.tune.objective import TimePolicy

    knowledge = load_knowledge(PROJECT, tune_kb.cache_dir)
    space = recommendable_space(tune_kb.space)
    learner = knowledge.learner()
    predicted_time: dict[str, float] = {}
    for objective in ("accuracy", "time"):
        state = TuneState(key=f"k-{objective}", tune_id="t3", group="tune-t3", project=PROJECT)
        req = TuneRequest(budget=3, use_llm=False, policy=TimePolicy(objective=objective), portfolio=1)
        out = run_tune(meta=META, space=tune_kb.space, knowledge=knowledge, base_experiments=smoke_experiments(),
                       state=state, state_file=tmp_path / f"{objective}.json", evaluate_config=Table(), req=req,
                       first=first_from_meta_learner(learner, META, space))
        assert len(out.trials) == 3 and out.pareto and f"objective {objective}" in out.trials[1].proposal.reasoning
        chosen = [t.result.config for t in out.trials[1:]]
        predicted_time[objective] = sum(p.train_time_s for p in learner.predict(META, chosen))
    assert predicted_time["time"] < predicted_time["accuracy"], predicted_time
