"""A small real W&B project, written once per test session with the real SDK in offline mode.

Import the fixtures you need into a test module: `from tests.support.fixtures import offline_project`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.wandb_runs import meta, write_killed_run, write_run

PROJECT = "kb-test"
# Three datasets of clearly different size and class count, so nearest neighbours are unambiguous.
DATASETS = {
    "/data/small_us.npz": meta(500, 2, "US"),
    "/data/mid_xray.npz": meta(5_000, 3, "X-ray"),
    "/data/big_ct.npz": meta(50_000, 11, "CT"),
}


@dataclass
class OfflineProject:
    root: Path
    wandb_dir: Path
    finished: int
    skipped: dict[str, int]


def _history(acc: float) -> list[dict]:
    return [{"epoch": e, "train/loss": 1 / (e + 1), "val/acc": acc - 0.05 * (2 - e)} for e in range(3)]


@pytest.fixture(scope="session")
def offline_project(tmp_path_factory: pytest.TempPathFactory) -> OfflineProject:
    from tests.support.wandb_runs import offline_env

    root = tmp_path_factory.mktemp("wandb_project")
    with pytest.MonkeyPatch.context() as mp:
        wandb_dir = offline_env(root, mp)
        finished = 0
        for i, (dataset, mf) in enumerate(DATASETS.items()):
            for j, (lr, bs) in enumerate([(1e-3, 32), (1e-2, 64)]):
                acc = 0.6 + 0.1 * i + 0.05 * j
                write_run(PROJECT, {"dataset": dataset, "learning_rate": lr, "batch_size": bs, **mf},
                          _history(acc), {"test/acc": acc, "train_time_s": 10.0 * (i + 1)},
                          name=f"run {i}-{j}")
                finished += 1
        first, first_meta = next(iter(DATASETS.items()))
        write_run(PROJECT, {"dataset": first, "learning_rate": 0.5, **first_meta}, _history(0.5),
                  {"test/acc": math.nan})
        write_run(PROJECT, {"dataset": first, "learning_rate": 0.1, **first_meta}, _history(0.5),
                  {"train_time_s": 3.0})
        write_run(PROJECT, {"dataset": first, "learning_rate": 0.2, **first_meta}, _history(0.5),
                  {"test/acc": 0.9}, exit_code=1)
        write_run("another-project", {"dataset": first, **first_meta}, _history(0.5), {"test/acc": 0.7})
        write_killed_run(PROJECT, {"dataset": first, "learning_rate": 0.3, **first_meta}, _history(0.5))
    return OfflineProject(
        root=root, wandb_dir=wandb_dir, finished=finished,
        skipped={"NaN metric": 1, "missing metric": 1, "crashed": 1, "other project": 1, "incomplete": 1},
    )
