"""The never-refitted meta-learner's top-N (evaluate's `meta-learner-topn`): each next trial is the
stored meta-learner's best untried config, whatever the trials so far returned."""

from __future__ import annotations

from metallmix_wandb.recommend.pipeline import recommendable_space
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.agent import first_from_meta_learner
from metallmix_wandb.tune.loop import run_tune_loop
from metallmix_wandb.tune.objective import TimePolicy
from metallmix_wandb.tune.proposers import ProposerContext, make_proposer
from metallmix_wandb.tune.records import config_key
from tests.support.tune_lookup import Lookup, synth  # noqa: F401


def test_topn_walks_down_the_stored_meta_learners_ranking(synth: dict) -> None:  # noqa: F811
    space = recommendable_space(synth["space"])
    context = ProposerContext(learner=synth["learner"], meta=synth["meta"], space=space, policy=TimePolicy())
    topn = make_proposer("meta-learner-topn", context)
    first = first_from_meta_learner(synth["learner"], synth["meta"], space)
    table = Lookup(synth["meta"], synth["space"])
    out = run_tune_loop(table, topn, space, budget=4, first=first)
    assert len(out.trials) == 4 and [t.proposal.source for t in out.trials[1:]] == ["meta-learner"] * 3
    assert len({config_key(t.result.config) for t in out.trials}) == 4
    crashed = Lookup(synth["meta"], synth["space"], crash=lambda c: True)  # results never change its choice
    again = run_tune_loop(crashed, topn, space, budget=4, first=first)
    assert [t.result.config for t in again.trials] == [t.result.config for t in out.trials]
    scores = synth["learner"].predict(synth["meta"], [t.result.config for t in out.trials[1:]])
    assert [p.score for p in scores] == sorted((p.score for p in scores), reverse=True)


def test_topn_stops_when_the_space_is_exhausted(synth: dict) -> None:  # noqa: F811
    tiny = SearchSpace.from_yaml_text("""
parameters:
  base_model: {values: [resnet50, mobilenet_v2]}
  fine_tuning: {value: full}
  learning_rate: {value: 0.001}
  batch_size: {value: 32}
  dropout: {value: 0.3}
  epochs: {value: 10}
""")
    topn = make_proposer("meta-learner-topn", ProposerContext(learner=synth["learner"], meta=synth["meta"],
                                                              space=tiny, policy=TimePolicy()))
    out = run_tune_loop(Lookup(synth["meta"], synth["space"]), topn, tiny, budget=5)
    assert len(out.trials) == 2 and out.stop_reason == "exhausted"
