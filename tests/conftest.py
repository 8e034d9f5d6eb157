"""Shared fixtures. Add yours below; keep each one documented and independent of the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.require import ci_mode, require

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
    """The real MedMNIST files (../shared/data from the repo root); skips when absent (fails under CI=true)."""
    require(SHARED_DATA.is_dir(), "real image data", f"expected at {SHARED_DATA} (see the project README)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def breastmnist(shared_data: Path) -> Path:
    """../shared/data/breastmnist_28.npz (546/78/156 28x28 ultrasound images, 2 classes)."""
    path = shared_data / "breastmnist_28.npz"
    require(path.is_file(), "breastmnist_28.npz", f"expected at {path}")
    return path


@pytest.fixture
def empty_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TORCH_HOME pointing at an empty folder: torchvision finds no ImageNet weights there."""
    home = tmp_path / "torch_home"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return home



SLOW_TIMEOUT_S = 1800  # a slow test (training, the real LLM, Launch) gets this instead of pyproject's `timeout`


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A `slow` test without its own `timeout` mark gets SLOW_TIMEOUT_S (pytest-timeout)."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Under CI=true a skip is a failure, whichever way it was raised (a skip outside tests/support/require
    would otherwise leave CI green with only a SKIPPED line)."""
    report: pytest.TestReport = yield
    if ci_mode() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI=true: a test may not skip in CI: {reason}"
    return report
