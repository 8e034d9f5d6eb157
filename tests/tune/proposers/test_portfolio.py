"""The meta-learner's portfolio (`MetaLearner.recommend_n`) as tune's first trials and as the
never-refitted `meta-learner-topn`, on a synthetic lookup table with the real meta-learner."""

from __future__ import annotations

from metallmix_wandb.tune.agent import tune_lookup
from metallmix_wandb.tune.loop import run_tune_loop
from metallmix_wandb.tune.objective import TimePolicy
from metallmix_wandb.tune.proposers import ProposerContext, make_proposer
from metallmix_wandb.tune.records import config_key
from tests.support.tune_lookup import Lookup, synth  # noqa: F401


def _keys(configs: list[dict]) -> list[str]:
    return [config_key(c) for c in configs]


def test_tune_without_llm_tries_the_portfolio_first_then_the_surrogate(synth: dict) -> None:  # noqa: F811
    learner, meta, space = synth["learner"], synth["meta"], synth["space"]
    assert learner.info.settings.portfolio  # the default variant covers past datasets for N > 1
    portfolio = learner.recommend_n(meta, space, n=3)
    out = tune_lookup(Lookup(meta, space), meta, space, learner, synth["base"], budget=5, portfolio=3)
    assert _keys([t.result.config for t in out.trials[:3]]) == _keys(portfolio)
    assert [t.proposal.source for t in out.trials] == [
        "recommend:meta-learner", "meta-learner-portfolio", "meta-learner-portfolio", "surrogate", "surrogate"]
    assert "portfolio of 3" in out.trials[1].proposal.reasoning and out.trials[1].proposal.predicted is not None
    # the portfolio is not the next best by prediction: that is what it replaces
    assert _keys(portfolio) != _keys([c for c, _ in learner.ranked_configs(meta, space, n=3)])


def test_one_seed_trial_is_the_surrogate_from_trial_two(synth: dict) -> None:  # noqa: F811
    meta, space = synth["meta"], synth["space"]
    out = tune_lookup(Lookup(meta, space), meta, space, synth["learner"], synth["base"], budget=3, portfolio=1)
    assert [t.proposal.source for t in out.trials[1:]] == ["surrogate", "surrogate"]


def test_topn_proposes_the_portfolio_for_its_budget(synth: dict) -> None:  # noqa: F811
    learner, meta, space = synth["learner"], synth["meta"], synth["space"]
    context = ProposerContext(learner=learner, meta=meta, space=space, policy=TimePolicy(), budget=4)
    out = run_tune_loop(Lookup(meta, space), make_proposer("meta-learner-topn", context), space, budget=6)
    assert _keys([t.result.config for t in out.trials[:4]]) == _keys(learner.recommend_n(meta, space, n=4))
    assert [t.proposal.source for t in out.trials[4:]] == ["meta-learner", "meta-learner"]


def test_the_portfolio_skips_configs_outside_the_table_or_over_the_time_cap(synth: dict) -> None:  # noqa: F811
    learner, meta, space = synth["learner"], synth["meta"], synth["space"]
    portfolio = learner.recommend_n(meta, space, n=4)
    pool = [c for c in space.iter_grid() if config_key(c) != config_key(portfolio[1])]
    out = tune_lookup(Lookup(meta, space), meta, space, learner, synth["base"], budget=3, portfolio=4, configs=pool)
    tried = _keys([t.result.config for t in out.trials])
    assert config_key(portfolio[1]) not in tried and tried == _keys([portfolio[0], portfolio[2], portfolio[3]])
    times = sorted(p.train_time_s for p in learner.predict(meta, portfolio))
    cap = TimePolicy(max_train_time_s=(times[0] + times[1]) / 2)
    out = tune_lookup(Lookup(meta, space), meta, space, learner, synth["base"], budget=2, portfolio=4, policy=cap)
    assert all(t.proposal.predicted is None or t.proposal.predicted.train_time_s <= cap.max_train_time_s
               for t in out.trials if t.proposal.source == "meta-learner-portfolio")
