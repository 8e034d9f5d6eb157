"""What `recommend` tells a user to act on (recommend/advice.py): the percentile in words, a plain warning
when the interval is wide or the meta-learner unproven, the SHAP reasons, and commands that run as printed."""

from __future__ import annotations

import json
import shlex

from metallmix_wandb.knowledge.meta_learner.quality import LodoQuality
from metallmix_wandb.knowledge.meta_learner.shap_summary import FeatureImportance, ShapSummary, ValueEffect
from metallmix_wandb.recommend.advice import advise, top_percent
from metallmix_wandb.recommend.record import Recommendation, ScoredConfig
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.training.entrypoint import parse_args
from tests.support.synthetic import SPACE_YAML

SPACE = SearchSpace.from_yaml_text(SPACE_YAML).without("dataset")
CONFIG = {"base_model": "resnet50", "fine_tuning": "full", "learning_rate": 0.001, "batch_size": 32,
          "dropout": 0.4, "epochs": 10}
MEASURED = LodoQuality(measured=True, runs=240, datasets=12, spearman=0.41)


def rec(score: float, low: float, high: float) -> Recommendation:
    predicted = ScoredConfig(config=CONFIG, score=score, low=low, high=high, raw_metric=0.8, train_time_s=60.0)
    return Recommendation(config=CONFIG, explanation="", source="meta-learner", mode="meta-learner",
                          meta_features={}, predicted=predicted)


def summary() -> ShapSummary:
    lr = FeatureImportance(feature="learning_rate", source="param", kind="numeric", mean_abs_shap=0.2, best="0.01",
                           by_value=[ValueEffect(value="0.001", count=7, mean_shap=0.276),
                                     ValueEffect(value="0.01", count=6, mean_shap=0.3)])
    model = FeatureImportance(feature="base_model", source="param", kind="categorical", mean_abs_shap=0.08,
                              best="resnet50", by_value=[ValueEffect(value="resnet50", count=9, mean_shap=0.083)])
    meta = FeatureImportance(feature="meta/n_instances", source="meta", kind="numeric", mean_abs_shap=0.5)
    batch = FeatureImportance(feature="batch_size", source="param", kind="numeric", mean_abs_shap=0.04,
                              by_value=[ValueEffect(value="16", count=5, mean_shap=0.1)])
    dropout = FeatureImportance(feature="dropout", source="param", kind="numeric", mean_abs_shap=0.01)
    return ShapSummary(target="test/acc", base_value=0.5, rows=240, features=[meta, lr, model, batch, dropout],
                       column_importance={})


def test_a_narrow_interval_reads_as_a_plain_likely_rank() -> None:
    advice = advise(rec(0.95, 0.88, 0.99), MEASURED, summary(), SPACE, project="p")
    assert advice.headline == "likely in the top 5% of configs for a dataset like this; 80% interval top 1–12%"
    assert advice.confident and advice.caveat is None
    assert (advice.top_percent, advice.interval_top_percent) == (5, (1, 12))
    assert advice.quality.startswith("leave-one-dataset-out over 12 datasets")


def test_a_wide_interval_is_said_plainly() -> None:
    advice = advise(rec(1.0, 0.24, 1.0), MEASURED, summary(), SPACE, project="p")
    assert not advice.confident
    assert advice.caveat == "too few runs to be confident: 240 runs over 12 datasets"
    assert advice.headline == ("predicted in the top 1% of configs for a dataset like this (80% interval top 1–76%); "
                               "too few runs to be confident: 240 runs over 12 datasets")


def test_an_unmeasured_or_chance_level_meta_learner_is_not_trusted_even_with_a_narrow_interval() -> None:
    one = LodoQuality(measured=False, runs=6, datasets=1)
    assert advise(rec(0.95, 0.9, 1.0), one, summary(), SPACE, project="p").caveat.startswith(
        "too few runs to be confident: 6 runs over 1 dataset,")
    two = LodoQuality(measured=True, runs=12, datasets=2, spearman=0.94)  # the demo's image sweep
    assert advise(rec(0.99, 0.9, 1.0), two, summary(), SPACE, project="p").caveat == (
        "too few runs to be confident: 12 runs over 2 datasets, so its held-out quality rests on 2 datasets")
    chance = MEASURED.model_copy(update={"spearman": -0.25})
    advice = advise(rec(0.95, 0.9, 1.0), chance, summary(), SPACE, project="p")
    assert not advice.confident and "no better than chance (Spearman -0.25; 240 runs over 12 datasets)" in advice.caveat


def test_top_percent_never_says_top_zero() -> None:
    assert [top_percent(p) for p in (1.0, 0.999, 0.95, 0.951, 0.5, 0.0)] == [1, 1, 5, 5, 50, 100]


def test_the_three_reasons_are_the_top_shap_parameters_with_the_chosen_values_effect() -> None:
    advice = advise(rec(0.95, 0.88, 0.99), MEASURED, summary(), SPACE, project="p")
    assert advice.reasons == [
        "learning_rate = 0.001: +28 percentile points in past runs with this value (mean SHAP, 7 runs); "
        "best value seen: 0.01",
        "base_model = resnet50: +8 percentile points in past runs with this value (mean SHAP, 9 runs)",
        "batch_size = 32: no past run had this value, so SHAP has no evidence on it",
    ]


def test_the_commands_run_the_recommended_config_exactly() -> None:
    advice = advise(rec(0.95, 0.88, 0.99), MEASURED, summary(), SPACE, project="my proj", entity="team",
                    data="/data/new set.npz", queue="gpu")
    train = shlex.split(advice.commands["train_here"])
    assert train[:4] == ["WANDB_PROJECT=my proj", "WANDB_ENTITY=team", "metallmix-wandb", "train"]
    assert parse_args(train[4:]) == {"dataset": "/data/new set.npz", **CONFIG}  # the entrypoint's own parser

    launch = shlex.split(advice.commands["enqueue"])
    assert launch[:2] == ["wandb", "launch"]
    flags = dict(zip(launch[2::2], launch[3::2], strict=True))
    assert flags["-q"] == "gpu" and flags["-p"] == "my proj" and flags["-j"] == "team/my proj/metallmix-train:latest"
    run_config = json.loads(flags["-c"])["overrides"]["run_config"]
    assert run_config == {**CONFIG, "dataset": "wandb-artifact://team/my proj/DATASET:latest"}
    assert shlex.split(advice.commands["log_dataset"])[:5] == ["metallmix-wandb", "dataset", "log",
                                                               "/data/new set.npz", "--name"]


def test_an_artifact_dataset_is_enqueued_as_is_and_needs_no_logging() -> None:
    ref = "wandb-artifact://team/p/new:v3"
    advice = advise(rec(0.95, 0.88, 0.99), MEASURED, summary(), SPACE, project="p", artifact=ref)
    assert "log_dataset" not in advice.commands and f"--dataset={ref}" in advice.commands["train_here"]
    assert ref in advice.commands["enqueue"] and "-j ENTITY/p/metallmix-train:latest" in advice.commands["enqueue"]


def test_a_config_for_another_trainer_gets_its_json_not_our_train_command() -> None:
    """An imported project's config (`learner`) is not ours: `metallmix-wandb train` would ignore it and
    train its defaults, so the advice hands over the config and says so."""
    space = SearchSpace.from_sweep_config({"parameters": {"learner": {"values": ["ExtraTrees", "SVC"]}}})
    config = {"learner": "ExtraTrees"}
    predicted = ScoredConfig(config=config, score=0.9, low=0.8, high=1.0, raw_metric=0.8, train_time_s=1.0)
    other = Recommendation(config=config, explanation="", source="meta-learner", mode="meta-learner",
                           meta_features={}, predicted=predicted)
    advice = advise(other, MEASURED, None, space, project="p")
    assert "train_here" not in advice.commands and json.loads(advice.commands["own_trainer"]) == config
    assert "your own trainer" in advice.note and "metallmix-train" not in advice.commands["enqueue"]
    assert "train_here" in advise(rec(0.9, 0.8, 1.0), MEASURED, summary(), SPACE, project="p").commands


def test_the_trainer_keys_are_the_trainers() -> None:
    from metallmix_wandb.training.entrypoint import TrainConfig
    from metallmix_wandb.training.launch_spec import TRAINER_PARAMS

    assert TRAINER_PARAMS == set(TrainConfig.model_fields)
