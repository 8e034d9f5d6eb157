"""One experiment of the meta-dataset: a hold-out run or k-fold CV, as history rows and a summary.

Knows nothing about W&B: the entrypoint (``metallmix_wandb.train``) hands in callbacks that log.
Tested through tests/training/test_entrypoint.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from metallmix_wandb.training.models import BuiltModel, build_model
from metallmix_wandb.training.loop import (
    EpochRow,
    StopFlag,
    classification_metrics,
    evaluate,
    fit,
)
from metallmix_wandb.training.splits import holdout_split, kfold_split


@dataclass(frozen=True)
class Hyperparams:
    base_model: str
    fine_tuning: str
    dense_units: int
    dropout: float
    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    image_size: int
    cv_folds: int
    seed: int
    max_train_samples: int | None


@dataclass
class ExperimentResult:
    history: list[dict[str, float]]
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _build(hp: Hyperparams, n_classes: int, seed: int) -> BuiltModel:
    seed_everything(seed)  # same seed -> same head and (random) backbone init
    return build_model(hp.base_model, n_classes, dense_units=hp.dense_units, dropout=hp.dropout,
                       fine_tuning=hp.fine_tuning, image_size=hp.image_size)


def _model_summary(built: BuiltModel) -> dict[str, Any]:
    return {
        "pretrained": built.pretrained,
        "pretrained_weights": built.weights_name or "none",
        "backbone": built.spec.torchvision,
        "input_size": built.input_size,
        "n_params": built.n_params,
        "n_trainable_params": built.n_trainable_params,
        "n_unfrozen_layers": built.n_unfrozen_layers,
    }


def _test_metrics(built: BuiltModel, images: np.ndarray, labels: np.ndarray, idx: np.ndarray,
                  n_classes: int, device: str) -> dict[str, float]:
    loss, _, pred = evaluate(built.model, images[idx], labels[idx], built.input_size, device)
    return {**classification_metrics(labels[idx], pred, n_classes), "loss": loss}


def _train_kwargs(hp: Hyperparams, built: BuiltModel, stop: StopFlag | None, device: str) -> dict[str, Any]:
    return {"size": built.input_size, "optimizer": hp.optimizer, "learning_rate": hp.learning_rate,
            "batch_size": hp.batch_size, "epochs": hp.epochs, "seed": hp.seed, "stop": stop, "device": device}


def run_holdout(images: np.ndarray, labels: np.ndarray, split: np.ndarray, n_classes: int, hp: Hyperparams, *,
                on_model: Callable[[BuiltModel], None] = lambda b: None,
                on_epoch: Callable[[EpochRow], None] = lambda r: None,
                stop: StopFlag | None = None, device: str = "cpu") -> ExperimentResult:
    s = holdout_split(split, labels, max_train=hp.max_train_samples, seed=hp.seed)
    built = _build(hp, n_classes, hp.seed)
    on_model(built)
    res = fit(built.model, (images[s.train], labels[s.train]), (images[s.val], labels[s.val]),
              on_epoch=on_epoch, **_train_kwargs(hp, built, stop, device))
    test = _test_metrics(built, images, labels, s.test, n_classes, device)
    summary = {f"test/{k}": v for k, v in test.items()}
    summary.update(_model_summary(built))
    summary.update({
        "train_time_s": res.seconds, "epochs_trained": len(res.history),
        "early_terminated": res.stopped_early,
        "n_train": int(s.train.size), "n_val": int(s.val.size), "n_test": int(s.test.size),
    })
    return ExperimentResult(history=[r.as_log() for r in res.history], summary=summary, notes=s.notes)


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    return (float(arr.mean()), float(arr.std(ddof=0))) if arr.size else (math.nan, math.nan)


def _mean_curve(histories: list[list[EpochRow]]) -> list[dict[str, float]]:
    """Per-epoch mean over folds (epochs all folds reached; early termination can cut some short)."""
    n = min((len(h) for h in histories), default=0)
    rows = []
    for e in range(n):
        logs = [h[e].as_log() for h in histories]
        rows.append({k: float(np.mean([row[k] for row in logs])) for k in logs[0]})
        rows[-1]["epoch"] = e
    return rows


def run_cv(images: np.ndarray, labels: np.ndarray, split: np.ndarray, n_classes: int, hp: Hyperparams, *,
           on_model: Callable[[BuiltModel], None] = lambda b: None,
           on_fold: Callable[[int, list[EpochRow]], None] = lambda f, h: None,
           stop: StopFlag | None = None, device: str = "cpu") -> ExperimentResult:
    """k-fold CV on train+val; each fold's model is also scored on the test split, test/* = fold mean."""
    k = hp.cv_folds
    folds = kfold_split(split, labels, k, max_train=hp.max_train_samples, seed=hp.seed)
    histories: list[list[EpochRow]] = []
    tests: list[dict[str, float]] = []
    seconds, stopped, built = 0.0, False, None
    for f, (tr, va) in enumerate(folds.folds):
        built = _build(hp, n_classes, hp.seed + f)
        if f == 0:
            on_model(built)
        res = fit(built.model, (images[tr], labels[tr]), (images[va], labels[va]),
                  **_train_kwargs(hp, built, stop, device))
        histories.append(res.history)
        tests.append(_test_metrics(built, images, labels, folds.test, n_classes, device))
        seconds += res.seconds
        on_fold(f, res.history)
        if res.stopped_early or (stop is not None and stop.requested):
            stopped = True
            break
    assert built is not None
    summary: dict[str, Any] = {"cv/folds": k, "cv/folds_completed": len(histories)}
    for key in ("val_acc", "val_loss"):
        metric = key.replace("_", "/")
        m, s = _mean_std([h[-1].as_log()[metric] for h in histories if h])
        summary[f"cv/{key}_mean"], summary[f"cv/{key}_std"] = m, s
    for key in ("acc", "precision", "recall", "f1", "loss"):
        m, s = _mean_std([t[key] for t in tests])
        summary[f"test/{key}"] = m
        summary[f"cv/test_{key}_mean"], summary[f"cv/test_{key}_std"] = m, s
    summary.update(_model_summary(built))
    summary.update({
        "train_time_s": seconds, "epochs_trained": min(len(h) for h in histories),
        "early_terminated": stopped,
        "n_train": int(folds.folds[0][0].size), "n_val": int(folds.folds[0][1].size),
        "n_test": int(folds.test.size),
    })
    return ExperimentResult(history=_mean_curve(histories), summary=summary, notes=folds.notes)
