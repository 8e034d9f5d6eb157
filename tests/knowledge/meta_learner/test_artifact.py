"""The knowledge artifact at the wire: a real bundle (sync + explain over real offline runs) served by
the loopback W&B backend as `<entity>/<project>/metallmix-knowledge-<project>:latest`; the real
`wandb.Api` + wandb-core + the SDK's file download fill an empty cache, and `recommend` gives the same
config as with the original cache. Missing artifact, network failure and a corrupt download are one
clear line and leave no cache (no temp folder) behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.knowledge.meta_learner.artifact import (
    KNOWLEDGE_TYPE,
    MANIFEST,
    KnowledgeError,
    artifact_name,
    cache_folder,
    load_knowledge,
    publish_cache,
)
from tests.support.recommend_kb import MF
from tests.support.synthetic import EXPLAIN_PROJECT, OfflineExplainProject, offline_explain_project  # noqa: F401
from tests.support.wandb_backend import Backend, BackendArtifact, wandb_backend_fixture
from tests.support.wandb_runs import offline_env

wandb_backend = pytest.fixture(wandb_backend_fixture)


@dataclass
class Bundle:
    root: Path
    cache_dir: Path  # the cache explain wrote (the "original cache")
    qdrant: Path
    files: dict[str, bytes]  # every file of the knowledge folder, manifest.json included
    mf: Path


@pytest.fixture(scope="module")
def bundle(offline_explain_project: OfflineExplainProject,  # noqa: F811
           tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A real knowledge bundle: the 24 offline runs synced into Qdrant and explained (no W&B run)."""
    root = tmp_path_factory.mktemp("knowledge_artifact")
    with pytest.MonkeyPatch.context() as mp:
        offline_env(root / "runs", mp)
        mp.setenv("METALLMIX_CACHE_DIR", str(root / "cache"))
        mp.setenv("METALLMIX_QDRANT_PATH", str(root / "qdrant"))
        mp.delenv("METALLMIX_LLM_BASE_URL", raising=False)
        space = str(offline_explain_project.space_path)
        for args in (["sync", "--project", EXPLAIN_PROJECT, "--offline-dir",
                      str(offline_explain_project.wandb_dir), "--space", space, "--no-explain"],
                     ["explain", "--project", EXPLAIN_PROJECT, "--space", space, "--no-wandb"]):
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 0, result.output
    folder = cache_folder(EXPLAIN_PROJECT, root / "cache")
    mf = root / "mf.json"
    mf.write_text(json.dumps(MF))
    return Bundle(root=root, cache_dir=root / "cache", qdrant=root / "qdrant", mf=mf,
                  files={p.name: p.read_bytes() for p in sorted(folder.iterdir())})


def _publish(backend: Backend, bundle: Bundle, files: dict[str, bytes] | None = None) -> BackendArtifact:
    manifest = json.loads(bundle.files[MANIFEST])
    return backend.world.add_artifact(backend.world.default_entity, EXPLAIN_PROJECT,
                                      artifact_name(EXPLAIN_PROJECT), KNOWLEDGE_TYPE,
                                      files=files or bundle.files, metadata=manifest)


def _load(cache_dir: Path) -> None:
    load_knowledge(EXPLAIN_PROJECT, cache_dir, "team", online=True)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _nothing_cached(cache_dir: Path) -> bool:
    """No knowledge folder and no temporary sibling (an empty `knowledge/` parent is fine)."""
    parent = cache_folder(EXPLAIN_PROJECT, cache_dir).parent
    return not parent.exists() or not any(parent.iterdir())


def _error(cache_dir: Path) -> str:
    with pytest.raises(KnowledgeError) as exc:
        _load(cache_dir)
    message = str(exc.value)
    assert "\n" not in message and len(message) < 800, message
    assert _nothing_cached(cache_dir)
    return message


def test_an_empty_cache_is_filled_from_the_artifact_byte_for_byte(bundle: Bundle, wandb_backend: Backend,
                                                                   tmp_path: Path) -> None:
    _publish(wandb_backend, bundle)
    knowledge = load_knowledge(EXPLAIN_PROJECT, tmp_path / "cache", "team", online=True)
    folder = cache_folder(EXPLAIN_PROJECT, tmp_path / "cache")
    assert knowledge.folder == folder and _files(folder) == bundle.files
    manifest = json.loads((folder / MANIFEST).read_bytes())
    assert manifest["files"] and all(hashlib.sha256((folder / n).read_bytes()).hexdigest() == d
                                     for n, d in manifest["files"].items())
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary sibling left
    # One artifact lookup, its W&B manifest and one URL page, then one GET per file: nothing per file
    # over GraphQL.
    assert wandb_backend.graphql_counts() == {
        "Viewer": 1, "ServerFeaturesQuery": 1, "ArtifactMembershipByName": 1, "FetchArtifactManifest": 1,
        "GetArtifactMembershipFileUrls": 1}
    assert wandb_backend.count("file") == len(bundle.files) + 1
    wandb_backend.reset_counts()
    again = load_knowledge(EXPLAIN_PROJECT, tmp_path / "cache", "team", online=True)
    assert again.manifest == knowledge.manifest
    assert wandb_backend.count() == 0  # a filled cache is read locally
    assert wandb_backend.unknown == []


def _recommend(cache_dir: Path, bundle: Bundle) -> tuple[int, str, str]:
    env = {"METALLMIX_CACHE_DIR": str(cache_dir), "METALLMIX_QDRANT_PATH": str(cache_dir.parent / "qdrant")}
    result = CliRunner().invoke(main, ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features",
                                       str(bundle.mf), "--json", "--no-llm", "--no-log"], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_recommend_on_a_machine_without_the_cache_gives_the_same_config(
        bundle: Bundle, wandb_backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METALLMIX_LLM_BASE_URL", raising=False)
    shutil.copytree(bundle.qdrant, tmp_path / "here" / "qdrant")
    shutil.copytree(bundle.cache_dir, tmp_path / "here" / "cache")
    code, out, err = _recommend(tmp_path / "here" / "cache", bundle)  # online, with the original cache
    assert code == 0, err
    assert wandb_backend.count("ArtifactMembershipByName") == 0  # nothing published, nothing asked for
    original = json.loads(out)["recommendation"]

    _publish(wandb_backend, bundle)
    shutil.copytree(bundle.qdrant, tmp_path / "there" / "qdrant")
    code, out, err = _recommend(tmp_path / "there" / "cache", bundle)  # the same, on a fresh machine
    assert code == 0, err
    fresh = json.loads(out)["recommendation"]
    assert wandb_backend.count("ArtifactMembershipByName") == 1
    assert fresh["config"] == original["config"] and fresh["predicted"] == original["predicted"]
    assert _files(cache_folder(EXPLAIN_PROJECT, tmp_path / "there" / "cache")) == bundle.files
    assert wandb_backend.unknown == []


@pytest.mark.parametrize("where", ["no project", "no artifact", "another type"])
def test_a_missing_artifact_is_one_line_and_caches_nothing(where: str, bundle: Bundle, wandb_backend: Backend,
                                                           tmp_path: Path) -> None:
    world = wandb_backend.world
    if where == "no artifact":
        world.add_artifact("team", EXPLAIN_PROJECT, "something-else", KNOWLEDGE_TYPE, files={"a": b"1"})
    elif where == "another type":
        world.add_artifact("team", EXPLAIN_PROJECT, artifact_name(EXPLAIN_PROJECT), "dataset",
                           files=bundle.files)
    message = _error(tmp_path / "cache")
    path = f"team/{EXPLAIN_PROJECT}/{artifact_name(EXPLAIN_PROJECT)}:latest"
    assert message.startswith(f"no local knowledge for '{EXPLAIN_PROJECT}' and the W&B artifact {path} is "
                              "not available")
    assert f"metallmix-wandb explain --project {EXPLAIN_PROJECT}" in message
    assert wandb_backend.count("file") == 0 and wandb_backend.unknown == []


def test_a_network_failure_is_one_line_on_the_cli_and_caches_nothing(
        bundle: Bundle, wandb_backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METALLMIX_LLM_BASE_URL", raising=False)
    _publish(wandb_backend, bundle)
    wandb_backend.fail(500, times=None)  # wandb-core retries 20 times (Retry-After: 0), then gives up
    code, out, err = _recommend(tmp_path / "cache", bundle)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("error: no local knowledge for") and "giving up after 21 attempt" in err
    assert _nothing_cached(tmp_path / "cache")

    wandb_backend.clear_faults()
    wandb_backend.fail(404, times=None, operation="file")  # the storage refuses the W&B manifest
    assert "downloading the W&B artifact" in _error(tmp_path / "cache")


def test_dropped_connections_are_retried_and_the_download_is_whole(bundle: Bundle, wandb_backend: Backend,
                                                                    tmp_path: Path) -> None:
    _publish(wandb_backend, bundle)
    wandb_backend.fail(kind="reset", times=1, operation="ArtifactMembershipByName")
    wandb_backend.fail(kind="reset", times=2, operation="file")
    _load(tmp_path / "cache")
    assert _files(cache_folder(EXPLAIN_PROJECT, tmp_path / "cache")) == bundle.files
    assert [r.status for r in wandb_backend.requests if r.operation == "file"].count(-1) == 2


def test_a_corrupt_download_is_one_line_caches_nothing_and_a_retry_gets_the_good_bytes(
        bundle: Bundle, wandb_backend: Backend, tmp_path: Path) -> None:
    booster = next(n for n in bundle.files if n.startswith("model_"))
    good = bundle.files[booster]
    art = _publish(wandb_backend, bundle)
    art.served_files = {booster: good[:-2] + b"X" + good[-1:]}  # same size, one byte changed in transit
    message = _error(tmp_path / "cache")
    assert message.startswith(f"the W&B artifact team/{EXPLAIN_PROJECT}/") and "is corrupt" in message
    assert f"{booster} missing or not matching the SHA-256 in manifest.json" in message

    art.served_files = {}  # the next try downloads again (nothing bad was kept in W&B's cache)
    _load(tmp_path / "cache")
    assert _files(cache_folder(EXPLAIN_PROJECT, tmp_path / "cache")) == bundle.files


@pytest.mark.parametrize("damage", ["changed", "missing", "no manifest"])
def test_an_artifact_unlike_its_manifest_is_refused(damage: str, bundle: Bundle, wandb_backend: Backend,
                                                    tmp_path: Path) -> None:
    files = dict(bundle.files)
    if damage == "changed":
        files["digest.md"] = b"# edited by hand\n"
    elif damage == "missing":
        del files["scaler.json"]
    else:
        del files[MANIFEST]
    _publish(wandb_backend, bundle, files)
    message = _error(tmp_path / "cache")
    assert "is corrupt" in message and {"changed": "digest.md", "missing": "scaler.json",
                                        "no manifest": "no readable manifest.json"}[damage] in message


def test_publish_cache_keeps_the_old_cache_when_filling_or_swapping_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fill(text: str, boom: bool = False):
        def write(folder: Path) -> None:
            (folder / "a.txt").write_text(text)
            if boom:
                raise OSError("disk full")
        return write

    target = publish_cache("p", tmp_path, fill("old"))
    with pytest.raises(OSError, match="disk full"):
        publish_cache("p", tmp_path, fill("new", boom=True))
    assert [p.name for p in target.parent.iterdir()] == ["p"] and (target / "a.txt").read_text() == "old"

    real_replace, calls = os.replace, []

    def replace(src: Path, dst: Path) -> None:
        calls.append(Path(src).name)
        if len(calls) == 2:  # the old cache moved aside, then the new one fails to move in
            raise OSError("rename failed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="rename failed"):
        publish_cache("p", tmp_path, fill("new"))
    monkeypatch.setattr(os, "replace", real_replace)
    assert [p.name for p in target.parent.iterdir()] == ["p"] and (target / "a.txt").read_text() == "old"
    assert publish_cache("p", tmp_path, fill("new")) == target and (target / "a.txt").read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["p"]
