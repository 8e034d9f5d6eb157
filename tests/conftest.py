"""Shared fixtures. Add yours below; keep each one documented and independent of the others."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def wandb_offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """W&B offline, every W&B folder under tmp_path; returns the folder runs land in (WANDB_DIR/wandb).

    Subprocesses started by the test inherit the same environment.
    """
    from tests.support.wandb_runs import offline_env

    return offline_env(tmp_path / "wandb_root", monkeypatch)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real MedMNIST files (../shared/data from the repo root); skips when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real image data not found at {SHARED_DATA} (see the project README)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def breastmnist(shared_data: Path) -> Path:
    """../shared/data/breastmnist_28.npz (546/78/156 28x28 ultrasound images, 2 classes)."""
    path = shared_data / "breastmnist_28.npz"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture
def empty_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TORCH_HOME pointing at an empty folder: torchvision finds no ImageNet weights there."""
    home = tmp_path / "torch_home"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return home

