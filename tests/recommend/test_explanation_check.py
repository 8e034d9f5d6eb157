"""The explanation check (recommend/explanation_check.py): junk, JSON, loops and invented numbers are
rejected with a reason; a faithful explanation passes whatever format its numbers are written in."""

from __future__ import annotations

import json

import pytest

from metallmix_wandb.recommend.explanation_check import check_explanation, numbers_in

CONFIG = {"base_model": "resnet50", "fine_tuning": "full", "learning_rate": 0.001, "batch_size": 16,
          "dropout": 0.4}
KEY = ["learning_rate", "base_model", "dropout"]
EVIDENCE = [{"dataset": "chest", "distance": 0.1234, "config": {**CONFIG, "learning_rate": 0.0003},
             "metric": 0.8512, "train_time_s": 118.7}]
PREDICTED = {"score": 0.9734, "low": 0.81, "high": 0.99, "raw_metric": 0.842, "train_time_s": 95.2}
DIGEST = "1. **learning_rate** (mean |SHAP| 0.183): best [0.0005, 0.002] (+0.121, 40 runs)"
SOURCES = [EVIDENCE, DIGEST, PREDICTED]

FAITHFUL = ("I chose resnet50 with full fine-tuning and a learning rate of 0.001, because SHAP ranks the "
            "learning rate as the most influential parameter and the closest dataset, chest, reached 0.85 "
            "accuracy with a similar setup. A dropout of 0.4 keeps the larger backbone from overfitting.")


def _check(text: str):
    return check_explanation(text, CONFIG, key_params=KEY, sources=SOURCES)


def test_a_faithful_explanation_passes() -> None:
    verdict = _check(FAITHFUL)
    assert verdict.ok, verdict.reasons
    assert {"base_model", "learning_rate", "dropout", "fine_tuning"} <= set(verdict.named_values)


@pytest.mark.parametrize("text, reason", [
    ("} {", "too short"),
    ("}\n{", "too short"),
    ("Use resnet50.", "too short"),
    (json.dumps({"configs": [CONFIG], "explanation": "resnet50 with learning rate 0.001 is best here"}),
     "JSON or code"),
    ("{ resnet50 with a learning rate of 0.001 helps, as the SHAP digest and chest dataset show }", "JSON or code"),
    ("The model is resnet50 and the learning rate is 0.001. " + "the model is good and " * 12, "repeats itself"),
    ("lr 0.001 | do 0.4 | bs 16 | ft 0.85 | a 0.97 | b 0.81 | c 0.99 | d 0.84 | e 95.2 | 118.7 ==> ## !! ++", "not prose"),
    ("A long answer about resnet50 and a learning rate of 0.001. " * 40, "too long"),
    ("I chose resnet50 with a learning rate of 0.001; in the digest learning_rate 0.001 helps (+", "unfinished"),
])
def test_junk_is_rejected_with_its_reason(text: str, reason: str) -> None:
    verdict = _check(text)
    assert not verdict.ok and reason in verdict.reason


def test_an_invented_metric_is_rejected() -> None:
    invented = FAITHFUL.replace("reached 0.85 accuracy", "reached 0.93 accuracy and an F1 of 0.91")
    verdict = _check(invented)
    assert not verdict.ok and verdict.unfound_numbers == ["0.93", "0.91"]
    assert "found nowhere in the evidence: 0.93, 0.91" in verdict.reason


def test_an_explanation_that_never_names_the_choice_is_rejected() -> None:
    verdict = _check("This configuration should work well on the new dataset, as the past experiments on "
                     "similar datasets show that these choices tend to help.")
    assert not verdict.ok and "names 0 of the chosen config's values" in verdict.reason
    off_key = _check("Full fine-tuning with a batch size of 16 suits this dataset well, as the closest past "
                     "runs trained the same way.")
    assert not off_key.ok and "learning_rate or base_model" in off_key.reason


@pytest.mark.parametrize("quoted", [
    "a learning rate of 1e-3", "a learning rate of 1.0e-03", "a learning rate of 0.0010", "a learning rate of 0.1%",
])
def test_config_values_are_found_in_any_number_format(quoted: str) -> None:
    verdict = _check(FAITHFUL.replace("a learning rate of 0.001", quoted))
    assert verdict.ok, verdict.reasons
    assert "learning_rate" in verdict.named_values


@pytest.mark.parametrize("quoted, ok", [
    ("97%", True), ("97.3%", True), ("0.973", True), ("0.97", True), ("97", True),  # score 0.9734
    ("about 120 s", True), ("119 s", True), ("95 s", True),  # train times 118.7 / 95.2
    ("0.12", True), ("−0.12", False),  # distance 0.1234; a signed number is an effect, and this is none
    ("1,000 runs", False), ("99.5%", False), ("0.9", False), ("0.96", False),
])
def test_numbers_match_the_sources_to_two_or_three_significant_digits(quoted: str, ok: bool) -> None:
    verdict = _check(FAITHFUL + f" It is predicted at {quoted}.")
    assert verdict.ok is ok, verdict.reasons


def test_small_counts_are_not_metrics_but_names_are_not_numbers() -> None:
    assert _check(FAITHFUL + " The 3 closest datasets agree.").ok
    assert numbers_in("resnet50 and efficientnet_b0 at lr=1e-3, 80% and 1,000") == [0.001, 80.0, 1000.0]


@pytest.mark.parametrize("quoted, ok", [
    ("+0.121", True), ("(+0.12)", True),  # the digest's effect of learning_rate
    ("-0.121", False), ("−0.121", False),  # its sign reversed
    ("+0.973", False), ("+0.85", False),  # the predicted score and a metric, unsigned in the sources: not effects
    ("+0.258", True), ("-0.258", False),  # an effect the model was told (`effects`)
])
def test_a_signed_number_must_be_an_effect_with_its_sign(quoted: str, ok: bool) -> None:
    verdict = check_explanation(FAITHFUL + f" SHAP puts it at {quoted}.", CONFIG, key_params=KEY, sources=SOURCES,
                                effects=[0.258])
    assert verdict.ok is ok, verdict.reasons


VALUE_EFFECTS = [("full", 0.258), ("partial_30", 0.034), ("feature_extraction", -0.05), ("resnet50", 0.117),
                 ("efficientnet_b0", 0.085)]


@pytest.mark.parametrize(("sentence", "ok"), [
    ("Full fine-tuning helps (+0.258).", True),  # the chosen value's effect
    ("Full fine-tuning helps (+0.034).", False),  # partial_30's effect given to the chosen value
    ("Full fine-tuning helps (+0.258), more than partial_30 (+0.034).", True),  # another value, named
    ("Full fine-tuning helps (+0.258); efficientnet_b0 would cost -0.05.", False),  # feature_extraction's
    ("Full fine-tuning helps (+0.258); chest's negated loss was -0.312.", True),  # a signed metric, no effect
])
def test_an_effect_belongs_to_the_value_the_text_names(sentence: str, ok: bool) -> None:
    """With the summary's effect of every value, a quoted effect must be the chosen config's (told to the
    model) or that of a value the text names: SmolLM2 wrote 'partial_30 ... (+0.034)' with +0.034
    being another value's effect."""
    digest = DIGEST + "; fine_tuning: partial_30 (+0.034), full (+0.258); base_model: resnet50 (+0.117), " \
                      "efficientnet_b0 (+0.085)"
    verdict = check_explanation(f"{FAITHFUL} {sentence}", CONFIG, key_params=KEY, sources=[EVIDENCE, digest, PREDICTED, "chest: val/neg_mse -0.312"],
                                effects=[0.258], value_effects=VALUE_EFFECTS)
    assert verdict.ok is ok, verdict.reasons
    if not ok:
        assert "does not name" in " ".join(verdict.reasons) or "quotes" in " ".join(verdict.reasons)


@pytest.mark.parametrize("value_effects", [None, VALUE_EFFECTS])
def test_a_negative_metric_held_as_a_number_may_be_quoted_with_its_sign(value_effects) -> None:
    """Evidence records hold a negated loss as a number, not as text: "-0.312" quotes it (with either
    check of effects), "+0.312" does not."""
    record = {"dataset": "chest", "metrics": {"val/neg_mse": -0.312}}
    for sign, ok in (("-", True), ("+", False)):
        verdict = check_explanation(f"{FAITHFUL} Chest's negated loss was {sign}0.312.", CONFIG, key_params=KEY,
                                    sources=[EVIDENCE, DIGEST, PREDICTED, record], effects=[0.258],
                                    value_effects=value_effects)
        assert verdict.ok is ok, verdict.reasons
