"""sync + explain end to end: real offline W&B runs -> real embedded Qdrant -> real xgboost/shap ->
an offline W&B run holding the knowledge artifact, and the local cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from metallmix_wandb.knowledge.meta_learner.artifact import (
    KNOWLEDGE_TYPE,
    KnowledgeError,
    artifact_name,
    cache_folder,
    load_knowledge,
)
from metallmix_wandb.knowledge.store import ExperimentStore, collection_name, open_client
from metallmix_wandb.knowledge.runs_offline import OfflineRunSource, find_run_dirs
from metallmix_wandb.knowledge.record_log import read_record_log
from metallmix_wandb.knowledge.experiments import MetricNames
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.knowledge.meta_learner.explain import MetaLearnerError, explain
from metallmix_wandb.knowledge.sync import sync
from metallmix_wandb.settings import load_settings
from tests.support.fixtures import PROJECT, OfflineProject, offline_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT, OfflineExplainProject, offline_explain_project  # noqa: F401
from tests.support.wandb_runs import offline_env

EXPECTED_FILES = {
    "model_rank.ubj", "model_raw.ubj", "model_time.ubj", "model_quantile.ubj", "meta_learner.json",
    "shap_summary.json", "digest.md", "quality.json", "search_space.yaml", "search_space.json", "scaler.json",
    "shap_bar.png", "shap_beeswarm.png", "manifest.json",
    "order_transfer.npz",  # the default variant's per-dataset GPs (the synthetic space: most configs untried)
}


def _artifact_records(run_dir: Path) -> list:
    from wandb.proto import wandb_internal_pb2 as pb

    out = []
    for payload in read_record_log(next(run_dir.glob("run-*.wandb"))).payloads:
        rec = pb.Record()
        rec.ParseFromString(payload)
        if rec.WhichOneof("record_type") == "artifact":
            out.append(rec.artifact)
    return out


@pytest.fixture
def synced(offline_explain_project: OfflineExplainProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    """The 24 runs synced into a fresh embedded Qdrant; W&B offline into a fresh folder for explain's run."""
    out = offline_env(tmp_path / "explain_runs", monkeypatch)
    settings = load_settings(project=EXPLAIN_PROJECT, cache_dir=tmp_path / "cache")
    with ExperimentStore(open_client(path=tmp_path / "qdrant"), collection_name(EXPLAIN_PROJECT)) as store:
        report = sync(OfflineRunSource(offline_explain_project.wandb_dir, project=EXPLAIN_PROJECT), store,
                      MetricNames())
        assert report.synced == offline_explain_project.runs
        yield store, settings, out


def test_explain_writes_cache_artifact_and_payloads_and_is_idempotent(
    synced, offline_explain_project: OfflineExplainProject  # noqa: F811
) -> None:
    store, settings, out = synced
    space = SearchSpace.from_yaml(offline_explain_project.space_path)
    first = explain(store, settings, space=space)
    assert first.wandb_error is None and first.wandb_mode == "offline"
    assert first.runs == 24 and first.datasets == 4 and first.quality.measured
    folder = cache_folder(EXPLAIN_PROJECT, settings.cache_dir)
    assert Path(first.cache_dir) == folder and set(first.files) == EXPECTED_FILES - {"manifest.json"}
    assert {p.name for p in folder.iterdir()} == EXPECTED_FILES
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp folders left
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert (folder / "shap_bar.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "learning_rate" in (folder / "digest.md").read_text()

    # The offline run: job_type sync, one artifact of our type holding the same files.
    run_dir = Path(first.wandb_run)
    assert run_dir.parent == out and run_dir in find_run_dirs(out)
    [artifact] = _artifact_records(run_dir)
    assert artifact.type == KNOWLEDGE_TYPE and artifact.name == artifact_name(EXPLAIN_PROJECT)
    staged = {c.path: Path(c.local_path) for c in artifact.manifest.contents}
    assert set(staged) == EXPECTED_FILES
    assert staged["digest.md"].read_bytes() == (folder / "digest.md").read_bytes()

    # Local SHAP top-3 in every experiment's Qdrant payload.
    experiments = list(store.all())
    assert len(experiments) == 24 and first.shap_top3_written == 24
    for e in experiments:
        assert len(e.shap_top3) == 3 and {"feature", "value", "shap"} <= set(e.shap_top3[0])
        assert abs(e.shap_top3[0]["shap"]) >= abs(e.shap_top3[2]["shap"])

    knowledge = load_knowledge(EXPLAIN_PROJECT, settings.cache_dir)
    assert knowledge.quality == first.quality and "dataset" not in knowledge.space.params
    assert knowledge.summary.features[0].feature == first.top_features[0]
    meta = experiments[0].meta_features
    configs = space.without("dataset").sample(0, 5)
    before = knowledge.learner().predict(meta, configs)
    summary_bytes = (folder / "shap_summary.json").read_bytes()

    second = explain(store, settings, space=space)
    assert (folder / "shap_summary.json").read_bytes() == summary_bytes
    assert json.loads((folder / "manifest.json").read_text()) == manifest  # every file byte-identical
    assert load_knowledge(EXPLAIN_PROJECT, settings.cache_dir).learner().predict(meta, configs) == before
    assert second.shap_top3_written == 0  # payloads already hold the same top-3
    assert second.digest == first.digest


def test_explain_without_a_space_infers_it_and_can_skip_wandb(synced) -> None:
    store, settings, out = synced
    report = explain(store, settings, log_to_wandb=False)
    assert report.wandb_run is None and report.wandb_mode is None
    assert not out.exists() or not find_run_dirs(out)
    space = load_knowledge(EXPLAIN_PROJECT, settings.cache_dir).space
    assert {"base_model", "learning_rate", "fine_tuning", "dropout", "batch_size", "epochs"} <= set(space.params)
    assert space.params["base_model"].values == ["densenet121", "efficientnet_b0", "mobilenet_v2", "resnet50"]


def test_too_few_runs_is_a_clear_error_and_no_cache(
    offline_project: OfflineProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    offline_env(tmp_path / "w", monkeypatch)
    settings = load_settings(project=PROJECT, cache_dir=tmp_path / "cache")
    with ExperimentStore(open_client(path=tmp_path / "q"), collection_name(PROJECT)) as store:
        sync(OfflineRunSource(offline_project.wandb_dir, project=PROJECT), store, MetricNames())
        with pytest.raises(MetaLearnerError, match=r"only 6 runs .* at least 10"):
            explain(store, settings)
    with pytest.raises(KnowledgeError, match="metallmix-wandb explain --project kb-test"):
        load_knowledge(PROJECT, settings.cache_dir)
