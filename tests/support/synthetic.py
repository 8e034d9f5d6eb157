"""Synthetic but realistic experiment sets with a known structure, for meta-learner tests and
benchmarks: test/acc = dataset difficulty + learning-rate curve (best 1e-3) + backbone effect +
a fine-tuning x dataset-size interaction + a little dropout + noise. Batch size does nothing.

`offline_explain_project` writes such runs with the real W&B SDK (offline) for pipeline/CLI tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.space.search_space import SearchSpace

SPACE_YAML = """
method: random
metric: {name: test/acc, goal: maximize}
parameters:
  dataset: {values: [a.npz, b.npz]}
  base_model: {values: [resnet50, efficientnet_b0, densenet121, mobilenet_v2]}
  fine_tuning: {values: [feature_extraction, partial_30, full]}
  learning_rate: {values: [0.01, 0.001, 0.0001, 0.00001]}
  batch_size: {values: [16, 32, 64]}
  dropout: {values: [0.2, 0.3, 0.4, 0.5]}
  epochs: {value: 10}
"""
CONTINUOUS_YAML = """
parameters:
  base_model: {values: [resnet50, efficientnet_b0, densenet121, mobilenet_v2]}
  fine_tuning: {values: [feature_extraction, partial_30, full]}
  learning_rate: {distribution: log_uniform_values, min: 0.00001, max: 0.1}
  batch_size: {distribution: int_uniform, min: 8, max: 128}
  dropout: {distribution: uniform, min: 0.0, max: 0.6}
  epochs: {value: 10}
"""
BACKBONE = {"resnet50": 0.03, "efficientnet_b0": 0.02, "densenet121": 0.0, "mobilenet_v2": -0.04}
COST = {"resnet50": 2.0, "efficientnet_b0": 1.2, "densenet121": 1.8, "mobilenet_v2": 0.6}
TUNE_COST = {"feature_extraction": 0.4, "partial_30": 0.7, "full": 1.0}
MODALITIES = ["US", "X-ray", "CT", "MRI"]


def space(continuous: bool = False) -> SearchSpace:
    return SearchSpace.from_yaml_text(CONTINUOUS_YAML if continuous else SPACE_YAML)


def dataset_meta(rng: np.random.Generator) -> dict[str, Any]:
    n = float(round(math.exp(rng.uniform(math.log(500), math.log(100_000)))))
    k = float(rng.integers(2, 12))
    return {"n_instances": n, "n_classes": k, "imbalance_ratio": float(round(rng.uniform(1, 8), 2)),
            "class_entropy": float(round(math.log2(k) * rng.uniform(0.7, 1.0), 3)), "resolution": 28.0,
            "modality": MODALITIES[int(rng.integers(len(MODALITIES)))]}


def true_acc(meta: dict[str, Any], config: dict[str, Any]) -> float:
    """The noiseless accuracy of a config on a dataset (what a perfect meta-learner would learn)."""
    big = math.log10(meta["n_instances"]) - 3.5  # -0.8 .. +1.5
    base = 0.62 + 0.08 * big - 0.012 * meta["n_classes"]
    lr = -0.06 * (math.log10(config["learning_rate"]) + 3.0) ** 2
    tune = {"feature_extraction": -0.03 * big, "partial_30": 0.0, "full": 0.04 * big}[config["fine_tuning"]]
    drop = -0.2 * (config["dropout"] - 0.3) ** 2
    return base + lr + BACKBONE[config["base_model"]] + tune + drop


def train_time(meta: dict[str, Any], config: dict[str, Any]) -> float:
    return 5.0 + meta["n_instances"] / 200 * COST[config["base_model"]] * TUNE_COST[config["fine_tuning"]] \
        * config["epochs"] / 10 * (32 / config["batch_size"]) ** 0.3


@dataclass
class Synthetic:
    experiments: list[Experiment]
    space: SearchSpace
    metas: dict[str, dict[str, Any]]


def experiments(n_datasets: int = 12, runs_per_dataset: int = 30, seed: int = 0, noise: float = 0.01,
                continuous: bool = False) -> Synthetic:
    rng = np.random.default_rng(seed)
    sp = space(continuous).without(*(["dataset"] if not continuous else []))
    exps, metas = [], {}
    for d in range(n_datasets):
        meta = dataset_meta(rng)
        name = f"/data/synth_{d:03d}.npz"
        metas[name] = meta
        for r, config in enumerate(sp.sample(rng, runs_per_dataset)):
            acc = float(np.clip(true_acc(meta, config) + rng.normal(0, noise), 0.05, 0.999))
            t = train_time(meta, config) * float(rng.uniform(0.9, 1.1))
            exps.append(Experiment(
                run_path=f"offline/synthetic/{d:03d}-{r:04d}", run_id=f"{d:03d}-{r:04d}", dataset=name,
                dataset_name=f"synth_{d:03d}", config=config, meta_features=meta,
                summary={"test/acc": acc, "train_time_s": t}, train_time_s=t,
            ))
    return Synthetic(experiments=exps, space=sp, metas=metas)


# --------------------------------------------------------------------------- real offline runs

EXPLAIN_PROJECT = "explain-test"


@dataclass
class OfflineExplainProject:
    root: Path
    wandb_dir: Path
    runs: int
    space_path: Path


@pytest.fixture(scope="session")
def offline_explain_project(tmp_path_factory: pytest.TempPathFactory) -> OfflineExplainProject:
    """24 real offline runs (4 datasets x 6 configs) with the synthetic structure, plus the sweep YAML."""
    from tests.support.wandb_runs import offline_env, write_run

    root = tmp_path_factory.mktemp("explain_project")
    synth = experiments(n_datasets=4, runs_per_dataset=6, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        wandb_dir = offline_env(root, mp)
        for e in synth.experiments:
            config = {"dataset": e.dataset, "dataset_name": e.dataset_name, **e.config,
                      **{f"meta/{k}": v for k, v in e.meta_features.items()}}
            history = [{"epoch": 0, "val/acc": e.summary["test/acc"] - 0.02}]
            write_run(EXPLAIN_PROJECT, config, history, e.summary, name=e.run_id)
    space_path = root / "space.yaml"
    space_path.write_text(SPACE_YAML)
    return OfflineExplainProject(root=root, wandb_dir=wandb_dir, runs=len(synth.experiments),
                                 space_path=space_path)
