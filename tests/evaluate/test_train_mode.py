"""Train mode: the chosen configs really train (Launch contract), RS runs as an offline W&B sweep,
and the scores compare with the hidden dataset's known runs."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.evaluate.records import reference_score
from tests.support.wandb_runs import offline_env

SPACE = """
method: random
metric: {name: test/acc, goal: maximize}
parameters:
  base_model: {value: mobilenet_v3_small}
  fine_tuning: {values: [feature_extraction, full]}
  learning_rate: {values: [0.01, 0.001]}
  dense_units: {values: [32, 64]}
  dropout: {values: [0.2, 0.5]}
  batch_size: {value: 32}
  epochs: {value: 1}
  image_size: {value: 28}
  max_train_samples: {value: 100}
  cv_folds: {value: 0}
  seed: {value: 0}
"""


def test_reference_score_against_known_runs() -> None:
    ref = [0.5, 0.6, 0.7, 0.8]
    assert reference_score(ref, 0.9).percentile == 1.0 and reference_score(ref, 0.9).regret == pytest.approx(-0.1)
    assert reference_score(ref, 0.7).percentile == pytest.approx(2.5 / 4)
    failed = reference_score(ref, None)
    assert failed.percentile == 0.0 and failed.metric == 0.5
    with pytest.raises(ValueError):
        reference_score([], 0.5)


@pytest.mark.slow
def test_train_mode_trains_the_choices(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from metallmix_wandb.knowledge.table_io import write_table
    from metallmix_wandb.knowledge.similar import meta_features_for

    offline_env(tmp_path / "wandb_root", monkeypatch)
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(tmp_path / "q"))
    monkeypatch.setenv("METALLMIX_TORCH_THREADS", "1")
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    rows = []  # synthetic past results (the metric values are made up; the datasets and meta-features are real)
    for i, name in enumerate(["breastmnist_28.npz", "pneumoniamnist_balanced_28.npz"]):
        path = shared_data / name
        meta = {f"meta/{k}": v for k, v in meta_features_for(path, None, None).items()}
        for j, (ft, lr, du, do) in enumerate(product(["feature_extraction", "full"], [0.01, 0.001], [32, 64],
                                                     [0.2, 0.5])):
            rows.append({"dataset": str(path), **meta, "fine_tuning": ft, "learning_rate": lr, "dense_units": du,
                         "dropout": do, "test/acc": 0.55 + 0.02 * j + 0.05 * i, "train_time_s": 5.0 + j})
    table = write_table(tmp_path / "past.csv", rows)
    imported = CliRunner().invoke(main, ["import", str(table), "--project", "train-mode", "--space", str(space),
                                         "--direct", "--no-explain"])
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, ["evaluate", "--project", "train-mode", "--space", str(space), "--no-llm",
                                       "--baselines", "random,meta-learner", "--budget", "2", "--seeds", "1",
                                       "--datasets", "breastmnist_28", "--out", str(out), "--no-per-dataset"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads(out.read_text())
    assert report["mode"] == "train"
    rows_out = {r["method"]: r for r in report["results"]}
    assert set(rows_out) == {"random", "meta-learner"}
    assert rows_out["random"]["evaluations"] == 2
    for r in rows_out.values():
        assert r["ok"], r["error"]
        assert 0.0 <= r["metric"] <= 1.0 and r["train_time_s"] > 0 and 0.0 <= r["percentile"] <= 1.0
    specs = list((tmp_path / "cache" / "evaluation" / "train-mode" / "train").glob("*.launch.json"))
    assert specs and json.loads(specs[0].read_text())["overrides"]["run_config"]["epochs"] == 1
