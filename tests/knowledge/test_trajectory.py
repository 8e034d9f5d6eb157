"""The Trajectory Context Summarizer, per run: hand-made edge cases and real curves from the trainer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from metallmix_wandb.knowledge.records import TrajectorySummary
from metallmix_wandb.knowledge.trajectory import describe, goal_of, summarise_curve, train_metric_for


def _rows(val: list[float], train: list[float] | None = None, loss: list[float] | None = None) -> list[dict]:
    rows = []
    for i, v in enumerate(val):
        row = {"epoch": i, "val/acc": v}
        if train is not None:
            row["train/acc"] = train[i]
        if loss is not None:
            row["train/loss"] = loss[i]
        rows.append(row)
    return rows


def test_improving_curve() -> None:
    s = summarise_curve(_rows([0.5, 0.6, 0.7, 0.8], train=[0.5, 0.65, 0.8, 0.95]), train_time_s=8.0)
    assert (s.epochs, s.best_epoch, s.best_value, s.final_value) == (4, 3, 0.8, 0.8)
    assert s.trend == "improving" and s.slope == pytest.approx(0.1)
    assert s.train_val_gap == pytest.approx(0.15) and s.time_per_epoch_s == 2.0
    assert s.volatility == pytest.approx(0.0, abs=1e-12) and not s.diverged and not s.crashed


def test_flat_curve_is_a_plateau() -> None:
    s = summarise_curve(_rows([0.73] * 5))
    assert s.trend == "plateau" and s.slope == 0.0 and s.volatility == 0.0
    assert s.best_epoch == 0  # the earliest of equal bests


def test_falling_curve_is_diverging_and_best_is_early() -> None:
    s = summarise_curve(_rows([0.6, 0.8, 0.7, 0.6, 0.5]))
    assert s.trend == "diverging" and s.best_epoch == 1 and s.final_value == 0.5 and s.slope < 0


def test_noisy_curve_has_volatility() -> None:
    s = summarise_curve(_rows([0.5, 0.7, 0.5, 0.7, 0.5, 0.7, 0.5]))
    assert s.volatility == pytest.approx(0.2) and s.trend == "plateau"  # last 3: up-down, no trend


def test_one_epoch() -> None:
    s = summarise_curve(_rows([0.7], train=[0.9]), train_time_s=3.0)
    assert (s.epochs, s.best_epoch, s.best_value, s.final_value) == (1, 0, 0.7, 0.7)
    assert s.trend == "too short" and s.slope is None and s.volatility is None
    assert s.train_val_gap == pytest.approx(0.2) and s.time_per_epoch_s == 3.0


def test_empty_history() -> None:
    s = summarise_curve([], crashed=True)
    assert s.epochs == 0 and s.best_epoch is None and s.trend == "too short" and s.crashed
    assert s.time_per_epoch_s is None


def test_nan_loss_means_diverged() -> None:
    s = summarise_curve(_rows([0.6, 0.7, 0.5], loss=[0.7, 0.5, math.nan]))
    assert s.diverged and s.trend == "diverging" and s.best_value == 0.7


def test_nan_metric_values_are_skipped_but_flagged() -> None:
    s = summarise_curve(_rows([0.6, math.nan, 0.65]))
    assert s.best_value == 0.65 and s.best_epoch == 2 and s.diverged
    s = summarise_curve([{"val/acc": None}, {"x": 1}])
    assert s.epochs == 2 and s.best_value is None and not s.diverged


def test_training_loss_blowup_means_diverged() -> None:
    s = summarise_curve(_rows([0.6, 0.6, 0.6], loss=[0.5, 2.0, 9.0]))
    assert s.diverged and s.trend == "diverging"


def test_a_loss_curve_is_minimised() -> None:
    rows = [{"val/loss": v, "train/loss": v - 0.1} for v in (0.9, 0.5, 0.4, 0.35)]
    s = summarise_curve(rows, "val/loss")
    assert s.goal == "minimize" and s.best_value == 0.35 and s.best_epoch == 3 and s.trend == "improving"
    assert s.train_val_gap == pytest.approx(0.1)  # val - train for a loss: > 0 means overfitting


def test_names_and_goal_helpers() -> None:
    assert train_metric_for("val/acc") == "train/acc" and train_metric_for("acc") == "train/acc"
    assert goal_of("val/loss") == "minimize" and goal_of("test/acc") == "maximize" and goal_of("mse") == "minimize"


def test_describe_rounds_and_drops_missing() -> None:
    d = describe(summarise_curve(_rows([0.123456789]), train_time_s=1.0))
    assert d == {"epochs": 1, "best_epoch": 0, "best": 0.1235, "final": 0.1235, "trend": "too short",
                 "time_per_epoch_s": 1.0}
    assert describe(TrajectorySummary(crashed=True, diverged=True))["crashed"] is True


def test_old_payloads_still_read() -> None:
    old = {"epochs": 3, "best_epoch": 2, "best_value": 0.8, "final_value": 0.7, "metric": "val/acc"}
    s = TrajectorySummary.model_validate(old)
    assert s.trend is None and not s.crashed and s.goal == "maximize"


@pytest.mark.slow
def test_real_trainer_curves(breastmnist: Path) -> None:
    """Real curves: a 3-epoch run (val/acc stays at the majority class while training accuracy climbs:
    a plateau with a train-val gap) and a run whose weights blow up in the first epoch."""
    import torch

    from metallmix_wandb.datasets.images import load_image_dataset
    from metallmix_wandb.training.experiment import Hyperparams, run_holdout
    from metallmix_wandb.training.loop import TrainingError

    torch.set_num_threads(1)
    ds = load_image_dataset(breastmnist)
    hp = {"base_model": "mobilenet_v3_small", "fine_tuning": "full", "dense_units": 32, "dropout": 0.2,
          "batch_size": 32, "epochs": 3, "image_size": 32, "cv_folds": 0, "seed": 0, "max_train_samples": 150}
    rows: list[dict] = []
    res = run_holdout(ds.images, ds.labels, ds.split, ds.n_classes,
                      Hyperparams(optimizer="adam", learning_rate=1e-3, **hp), on_epoch=lambda r: rows.append(r.as_log()))
    s = summarise_curve(res.history, train_time_s=res.summary["train_time_s"])
    vals = [r["val/acc"] for r in rows]
    assert s.epochs == 3 and s.best_value == max(vals) and vals[s.best_epoch] == max(vals)
    assert s.final_value == vals[-1] and s.trend in ("improving", "plateau", "diverging")
    assert s.time_per_epoch_s == pytest.approx(res.summary["train_time_s"] / 3)
    assert s.train_val_gap == pytest.approx(rows[-1]["train/acc"] - rows[-1]["val/acc"])
    assert s.slope is not None and s.volatility is not None and not s.diverged

    blown: list[dict] = []
    with pytest.raises(TrainingError):
        run_holdout(ds.images, ds.labels, ds.split, ds.n_classes,
                    Hyperparams(optimizer="sgd", learning_rate=5.0, **hp), on_epoch=lambda r: blown.append(r.as_log()))
    s = summarise_curve(blown, crashed=True)
    assert s.crashed and s.best_value is None and describe(s)["crashed"] is True
