"""The training entrypoint: argument contract, metrics, splits, and real offline W&B runs."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from metallmix_wandb.training import entrypoint as train
from metallmix_wandb.training.loop import classification_metrics
from metallmix_wandb.training.splits import SplitError, holdout_split, kfold_split

TINY = ["--image_size=32", "--base_model=mobilenet_v3_small", "--batch_size=32"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "METALLMIX_TORCH_THREADS": "1", **extra}


def _run_train(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metallmix_wandb.train", *args], env=_env(**env),
                          capture_output=True, text=True, timeout=180)


def _inspect(run_dir: Path) -> dict[str, Any]:
    """W&B's own reader of an offline run (the reference for what the .wandb file holds)."""
    cmd = [sys.executable, "-m", "wandb", "leet", "inspect", "--summary", "--json", str(run_dir)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _history(run_dir: Path) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(run_dir)],
                         capture_output=True, text=True, timeout=60, check=True)
    records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return [r["history"]["item"] for r in records if r.get("type") == "history"]


# --------------------------------------------------------------------------- arguments and config


def test_args_parse_back_to_what_wandb_agent_passed() -> None:
    from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

    config = {"learning_rate": 1e-05, "batch_size": 32, "dropout": 0.5, "optimizer": "adam",
              "dataset": "../shared/data/x y.npz", "modality": None, "flag": True, "sizes": [1, 2]}
    flags = create_sweep_command_args({"args": {k: {"value": v} for k, v in config.items()}})["args"]
    assert "--learning_rate=1e-05" in flags
    assert train.parse_args(flags) == config
    assert train.parse_args(["--image-size", "64", "--quiet"]) == {"image_size": 64, "quiet": True}
    with pytest.raises(train.UsageError, match="--key=value"):
        train.parse_args(["resnet18"])


def test_every_key_has_a_default_and_the_config_validates() -> None:
    d = train.defaults()
    assert set(d) == {"dataset", "base_model", "fine_tuning", "dense_units", "dropout", "optimizer",
                      "learning_rate", "batch_size", "epochs", "image_size", "cv_folds", "seed",
                      "max_train_samples", "modality"}
    cfg = train.TrainConfig.model_validate({**d, "fine_tuning": "Partial 10", "optimizer": "SGD",
                                            "max_train_samples": None, "meta/n_classes": 2.0})
    assert (cfg.fine_tuning, cfg.optimizer, cfg.max_train_samples) == ("partial_10", "sgd", 0)
    with pytest.raises(Exception, match="base_model"):
        train.TrainConfig.model_validate({"base_model": "vgg16"})


def test_help_lists_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert train.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"--{k}" in out for k in train.defaults())
    from metallmix_wandb.cli import main as cli

    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0
    assert "--learning_rate" in result.output and "sweep and Launch" in result.output


def test_torch_threads_default_to_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METALLMIX_TORCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert train.torch_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert train.torch_threads() == 2
    monkeypatch.setenv("METALLMIX_TORCH_THREADS", "3")
    assert train.torch_threads() == 3


# --------------------------------------------------------------------------- metrics and splits


def test_macro_metrics_match_hand_computation() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 0, 0])
    m = classification_metrics(y_true, y_pred, 3)
    # class 0: P 2/4 R 2/3; class 1: P 1/2 R 1/2; class 2: never predicted -> P 0 R 0
    p = [0.5, 0.5, 0.0]
    r = [2 / 3, 0.5, 0.0]
    f = [2 * a * b / (a + b) if a + b else 0.0 for a, b in zip(p, r, strict=True)]
    assert m["acc"] == pytest.approx(3 / 6)
    assert m["precision"] == pytest.approx(np.mean(p))
    assert m["recall"] == pytest.approx(np.mean(r))
    assert m["f1"] == pytest.approx(np.mean(f))
    perfect = classification_metrics(y_true, y_true, 3)
    assert perfect == {"acc": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_splits_are_stratified_disjoint_and_seeded() -> None:
    labels = np.array([0] * 60 + [1] * 20)
    split = np.array(["train"] * 80)
    s = holdout_split(split, labels, max_train=20, seed=3)
    assert len(s.test) == 12 and len(s.val) > 0 and len(s.train) == 20
    assert not set(s.train) & set(s.val) and not set(s.val) & set(s.test)
    assert np.bincount(labels[s.train]).tolist() == [15, 5]  # 3:1 kept
    assert np.array_equal(s.train, holdout_split(split, labels, max_train=20, seed=3).train)
    f = kfold_split(np.array(["train"] * 60 + ["test"] * 20), labels, 4, seed=0)
    vals = np.concatenate([va for _, va in f.folds])
    assert sorted(vals.tolist()) == list(range(60)) and len(f.test) == 20
    assert all(not set(tr) & set(va) for tr, va in f.folds)
    with pytest.raises(SplitError, match="at least 8"):
        kfold_split(np.array(["train"] * 6 + ["test"] * 2), labels[:8], 4)


# --------------------------------------------------------------------------- real training


def test_cross_validation_logs_fold_means(wandb_offline_env: Path, breastmnist: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    result_path = tmp_path / "result.json"
    monkeypatch.setenv("METALLMIX_RESULT_PATH", str(result_path))
    code = train.main([f"--dataset={breastmnist}", *TINY, "--cv_folds=2", "--epochs=2",
                       "--max_train_samples=60", "--batch_size=16"])
    assert code == 0
    result = json.loads(result_path.read_text())
    s = result["summary"]
    assert s["cv/folds"] == 2 and s["cv/folds_completed"] == 2 and s["n_train"] + s["n_val"] == 60
    assert s["n_test"] == 156  # the dataset's own test split, never subsampled
    assert s["test/acc"] == s["cv/test_acc_mean"] and 0 <= s["test/acc"] <= 1
    assert s["cv/val_acc_std"] >= 0 and math.isfinite(s["cv/val_loss_mean"])
    rows = _history(Path(result["run_dir"]))  # the fold-mean curve, one row per epoch
    assert [r["epoch"] for r in rows] == [0, 1]
    assert [r["val/acc"] for r in rows] == [h["val/acc"] for h in result["history"]]


def test_a_nan_loss_fails_the_run(wandb_offline_env: Path, breastmnist: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    result_path = tmp_path / "result.json"
    monkeypatch.setenv("METALLMIX_RESULT_PATH", str(result_path))
    code = train.main([f"--dataset={breastmnist}", *TINY, "--optimizer=sgd", "--learning_rate=1e6",
                       "--max_train_samples=64", "--epochs=1"])
    assert code == 1
    assert re.search(r"error: the (training|validation) loss became nan", capsys.readouterr().err)
    result = json.loads(result_path.read_text())
    assert result["status"] == "failed" and result["exit_code"] == 1
    assert _inspect(Path(result["run_dir"]))["exit_code"] == 1


def test_a_run_logs_the_contract(wandb_offline_env: Path, breastmnist: Path, tmp_path: Path) -> None:
    """Launch overrides (WANDB_CONFIG) and --key=value args both reach wandb.config.

    W&B locks keys set by Launch (or a sweep): an argument for the same key is ignored, so the
    config the run logs is the config it trained with.
    """
    result_path = tmp_path / "result.json"
    launch = json.dumps({"base_model": "mobilenet_v3_small", "epochs": 2, "fine_tuning": "partial_10"})
    args = [f"--dataset={breastmnist}", "--image_size=32", "--max_train_samples=100", "--epochs=1"]
    proc = _run_train(args,
                      WANDB_LAUNCH="True", WANDB_CONFIG=launch, WANDB_PROJECT="contract",
                      METALLMIX_RESULT_PATH=str(result_path))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(result_path.read_text())
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == wandb_offline_env and list(run_dir.glob("run-*.wandb"))
    run = _inspect(run_dir)
    assert run["state"] == "finished" and run["exit_code"] == 0 and run["project"] == "contract"
    cfg = run["config"]
    assert (cfg["base_model"], cfg["fine_tuning"], cfg["epochs"]) == ("mobilenet_v3_small", "partial_10", 2)
    assert cfg["dataset"] == str(breastmnist) and cfg["dataset_name"] == "breastmnist_28"
    assert cfg["meta/n_classes"] == 2 and cfg["meta/modality"] == "US" and cfg["pretrained"] is False
    summary = run["summary"]
    for key in ("test/acc", "test/precision", "test/recall", "test/f1", "train_time_s", "n_params",
                "n_trainable_params"):
        assert isinstance(summary[key], (int, float)), key
    assert summary["n_train"] == 100 and summary["backbone"] == "mobilenet_v3_small"
    assert summary["val/acc"] == {"max": max(r["val/acc"] for r in result["history"])}  # define_metric
    rows = _history(run_dir)
    assert [r["epoch"] for r in rows] == [0, 1]
    assert all({"train/loss", "train/acc", "val/loss", "val/acc"} <= set(r) for r in rows)


def test_a_bad_dataset_path_exits_non_zero(wandb_offline_env: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.npz"
    result_path = tmp_path / "result.json"
    proc = _run_train([f"--dataset={missing}", *TINY], METALLMIX_RESULT_PATH=str(result_path))
    assert proc.returncode == 1
    assert f"error: dataset error: dataset path does not exist: {missing}" in proc.stderr
    assert "Traceback" not in proc.stderr
    run = _inspect(Path(json.loads(result_path.read_text())["run_dir"]))
    assert run["exit_code"] == 1 and run["state"] == "failed"


@pytest.mark.slow
def test_sigterm_stops_after_the_epoch_and_still_reports(wandb_offline_env: Path, breastmnist: Path,
                                                         tmp_path: Path) -> None:
    """What a sweep's early termination (or `wandb agent` stopping a run) does to a trial."""
    result_path = tmp_path / "result.json"
    proc = subprocess.Popen([sys.executable, "-m", "metallmix_wandb.train", f"--dataset={breastmnist}", *TINY,
                             "--max_train_samples=64", "--epochs=50"],
                            env=_env(METALLMIX_RESULT_PATH=str(result_path)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if result_path.exists() and json.loads(result_path.read_text()).get("history"):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(result_path.read_text())
    assert result["summary"]["early_terminated"] is True
    assert 1 <= result["summary"]["epochs_trained"] < 50 and "test/acc" in result["summary"]
