"""The confidence set (recommend/candidates.py): the diverse offer, the tie rule, reading the answer."""

from __future__ import annotations

import json

from metallmix_wandb.knowledge.meta_learner.shap_summary import FeatureImportance, ShapSummary, ValueEffect
from metallmix_wandb.llm.messages import DATA_RULE
from metallmix_wandb.recommend.candidates import (
    OWN, decide, decide_answer, diverse, offer, overlaps, pick_schema, read_pick, tied, top_params,
)
from metallmix_wandb.recommend.prompts import choice_messages
from metallmix_wandb.recommend.record import ScoredConfig
from tests.support.data_block import split_data_block, table_rows
from tests.support.llm_data import GOOD, META, neighbour, space


def sc(score: float, low: float | None = None, high: float | None = None, **config: object) -> ScoredConfig:
    return ScoredConfig(config=config, score=score, low=score - 0.1 if low is None else low,
                        high=min(1.0, score + 0.1) if high is None else high, raw_metric=0.8, train_time_s=60.0)


def summary() -> ShapSummary:
    model = FeatureImportance(feature="base_model", source="param", kind="categorical", mean_abs_shap=0.3,
                              by_value=[ValueEffect(value="resnet50", count=5, mean_shap=0.12),
                                        ValueEffect(value="mobilenet_v2", count=5, mean_shap=-0.1)])
    lr = FeatureImportance(feature="learning_rate", source="param", kind="numeric", mean_abs_shap=0.2, log=True,
                           by_value=[ValueEffect(value="[1e-05, 0.001]", count=5, mean_shap=-0.05, low=1e-5, high=1e-3),
                                     ValueEffect(value="[0.001, 0.1]", count=5, mean_shap=0.07, low=1e-3, high=0.1)])
    meta = FeatureImportance(feature="meta/n_instances", source="meta", kind="numeric", mean_abs_shap=0.5)
    dropout = FeatureImportance(feature="dropout", source="param", kind="numeric", mean_abs_shap=0.01)
    return ShapSummary(target="test/acc", base_value=0.5, rows=10, features=[meta, model, lr, dropout],
                       column_importance={})


RANKED = [
    sc(0.95, base_model="resnet50", learning_rate=1e-3, dropout=0.1),
    sc(0.94, base_model="resnet50", learning_rate=1.1e-3, dropout=0.3),  # same choice of the top-2 params
    sc(0.93, base_model="resnet50", learning_rate=1e-2, dropout=0.1),
    sc(0.90, base_model="mobilenet_v2", learning_rate=1e-3, dropout=0.1),
    sc(0.85, base_model="mobilenet_v2", learning_rate=1e-3, dropout=0.2),
]


def test_top_params_are_the_tunable_ones_by_mean_abs_shap() -> None:
    assert top_params(summary(), ["dropout", "learning_rate", "base_model", "batch_size"], 3) == [
        "base_model", "learning_rate", "dropout"]
    assert top_params(None, ["a", "b", "c", "d"], 2) == ["a", "b"]


def test_diverse_takes_the_best_then_configs_that_differ_in_a_top_parameter() -> None:
    picked = diverse(RANKED, ["base_model", "learning_rate"], 3)
    assert [p.score for p in picked] == [0.95, 0.93, 0.90]  # 0.94 is 0.95 again in base_model and lr
    filled = diverse(RANKED, ["base_model", "learning_rate"], 5)  # only 3 differ: the rest fill in, best first
    assert [p.score for p in filled] == [0.95, 0.93, 0.90, 0.94, 0.85]


def test_offer_numbers_candidates_and_gives_shap_reasons() -> None:
    offered = offer(RANKED, summary(), ["base_model", "learning_rate", "dropout"], 3)
    assert [c.id for c in offered] == [1, 2, 3]
    assert offered[0].reasons[:2] == ["base_model=resnet50 (+0.120)", "learning_rate=0.001 (-0.050)"]
    assert offered[1].reasons[1] == "learning_rate=0.0011 (+0.070)"  # dropout, 3rd by SHAP, makes it differ


def test_overlap_and_tie() -> None:
    best = sc(0.95, 0.8, 1.0)
    assert overlaps(sc(0.7, 0.5, 0.8), best) and not overlaps(sc(0.6, 0.4, 0.79), best)
    assert tied(sc(0.948, 0.7, 1.0), best) and not tied(sc(0.93, 0.7, 1.0), best)
    assert tied(sc(0.93, 0.7, 1.0), best, tie=0.05) and not tied(sc(0.6, 0.4, 0.79), best, tie=1.0)


def test_a_tied_pick_stands_and_a_worse_one_is_overruled() -> None:
    offered = offer([sc(0.95, 0.8, 1.0, m="a"), sc(0.948, 0.7, 1.0, m="b"), sc(0.6, 0.4, 0.79, m="c")], None, ["m"])
    stands = decide(offered, 2)
    assert not stands.overruled and stands.pick_scored.config == {"m": "b"} and "tied" in stands.reason
    apart = decide(offered, 3)
    assert apart.overruled and "does not overlap" in apart.reason and apart.pick == 3
    below = decide(offered, 2, tie=0.001)
    assert below.overruled and "more than the 0.001" in below.reason
    none = decide(offered, None, problem="no JSON")
    assert none.pick is None and not none.overruled and "no JSON" in none.reason


def test_read_pick_reads_ids_and_own_configs_and_never_raises() -> None:
    s = space()
    assert read_pick('{"candidate": 2, "config": null, "explanation": "x"}', 4, s).pick == 2
    assert read_pick('Sure: {"candidate": "#3", "explanation": "y"}', 4, s).pick == 3
    own = read_pick(json.dumps({"candidate": OWN, "config": GOOD, "explanation": "z"}), 4, s)
    assert own.pick == OWN and own.config["base_model"] == GOOD["base_model"]
    for bad in ("no idea", '{"candidate": 9}', '{"candidate": 0, "config": {"base_model": "gpt-9"}}', "[1]", ""):
        answer = read_pick(bad, 4, s)
        assert not answer.ok and answer.problems


def test_decide_answer_scores_an_own_config() -> None:
    offered = offer([sc(0.95, 0.8, 1.0, m="a"), sc(0.9, 0.7, 1.0, m="b")], None, ["m"])
    answer = read_pick(json.dumps({"candidate": OWN, "config": GOOD, "explanation": "z"}), 2, space())
    seen = []

    def score(configs):
        seen.extend(configs)
        return [sc(0.3, 0.1, 0.5, **c) for c in configs]

    decision = decide_answer(answer, offered, score)
    assert seen and decision.overruled and decision.pick == OWN and decision.pick_scored.score == 0.3


def test_schema_and_prompt() -> None:
    schema = pick_schema(space(), 3, explanation_max_chars=200)
    assert schema["properties"]["candidate"]["enum"] == [0, 1, 2, 3]
    assert schema["required"] == ["candidate", "config", "explanation"]
    offered = offer(RANKED, summary(), ["base_model", "learning_rate", "dropout"], 3)
    messages = choice_messages(space(), META, offered, [neighbour("run a", "breast")], "lr matters most")
    assert DATA_RULE in messages[0]["content"] and '"candidate"' in messages[0]["content"]
    _, data = split_data_block(messages[1]["content"])
    rows = table_rows(data["candidates"])
    assert [c["id"] for c in rows] == [1, 2, 3] and data["shap_digest"] == "lr matters most"
    assert (rows[0]["low"], rows[0]["high"], rows[0]["percentile"]) == (0.85, 1.0, 0.95)
    assert table_rows(data["past_experiments"])[0]["dataset"] == "breast"
