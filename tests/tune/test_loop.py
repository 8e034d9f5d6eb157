"""Lookup-mode tuning (no training): `tune_lookup` / `run_tune_loop` driven by a callable over a synthetic
table, with the real meta-learner, without an LLM and with a scripted loopback LLM server."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from metallmix_wandb.llm.client import LLMClient
from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
from metallmix_wandb.tune.surrogate import Surrogate
from tests.support.data_block import split_data_block
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.objective import TimePolicy
from metallmix_wandb.tune.records import TrialResult, TuneOutcome, config_key
from metallmix_wandb.tune.agent import TuneAgent, first_from_meta_learner, tune_lookup
from metallmix_wandb.tune.loop import TuneLoopError, run_tune_loop
from tests.support.fake_llm import FakeLLMServer, Reply, completion, reply
from tests.support.synthetic import experiments
from tests.support.tune_lookup import Lookup, synth  # noqa: F401


def _check(outcome: TuneOutcome, space: SearchSpace) -> None:
    keys = [config_key(t.result.config) for t in outcome.trials]
    assert len(set(keys)) == len(keys), "a config was tried twice"
    assert all(space.validate_config(t.result.config).ok for t in outcome.trials)
    curve = [b for b in outcome.best_so_far if b is not None]
    assert curve == sorted(curve)


def test_without_llm_the_refitted_surrogate_proposes(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=6, portfolio=1)
    _check(out, synth["space"])
    assert len(out.trials) == 6 and out.stop_reason == "budget" and out.best is not None
    first = synth["learner"].best_config(synth["meta"], synth["space"]).config
    assert out.trials[0].result.config == first and out.trials[0].proposal.source == "recommend:meta-learner"
    assert {t.proposal.source for t in out.trials[1:]} == {"surrogate"}
    assert "refitted with 5 finished trial(s)" in out.trials[5].proposal.reasoning
    assert table.percentile(out.best_trial.result.metric) >= table.percentile(out.trials[0].result.metric)
    assert out.trials[2].curve.trend == "improving" and out.pareto


def test_the_surrogate_learns_from_the_trials(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    configs = synth["space"].sample(np.random.default_rng(3), 6)
    surrogate = Surrogate(synth["learner"], synth["base"], "test/acc")
    from metallmix_wandb.tune.records import Proposal
    from metallmix_wandb.tune.loop import make_trial

    trials = []
    for i, c in enumerate(configs, 1):
        trials.append(make_trial(i, Proposal(config=c, source="test"), table(c), trials))
    before = synth["learner"].predict(synth["meta"], configs)
    after = surrogate.refit(synth["meta"], trials).predict(synth["meta"], configs)
    truth = np.array([t.result.metric for t in trials])
    err = lambda preds: float(np.abs(np.array([p.raw_metric for p in preds]) - truth).mean())
    assert err(after) < err(before)
    assert surrogate.refit(synth["meta"], []) is synth["learner"]


def test_target_stops_early(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    first = first_from_meta_learner(synth["learner"], synth["meta"], synth["space"])
    target = table(first.config).metric - 1e-9
    out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=5, target=target)
    assert len(out.trials) == 1 and out.stop_reason == "target"


def test_a_crashed_trial_is_summarised_and_the_loop_goes_on(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"], crash=lambda c: c["learning_rate"] == 0.01)
    agent_first = synth["learner"].best_config(synth["meta"], synth["space"]).config
    crash_cfg = {**agent_first, "learning_rate": 0.01}
    from metallmix_wandb.tune.records import Proposal

    out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=4,
                      first=Proposal(config=crash_cfg, source="test"), portfolio=1)
    _check(out, synth["space"])
    assert len(out.trials) == 4 and out.trials[0].result.status == "crashed" and out.trials[0].curve.crashed
    assert out.trials[0].best_so_far is None and out.best is not None and out.best != 1
    assert "1 crashed one(s)" in out.trials[1].proposal.reasoning


def test_exhausted_space_stops(synth: dict) -> None:  # noqa: F811
    tiny = SearchSpace.from_yaml_text("""
parameters:
  base_model: {values: [resnet50, mobilenet_v2]}
  fine_tuning: {value: full}
  learning_rate: {value: 0.001}
  batch_size: {value: 32}
  dropout: {value: 0.3}
  epochs: {value: 10}
""")
    table = Lookup(synth["meta"], synth["space"])
    out = tune_lookup(table, synth["meta"], tiny, synth["learner"], synth["base"], budget=5)
    assert len(out.trials) == 2 and out.stop_reason == "exhausted"


def test_ctrl_c_keeps_finished_trials_and_resume_continues(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    space = synth["space"]

    def interrupting(config: dict) -> TrialResult:
        if len(table.calls) == 2:
            raise KeyboardInterrupt
        return table(config)

    agent = TuneAgent(Surrogate(synth["learner"], synth["base"], "test/acc"), synth["meta"], space)
    first = first_from_meta_learner(synth["learner"], synth["meta"], space)
    stopped = run_tune_loop(interrupting, agent, space, budget=5, first=first)
    assert stopped.stop_reason == "interrupted" and len(stopped.trials) == 2
    resumed = run_tune_loop(table, agent, space, budget=5, first=first, previous=stopped.trials)
    _check(resumed, space)
    assert len(resumed.trials) == 5 and resumed.trials[:2] == stopped.trials and len(table.calls) == 5


def test_the_loop_refuses_repeats_and_configs_outside_the_space(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    space = synth["space"]
    first = first_from_meta_learner(synth["learner"], synth["meta"], space)
    with pytest.raises(TuneLoopError, match="repeated"):
        run_tune_loop(table, lambda trials: first, space, budget=3, first=first)
    bad = first.model_copy(update={"config": {**first.config, "learning_rate": 5.0}})
    with pytest.raises(TuneLoopError, match="outside the space"):
        run_tune_loop(table, lambda trials: None, space, budget=3, first=bad)


def test_time_cap_and_time_objective(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    best = synth["learner"].best_config(synth["meta"], synth["space"]).prediction.train_time_s
    cap = 0.9 * best  # recommend's answer is too slow for the cap: trial 1 is replaced
    out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=4,
                      policy=TimePolicy(max_train_time_s=cap))
    assert "over --max-train-time" in out.trials[0].proposal.warnings[-1]
    assert out.trials[0].proposal.predicted.train_time_s <= cap
    for t in out.trials:  # inside the cap, or the fastest untried config with a warning saying so
        assert t.proposal.predicted.train_time_s <= cap or "predicted inside --max-train-time" in t.proposal.warnings[0]
    fast = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=4,
                       policy=TimePolicy(objective="time"))
    acc = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=4)
    mean = lambda o: np.mean([t.result.train_time_s for t in o.trials[1:]])
    assert mean(fast) < mean(acc)


# --------------------------------------------------------------------------- with a (scripted) LLM


def agent_step(k: int = 2, extra: list[dict] | None = None) -> Callable[[dict], Reply]:
    """An LLM that reads the prompt's data block: it proposes trial 1's config again (already tried),
    then the next untried configs in grid order, plus `extra` (e.g. one outside the space)."""
    grid = list(experiments(n_datasets=1, runs_per_dataset=1).space.iter_grid())

    def step(req: dict) -> Reply:
        data = split_data_block(req["messages"][1]["content"])[1]
        tried = {config_key({**c, "epochs": 10}) for c in data["configs_tried"]}
        fresh = [c for c in grid if config_key(c) not in tried][:k]
        configs = [data["configs_tried"][0], *[{k_: v for k_, v in c.items() if k_ != "epochs"} for c in fresh]]
        return Reply(200, completion(json.dumps({"configs": configs + (extra or []), "explanation": "from trial 1"})))

    return step


def test_with_a_scripted_llm_the_surrogate_ranks_its_candidates(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    with FakeLLMServer([agent_step()]) as server:
        out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=4,
                          llm=LLMClient(server.base_url, "fake"))
    _check(out, synth["space"])
    assert [t.proposal.source for t in out.trials[1:]] == ["llm"] * 3
    assert all(len(t.proposal.candidates) == 2 for t in out.trials[1:])  # the repeat was dropped
    assert "the surrogate ranked the LLM's" in out.trials[1].proposal.reasoning
    assert len(server.requests) == 3
    schema = server.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["configs"]["maxItems"] == 3
    _, data = split_data_block(server.requests[2]["messages"][1]["content"])
    assert [t["trial"] for t in data["trials"]] == [1, 2, 3] and data["trials"][0]["curve"]["trend"] == "improving"


def test_the_projects_task_reaches_the_tune_prompt(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    with FakeLLMServer([agent_step()]) as server:
        tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=2,
                    llm=LLMClient(server.base_url, "fake"), task="Text classification of support tickets.")
    _, data = split_data_block(server.requests[0]["messages"][1]["content"])
    assert data["task"] == "Text classification of support tickets."


def test_an_llm_with_no_valid_config_falls_back_to_the_surrogate(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    bad = json.dumps({"configs": [{"base_model": "gpt-9"}], "explanation": "?"})
    with FakeLLMServer([reply(bad)]) as server:
        out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=3,
                          llm=LLMClient(server.base_url, "fake"), max_repairs=1)
    _check(out, synth["space"])
    assert [t.proposal.source for t in out.trials[1:]] == ["surrogate", "surrogate"]
    assert len(server.requests) == 4 and any("LLM gave no valid config" in w for w in out.warnings)


def test_an_unreachable_llm_falls_back_with_a_warning(synth: dict) -> None:  # noqa: F811
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = LLMClient(f"http://127.0.0.1:{port}/v1", "gone", max_retries=0, timeout_s=2)
    table = Lookup(synth["meta"], synth["space"])
    out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=3, llm=llm)
    _check(out, synth["space"])
    assert len(out.trials) == 3 and [t.proposal.source for t in out.trials[1:]] == ["surrogate", "surrogate"]
    unreachable = [w for w in out.warnings if "LLM unreachable" in w]
    assert len(unreachable) == 1 and unreachable[0].startswith("trial 2:")  # asked once, then not again


def test_a_continuous_space_is_searched_by_sampling() -> None:
    from tests.support.synthetic import train_time, true_acc

    syn = experiments(n_datasets=4, runs_per_dataset=15, seed=2, continuous=True)
    held = min(syn.metas)
    base = [e for e in syn.experiments if e.dataset != held]
    learner = MetaLearner.fit(base, syn.space, max_folds=2)
    meta = syn.metas[held]

    def evaluate(config: dict) -> TrialResult:
        return TrialResult(config=config, metric=true_acc(meta, config), train_time_s=train_time(meta, config))

    out = tune_lookup(evaluate, meta, syn.space, learner, base, budget=4, portfolio=3)
    _check(out, syn.space)
    assert len(out.trials) == 4 and [t.proposal.source for t in out.trials[1:]] == [
        "meta-learner-portfolio", "meta-learner-portfolio", "surrogate"]


def test_a_table_with_some_configs_only_proposes_those(synth: dict) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    grid = list(synth["space"].iter_grid())
    subset = [{**grid[i], "dataset": "x.npz"} for i in np.random.default_rng(0).choice(len(grid), 40, replace=False)]
    keys = {config_key({k: v for k, v in c.items() if k != "dataset"}) for c in subset}
    with FakeLLMServer([agent_step(k=1)]) as server:
        out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=4,
                          configs=subset, llm=LLMClient(server.base_url, "fake"))
    _check(out, synth["space"])
    assert all(config_key(t.result.config) in keys for t in out.trials)
    assert {t.proposal.source for t in out.trials} <= {"surrogate", "llm"}  # recommend's answer was replaced
    assert "is not in the table" in out.trials[0].proposal.warnings[-1]


def test_trials_are_scored_within_the_dataset_not_among_themselves(synth: dict) -> None:  # noqa: F811
    """Two strong trials: ranked among themselves the second would be called the dataset's worst config
    (percentile 0); calibrated against the space it stays near the top, below the better one."""
    table = Lookup(synth["meta"], synth["space"])
    grid = list(synth["space"].iter_grid())
    ranked = sorted(grid, key=lambda c: -table(c).metric)
    good, better, bad = ranked[3], ranked[0], ranked[-1]
    values = np.array([table(good).metric, table(better).metric, table(bad).metric, np.nan])
    learner = synth["learner"]
    X = learner.layout.matrix([(synth["meta"], c) for c in (good, better, bad, bad)])
    calibrated = Surrogate(learner, synth["base"], "test/acc", space=synth["space"]).trial_scores(synth["meta"], X,
                                                                                                  values)
    among = Surrogate(learner, synth["base"], "test/acc", targets="trials").trial_scores(synth["meta"], X, values)
    assert among[0] == pytest.approx(2 / 3) and among[2] == pytest.approx(1 / 3)  # the crash is below all
    assert calibrated[1] >= calibrated[0] > 0.8 > calibrated[2] and calibrated[3] == 0.0
    assert table.percentile(values[2]) < 0.05 and calibrated[2] < 0.3
