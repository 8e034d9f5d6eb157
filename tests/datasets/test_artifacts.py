"""Datasets as W&B artifacts, driven through the real SDK and wandb-core against the loopback backend
(online), and into an offline run folder (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from metallmix_wandb.datasets.artifacts import DatasetArtifactError, log_dataset, resolve_dataset, use_dataset
from metallmix_wandb.datasets.images import load_image_dataset
from tests.support.wandb_backend import Backend, wandb_backend_session_fixture
from tests.support.wandb_runs import wait_for_exit_record

wandb_backend = pytest.fixture(wandb_backend_session_fixture)
META_KEYS = {"n_instances", "n_classes", "imbalance_ratio", "class_entropy", "resolution", "modality"}


def _folder_tree(root: Path) -> Path:
    """A class-per-folder dataset: 3 + 5 grey 12x12 PNGs."""
    for cls, n in (("benign", 3), ("malignant", 5)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (12, 12), 40 * i).save(root / cls / f"{i}.png")
    return root


def test_log_online_stores_the_file_and_the_meta_features(wandb_backend: Backend, breastmnist: Path) -> None:
    logged = log_dataset(breastmnist, "breast-28", "data")
    assert logged.reference == "wandb-artifact://team/data/breast-28:v0" and not logged.offline
    (art,) = wandb_backend.world.artifacts
    assert (art.type, art.state, art.aliases) == ("dataset", "COMMITTED", ["latest"])
    assert art.files == {"breastmnist_28.npz": breastmnist.read_bytes()}
    meta = art.metadata["meta_features"]
    assert META_KEYS <= set(meta) and meta["n_instances"] == 546 and meta["modality"] == "US"
    assert art.metadata["root"] == "breastmnist_28.npz" and art.metadata["format"] == "npz"
    (run,) = wandb_backend.world.project_runs("team", "data")
    assert run.job_type == "dataset-log" and run.state == "finished" and run.logged_artifacts == [art.id]
    # logging the same bytes again makes no new version (the server deduplicates by digest)
    assert log_dataset(breastmnist, "breast-28", "data").reference.endswith(":v0")
    assert len(wandb_backend.world.artifacts) == 1 and wandb_backend.unknown == []


def test_a_folder_tree_round_trips_through_use_artifact(wandb_backend: Backend, tmp_path: Path) -> None:
    import wandb

    tree = _folder_tree(tmp_path / "my_xrays")
    logged = log_dataset(tree, "xrays", "data", modality="X-ray")
    assert logged.metadata["format"] == "class-folders" and logged.metadata["meta_features"]["modality"] == "X-ray"
    with wandb.init(project="train", job_type="train") as run:
        local, metadata, art = use_dataset(run, logged.reference, tmp_path / "dl")
        run_id = run.id
    assert local == tmp_path / "dl" / "xrays" / "v0" / "my_xrays" and art.version == "v0"
    ds = load_image_dataset(local)
    assert (ds.name, len(ds), ds.class_names) == ("my_xrays", 8, ["benign", "malignant"])
    assert metadata["n_images"] == 8
    (used,) = wandb_backend.world.runs[("team", "train", run_id)].used_artifacts
    assert used == wandb_backend.world.artifacts[0].id and wandb_backend.unknown == []


def test_resolve_reads_the_metadata_without_downloading(wandb_backend: Backend) -> None:
    meta = {"n_instances": 1000, "n_classes": 3, "modality": "CT"}
    wandb_backend.world.add_artifact("team", "data", "ct-scans", "dataset", files={"ct.npz": b"x" * 1000},
                                     metadata={"meta_features": meta, "root": "ct.npz"})
    wandb_backend.reset_counts()
    resolved = resolve_dataset("ct-scans", None, "data", modality="mri")
    assert resolved.reference == "wandb-artifact://team/data/ct-scans:v0"  # pinned to the version read
    assert resolved.meta_features == {"n_instances": 1000.0, "n_classes": 3.0, "modality": "MRI"}
    assert wandb_backend.count("file") == 0 and "GetArtifactMembershipFileUrls" not in wandb_backend.graphql_counts()


def test_resolve_errors_are_one_line(wandb_backend: Backend) -> None:
    wandb_backend.world.add_artifact("team", "data", "plain", "dataset", files={"a.npz": b"x"})
    with pytest.raises(DatasetArtifactError, match=r"^wandb-artifact://team/data/plain:latest has no meta-features"):
        resolve_dataset("wandb-artifact://team/data/plain:latest", "team", "data")
    with pytest.raises(DatasetArtifactError, match=r"^cannot read dataset artifact wandb-artifact://team/data/nope"):
        resolve_dataset("team/data/nope", "team", "data")
    wandb_backend.world.add_artifact("team", "data", "model", "model", files={"m.pt": b"x"})
    with pytest.raises(DatasetArtifactError, match="cannot read dataset artifact"):
        resolve_dataset("team/data/model:latest", "team", "data")


def test_log_offline_keeps_the_artifact_in_the_run_folder(wandb_offline_env: Path, breastmnist: Path) -> None:
    import wandb
    from wandb.proto import wandb_internal_pb2

    from metallmix_wandb.knowledge.record_log import read_record_log

    wandb.teardown()  # a fresh W&B session that sees WANDB_MODE=offline
    logged = log_dataset(breastmnist, "breast-28", "data", entity="team")
    assert logged.offline and logged.reference == "wandb-artifact://team/data/breast-28:latest"
    wait_for_exit_record(Path(logged.run_dir))  # wandb-core finishes the log shortly after finish() returns
    (log_file,) = Path(logged.run_dir).glob("run-*.wandb")
    records = [wandb_internal_pb2.Record.FromString(p) for p in read_record_log(log_file).payloads]
    (art,) = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert (art.name, art.type, art.project) == ("breast-28", "dataset", "data")
    assert json.loads(art.metadata)["meta_features"]["n_instances"] == 546
    assert [e.path for e in art.manifest.contents] == ["breastmnist_28.npz"]


def test_a_bad_dataset_fails_before_wandb_starts(wandb_offline_env: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="empty"):
        log_dataset(tmp_path / "empty", "x", "data")
    assert not wandb_offline_env.exists() or not list(wandb_offline_env.glob("offline-run-*"))
