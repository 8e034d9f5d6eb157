"""A knowledge base in the smoke space (sweeps/smoke.yaml), for `tune` tests that train for real.

Synthetic past experiments (known structure, 6 datasets x 12 runs) are stored in a real embedded
Qdrant folder and explained by the real pipeline (XGBoost meta-learner, SHAP, digest, cache), with
no W&B runs written (fast). Import `tune_kb` into a test module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.space.search_space import SearchSpace
from tests.support.synthetic import dataset_meta

PROJECT = "tune-test"
REPO = Path(__file__).resolve().parents[2]
BACKBONE = {"mobilenet_v3_small": -0.03, "resnet18": 0.02, "mobilenet_v2": 0.0}
TUNE = {"feature_extraction": -0.04, "partial_10": 0.0, "full": 0.03}


def smoke_space(max_train_samples: int = 150) -> tuple[dict, SearchSpace]:
    """sweeps/smoke.yaml with the training cap the tests use."""
    cfg = yaml.safe_load((REPO / "sweeps" / "smoke.yaml").read_text())
    cfg["parameters"]["max_train_samples"] = {"value": max_train_samples}
    return cfg, SearchSpace.from_sweep_config(cfg)


def smoke_acc(meta: dict, c: dict) -> float:
    big = math.log10(meta["n_instances"]) - 3.5
    lr = -0.05 if (c["optimizer"] == "sgd") == (c["learning_rate"] == 0.001) else 0.02
    return (0.7 + 0.05 * big + BACKBONE[c["base_model"]] + TUNE[c["fine_tuning"]] + lr
            - 0.02 * (c["dropout"] == 0.5) + 0.005 * (c["dense_units"] == 64))


def smoke_experiments(n_datasets: int = 6, runs: int = 12, seed: int = 0) -> list[Experiment]:
    rng = np.random.default_rng(seed)
    space = smoke_space()[1].without("dataset")
    out = []
    for d in range(n_datasets):
        meta = {**dataset_meta(rng), "modality": ["US", "X-ray", "CT"][d % 3]}
        for r, c in enumerate(space.sample(rng, runs)):
            acc = float(np.clip(smoke_acc(meta, c) + rng.normal(0, 0.01), 0.05, 0.99))
            t = 5.0 + meta["n_instances"] / 1000 * {"mobilenet_v3_small": 0.5, "resnet18": 2.0, "mobilenet_v2": 1.0}[
                c["base_model"]] * (1.0 if c["fine_tuning"] == "full" else 0.5)
            out.append(Experiment(run_path=f"offline/{PROJECT}/{d:02d}-{r:03d}", run_id=f"{d:02d}-{r:03d}",
                                  dataset=f"/data/smoke_{d}.npz", dataset_name=f"smoke_{d}", config=c,
                                  meta_features=meta, summary={"test/acc": acc, "train_time_s": t}, train_time_s=t))
    return out


@dataclass
class TuneKB:
    cache_dir: Path
    qdrant_path: Path
    space_path: Path
    space: SearchSpace


@pytest.fixture(scope="session")
def tune_kb_files(tmp_path_factory: pytest.TempPathFactory) -> TuneKB:
    from metallmix_wandb.knowledge.store import ExperimentStore, collection_name, open_client
    from metallmix_wandb.knowledge.scaling import fit_scaler
    from metallmix_wandb.knowledge.meta_learner.explain import explain
    from metallmix_wandb.settings import load_settings

    root = tmp_path_factory.mktemp("tune_kb")
    cfg, space = smoke_space()
    space_path = root / "smoke150.yaml"
    space_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    exps = smoke_experiments()
    scaler = fit_scaler([e.meta_features for e in exps[::12]])
    with ExperimentStore(open_client(path=root / "qdrant"), collection_name(PROJECT)) as store:
        store.reset(scaler)
        store.upsert(exps, scaler)
        settings = load_settings(project=PROJECT, cache_dir=root / "cache", qdrant_path=root / "qdrant",
                                 wandb_mode="disabled")
        explain(store, settings, space, log_to_wandb=False)
    return TuneKB(cache_dir=root / "cache", qdrant_path=root / "qdrant", space_path=space_path, space=space)


@pytest.fixture
def tune_kb(tune_kb_files: TuneKB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TuneKB:
    """The knowledge base in this test's environment: W&B offline under tmp_path, and a cache of its
    own (a copy of the session's knowledge), so tune state files never leak between tests."""
    import shutil

    from tests.support.wandb_runs import offline_env

    offline_env(tmp_path / "wandb_root", monkeypatch)
    cache = tmp_path / "cache"
    shutil.copytree(tune_kb_files.cache_dir / "knowledge", cache / "knowledge")
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(cache))
    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(tune_kb_files.qdrant_path))
    for var in ("METALLMIX_LLM_BASE_URL", "METALLMIX_LLM_MODEL", "METALLMIX_METRIC"):
        monkeypatch.delenv(var, raising=False)
    return TuneKB(cache_dir=cache, qdrant_path=tune_kb_files.qdrant_path, space_path=tune_kb_files.space_path,
                  space=tune_kb_files.space)
