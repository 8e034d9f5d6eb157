"""`metallmix-wandb explain`, and `sync` running it, as a user runs them (real runs, Qdrant, xgboost)."""

from __future__ import annotations

import json

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.knowledge.meta_learner.artifact import cache_folder
from metallmix_wandb.cli import main
from tests.support.fixtures import PROJECT, OfflineProject, offline_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT, OfflineExplainProject, offline_explain_project  # noqa: F401
from tests.support.wandb_runs import offline_env


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _points(qdrant_path: str) -> dict[str, tuple[dict, list[float]]]:
    """Every point of the project's collection: id -> (payload, vector), read with the real client."""
    from metallmix_wandb.knowledge.store import collection_name, open_client

    client = open_client(path=Path(qdrant_path))
    try:
        points, _ = client.scroll(collection_name(EXPLAIN_PROJECT), limit=1000, with_payload=True, with_vectors=True)
    finally:
        client.close()
    return {str(p.id): (dict(p.payload or {}), list(p.vector)) for p in points}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline W&B and the knowledge cache under tmp_path (never the user's cache dir)."""
    offline_env(tmp_path / "wandb_root", monkeypatch)
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_sync_runs_explain_and_explain_reruns_it(
    offline_explain_project: OfflineExplainProject, env: Path, tmp_path: Path  # noqa: F811
) -> None:
    q = str(tmp_path / "kb")
    code, out = _invoke("sync", "--project", EXPLAIN_PROJECT, "--offline-dir", str(offline_explain_project.wandb_dir),
                        "--qdrant-path", q)
    assert code == 0, out
    assert "synced 24" in out and "leave-one-dataset-out over 4 datasets" in out
    assert f"knowledge cached in {cache_folder(EXPLAIN_PROJECT, env)}" in out
    assert f"artifact metallmix-knowledge-{EXPLAIN_PROJECT}:latest logged from offline run" in out
    assert (cache_folder(EXPLAIN_PROJECT, env) / "digest.md").is_file()

    # A re-sync, with explain or without, leaves every point as it was but for the sync time (SHAP too).
    first = _points(q)
    assert len(first) == 24 and all(len(p["shap_top3"]) == 3 for p, _ in first.values())
    for extra in ([], ["--no-explain"]):
        code, out = _invoke("sync", "--project", EXPLAIN_PROJECT, "--offline-dir",
                            str(offline_explain_project.wandb_dir), "--qdrant-path", q, *extra)
        assert code == 0 and "synced 24" in out, out
        again = _points(q)
        assert again.keys() == first.keys()
        for pid, (payload, vector) in again.items():
            assert payload.pop("synced_at") >= first[pid][0]["synced_at"]
            assert payload == {k: v for k, v in first[pid][0].items() if k != "synced_at"} and vector == first[pid][1]

    code, out = _invoke("explain", "--project", EXPLAIN_PROJECT, "--qdrant-path", q,
                        "--space", str(offline_explain_project.space_path), "--no-wandb")
    assert code == 0, out
    assert "What past runs say" in out and "learning_rate" in out and "Hyperparameters" in out
    assert "leave-one-dataset-out over 4 datasets" in out  # the stored model's LODO quality
    assert ("meta-learner variant 'transfer-blend' (objective percentile, portfolio on, per-dataset Gaussian processes' "
            "order weight" in " ".join(out.split()))
    stored = json.loads((cache_folder(EXPLAIN_PROJECT, env) / "meta_learner.json").read_text())
    assert stored["settings"]["variant"] == "transfer-blend" and 0 < stored["settings"]["untried"] < 1 and len(stored["dataset_meta"]) == 4
    assert "logged from" not in out


def test_sync_no_explain_skips_it(offline_explain_project: OfflineExplainProject, env: Path, tmp_path: Path) -> None:  # noqa: F811
    code, out = _invoke("sync", "--project", EXPLAIN_PROJECT, "--offline-dir", str(offline_explain_project.wandb_dir),
                        "--qdrant-path", str(tmp_path / "kb"), "--no-explain")
    assert code == 0 and "synced 24" in out and "leave-one-dataset-out" not in out
    assert not cache_folder(EXPLAIN_PROJECT, env).exists()


def test_too_few_runs_warns_in_sync_and_fails_explain(offline_project: OfflineProject, env: Path, tmp_path: Path) -> None:  # noqa: F811
    q = str(tmp_path / "kb")
    code, out = _invoke("sync", "--project", PROJECT, "--offline-dir", str(offline_project.wandb_dir), "--qdrant-path", q)
    assert code == 0, out  # the sync itself worked
    assert "meta-learner knowledge not updated: only 6 runs" in out
    code, out = _invoke("explain", "--project", PROJECT, "--qdrant-path", q)
    assert code == 2 and "error: only 6 runs with a finite 'test/acc'" in out and "at least 10" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "--project", "p", "--space", "/nonexistent.yaml"], "cannot read"),
        (["explain", "--project", "empty-project"], "no experiments for 'empty-project'"),
    ],
)
def test_explain_bad_input_exits_2(args: list[str], message: str, env: Path, tmp_path: Path) -> None:
    code, out = _invoke(*args, "--qdrant-path", str(tmp_path / "kb"))
    assert code == 2 and message in out, out


def test_help_lists_explain_without_importing_heavy_libraries() -> None:
    code = ("import sys; from click.testing import CliRunner; from metallmix_wandb.cli import main; "
            "r = CliRunner().invoke(main, ['explain', '--help']); assert r.exit_code == 0, r.output; "
            "assert '--space' in r.output; "
            "heavy = [m for m in ('xgboost', 'shap', 'wandb', 'qdrant_client', 'matplotlib') if m in sys.modules]; "
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
