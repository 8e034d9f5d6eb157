"""The meta-learner's feature table: columns, encodings, targets, inferred spaces, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metallmix_wandb.space.candidates import complete, grid_choices, perturb, pick, sample_choices
from metallmix_wandb.knowledge.meta_learner.features import (
    MetaLearnerError,
    average_ranks,
    build_layout,
    build_table,
    category_label,
    feature_row,
    infer_space,
    percentile_rank,
)
from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.space.search_space import SearchSpace
from tests.support import synthetic


def _exp(i: int, dataset: str, acc: float, config: dict, meta: dict | None = None, time: float | None = 10.0) -> Experiment:
    return Experiment(run_path=f"offline/p/{i:03d}", run_id=str(i), dataset=dataset, config=config,
                      meta_features=meta or {"n_instances": 100.0, "modality": "US"},
                      summary={"test/acc": acc}, train_time_s=time)


def test_percentile_rank_averages_ties_and_spans_zero_to_one() -> None:
    assert average_ranks(np.array([0.7, 0.5, 0.7, 0.9])).tolist() == [2.5, 1.0, 2.5, 4.0]
    assert percentile_rank(np.array([0.5, 0.7, 0.7, 0.9])).tolist() == [0.0, 0.5, 0.5, 1.0]
    assert percentile_rank(np.array([0.3])).tolist() == [0.5]


def test_layout_columns_are_readable_per_value() -> None:
    synth = synthetic.experiments(n_datasets=8, runs_per_dataset=10, seed=1)
    sizes = [m["n_instances"] for m in synth.metas.values()]
    assert max(sizes) / min(sizes) > 10
    layout = build_layout(synth.experiments, synth.space)
    names = layout.names
    assert "learning_rate" in names and "dropout" in names and "batch_size" in names
    assert [n for n in names if n.startswith("base_model=")] == [
        "base_model=resnet50", "base_model=efficientnet_b0", "base_model=densenet121", "base_model=mobilenet_v2"]
    assert "meta/n_instances" in names and any(n.startswith("meta/modality=") for n in names)
    assert "learning_rate" in layout.log_columns and "meta/n_instances" in layout.log_columns
    assert "dropout" not in layout.log_columns
    # The constant `epochs` and the never-varied resolution carry no evidence: listed, not modelled.
    assert "meta/resolution" in layout.unvaried and "epochs" not in layout.params
    assert set(layout.params) == {"base_model", "fine_tuning", "learning_rate", "batch_size", "dropout"}


def test_feature_row_encodes_missing_and_unknown_values() -> None:
    synth = synthetic.experiments(n_datasets=3, runs_per_dataset=20, seed=1)
    layout = build_layout(synth.experiments, synth.space)
    col = {n: j for j, n in enumerate(layout.names)}
    meta = {"n_instances": 1234.0, "modality": "PET", "n_classes": 3.0}
    row = feature_row(layout, meta, {"base_model": "resnet50", "learning_rate": 1e-3, "fine_tuning": "full"})
    assert row[col["base_model=resnet50"]] == 1.0 and row[col["base_model=mobilenet_v2"]] == 0.0
    assert row[col["learning_rate"]] == 1e-3 and row[col["meta/n_instances"]] == 1234.0
    assert math.isnan(row[col["dropout"]])  # missing numeric -> NaN (XGBoost's missing)
    assert all(math.isnan(row[j]) for n, j in col.items() if n.startswith("batch_size"))
    # A modality the runs never had is "none of the known ones".
    assert all(row[j] == 0.0 for n, j in col.items() if n.startswith("meta/modality="))


def test_candidate_encoding_matches_row_encoding() -> None:
    synth = synthetic.experiments(n_datasets=3, runs_per_dataset=20, seed=1)
    layout = build_layout(synth.experiments, synth.space)
    meta = synth.experiments[0].meta_features
    choices, n = grid_choices(synth.space, layout.params, 10_000)
    assert n == 4 * 3 * 4 * 3 * 4
    X = layout.candidates(meta, choices, n)
    for i in (0, 17, n - 1):
        np.testing.assert_array_equal(X[i], layout.row(meta, pick(choices, i)))


def test_sampled_and_perturbed_candidates_are_valid_configs() -> None:
    space = synthetic.space(continuous=True)
    params = list(space.tunable)
    rng = np.random.default_rng(0)
    choices = sample_choices(space, params, 200, rng)
    seeds = [pick(choices, i) for i in range(5)]
    fresh, n = perturb(space, seeds, params, 40, rng, scale=0.1)
    assert n == 200
    for cfg in [*seeds, *(pick(fresh, i) for i in range(n))]:
        full = complete(space, cfg, {})
        assert space.validate_config(full).ok, space.validate_config(full).errors
    assert any(pick(fresh, i)["learning_rate"] != seeds[i % 5]["learning_rate"] for i in range(n))


def test_infer_space_from_configs() -> None:
    exps = []
    for i in range(30):
        config = {"optimizer": ["adam", "sgd"][i % 2], "lr": 10 ** (-1 - 4 * i / 29), "units": [64, 128][i % 2],
                  "epochs": 5, "steps": 100 + 7 * i, "pretrained": i % 3 == 0}
        if i == 0:
            config["rare"] = 1
        exps.append(_exp(i, f"d{i % 3}", 0.5 + i / 100, config))
    space = infer_space(exps)
    p = space.params
    assert p["optimizer"].values == ["adam", "sgd"] and p["units"].values == [64, 128]
    assert p["lr"].distribution == "log_uniform_values" and p["lr"].min == pytest.approx(1e-5)
    assert p["steps"].distribution == "int_uniform" and p["epochs"].kind == "constant"
    assert [category_label(v) for v in p["pretrained"].values] == ["false", "true"]
    assert "rare" not in p  # in 1 run of 30: not a parameter of this project
    assert all(space.validate_config({k: v for k, v in e.config.items() if k in p}).ok for e in exps)


def test_free_text_and_per_run_labels_never_become_parameters_of_an_inferred_space() -> None:
    """Issue 16: a `comment` key became a constant of the inferred space, so every recommended
    config carried its text."""
    exps = []
    for i in range(30):
        config = {"optimizer": ["adam", "sgd", "adamw"][i % 3], "lr": [1e-3, 1e-2][i % 2],
                  "comment": "first try with the bigger batch", "note": f"seed{i}",
                  "tag": "x" * 50, "why": ["tuned by hand", "default"][i % 2], "kind": "baseline"}
        exps.append(_exp(i, f"d{i % 3}", 0.5 + i / 100, config))
    table = build_table(exps, None, "test/acc")
    assert set(table.space.params) == {"optimizer", "lr", "kind"}
    assert table.space.params["kind"].kind == "constant"  # one short label is a setting, kept


def test_targets_are_percentiles_within_each_dataset() -> None:
    exps = [_exp(i, f"d{i % 2}", acc, {"lr": [0.1, 0.01, 0.001][i % 3], "opt": ["a", "b"][i // 6 % 2]})
            for i, acc in enumerate([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.5, 0.55, 0.45, 0.65])]
    table = build_table(exps, None, "test/acc")
    d0 = table.groups == table.datasets.index("d0")
    # Rows are ordered by content (dataset, config, metric), not by run id: compare run by run.
    assert dict(zip(table.raw[d0].tolist(), table.score[d0].tolist(), strict=True)) == {
        0.1: 0.0, 0.2: 0.2, 0.3: 0.4, 0.4: 0.6, 0.5: 1.0, 0.45: 0.8}
    assert np.allclose(table.log_time, math.log1p(10.0))
    assert (np.diff(table.groups) >= 0).all()  # one dataset's rows together


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("few", "only 5 runs with a finite 'test/acc'.*at least 10"),
        ("constant", "every run has test/acc = 0.5"),
        ("one_per_dataset", "no dataset has two runs"),
        ("no_time", "only 2 of 12 runs have a training time"),
        ("no_params", "no hyperparameter varies"),
    ],
)
def test_bad_input_says_what_is_missing(case: str, message: str) -> None:
    n = 5 if case == "few" else 12
    exps = []
    for i in range(n):
        acc = 0.5 if case == "constant" else 0.5 + i / 100
        dataset = f"d{i}" if case == "one_per_dataset" else f"d{i % 3}"
        config = {"lr": 0.1} if case == "no_params" else {"lr": [0.1, 0.01][i % 2]}
        time = 10.0 if case != "no_time" or i < 2 else None
        exps.append(_exp(i, dataset, acc, config, time=time))
    with pytest.raises(MetaLearnerError, match=message):
        build_table(exps, None, "test/acc")


def test_a_given_space_drops_the_dataset_parameter() -> None:
    synth = synthetic.experiments(n_datasets=2, runs_per_dataset=10, seed=2)
    table = build_table(synth.experiments, synthetic.space(), "test/acc")
    assert "dataset" not in table.space.params and "epochs" in table.space.params
    assert isinstance(table.space, SearchSpace) and table.X.shape == (20, len(table.layout.columns))
