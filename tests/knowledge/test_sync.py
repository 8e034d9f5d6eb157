"""sync end to end: runs written by the real SDK (offline) -> real embedded Qdrant -> search."""

from __future__ import annotations

from pathlib import Path

import pytest

from metallmix_wandb.knowledge.store import ExperimentStore, collection_name, open_client
from metallmix_wandb.knowledge.runs_offline import OfflineRunSource
from metallmix_wandb.knowledge.experiments import MetricNames
from metallmix_wandb.knowledge.sync import NothingToSyncError, sync
from tests.support.fixtures import DATASETS, PROJECT, OfflineProject, offline_project  # noqa: F401
from tests.support.wandb_runs import from_config, meta, offline_env, write_run


@pytest.fixture
def store(tmp_path: Path):
    with ExperimentStore(open_client(path=tmp_path / "qdrant"), collection_name(PROJECT)) as s:
        yield s


def test_sync_skips_bad_runs_with_reasons_and_is_idempotent(offline_project: OfflineProject, store) -> None:  # noqa: F811
    source = OfflineRunSource(offline_project.wandb_dir, project=PROJECT)
    report = sync(source, store, MetricNames())
    assert report.synced == offline_project.finished == store.count()
    assert report.skip_counts == offline_project.skipped
    assert report.read == offline_project.finished + sum(offline_project.skipped.values())
    assert report.datasets == len(DATASETS) and report.rescaled
    again = sync(OfflineRunSource(offline_project.wandb_dir, project=PROJECT), store, MetricNames())
    assert store.count() == offline_project.finished and not again.rescaled


def test_synced_experiments_carry_history_summary_and_meta(offline_project: OfflineProject, store) -> None:  # noqa: F811
    sync(OfflineRunSource(offline_project.wandb_dir, project=PROJECT), store, MetricNames())
    hits = store.search(from_config(DATASETS["/data/mid_xray.npz"]), k=2)
    assert {h.experiment.dataset for h in hits} == {"/data/mid_xray.npz"}
    exp = hits[0].experiment
    assert exp.run_path.startswith(f"offline/{PROJECT}/")
    assert exp.meta_features["modality"] == "X-ray" and exp.meta_features["n_instances"] == 5000.0
    assert set(exp.config) == {"learning_rate", "batch_size"}
    assert exp.trajectory.epochs == 3 and exp.trajectory.best_epoch == 2
    assert exp.summary["test/acc"] == pytest.approx(exp.trajectory.best_value + 0.0, abs=0.2)
    assert exp.train_time_s == 20.0 and exp.synced_at


def test_a_new_dataset_rescales_every_point(
    offline_project: OfflineProject, store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    sync(OfflineRunSource(offline_project.wandb_dir, project=PROJECT), store, MetricNames())
    before = store.scaler()
    extra = offline_env(tmp_path / "more", monkeypatch)
    write_run(PROJECT, {"dataset": "/data/huge.npz", "learning_rate": 1e-4, **meta(500_000, 100, "MRI")},
              [{"val/acc": 0.5}], {"test/acc": 0.5})
    report = sync(OfflineRunSource(extra, project=PROJECT), store, MetricNames())
    assert report.synced == 1, report.skipped
    assert report.rescaled and store.scaler() != before
    assert store.count() == offline_project.finished + 1 and report.datasets == len(DATASETS) + 1
    # Old points were re-embedded with the new scaler: an exact query still finds distance 0.
    hit = store.search(from_config(DATASETS["/data/small_us.npz"]), k=1)[0]
    assert hit.experiment.dataset == "/data/small_us.npz" and hit.distance == pytest.approx(0.0, abs=1e-6)


def test_nothing_usable_is_an_error_that_counts_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store) -> None:
    runs = offline_env(tmp_path / "w", monkeypatch)
    write_run(PROJECT, {"dataset": "d", "lr": 1}, [], {"test/acc": 0.5})
    with pytest.raises(NothingToSyncError, match="1 no meta-features"):
        sync(OfflineRunSource(runs, project=PROJECT), store, MetricNames())
    assert store.count() == 0


class _SinceOfflineSource(OfflineRunSource):
    """The offline runs as an incremental source whose runs are all older than any watermark: a sync
    with `since` set reads nothing new (what a W&B project with no new runs gives)."""

    since: str | None = None
    watermark_key = f"offline/{PROJECT}"

    def __iter__(self):  # noqa: ANN204
        return iter(()) if self.since else super().__iter__()

    def count(self) -> int:
        return 0 if self.since else super().count()

    def next_watermark(self) -> str:
        return "2026-01-01T00:00:00Z"

    def listed_paths(self) -> set[str] | None:
        return None


def test_an_emptied_collection_is_read_in_full_despite_its_watermark(offline_project: OfflineProject,  # noqa: F811
                                                                     store) -> None:
    """Its storage file deleted or emptied, a collection keeps its watermark in meta.json: `sync` reads
    every run again, rather than only the (no) new ones, which would leave it empty."""
    first = sync(_SinceOfflineSource(offline_project.wandb_dir, project=PROJECT), store, MetricNames())
    assert not first.incremental and store.watermark(f"offline/{PROJECT}")
    store.delete(store.meta_by_run())
    again = sync(_SinceOfflineSource(offline_project.wandb_dir, project=PROJECT), store, MetricNames())
    assert not again.incremental and again.synced == store.count() == offline_project.finished
