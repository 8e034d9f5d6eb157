"""A synced + explained knowledge base for recommend tests: import `kb` (and `offline_explain_project`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.knowledge.records import RawRun
from metallmix_wandb.knowledge.runs_offline import find_run_dirs, parse_run_dir
from metallmix_wandb.space.search_space import SearchSpace
from tests.support.synthetic import EXPLAIN_PROJECT, OfflineExplainProject, offline_explain_project  # noqa: F401
from tests.support.wandb_runs import offline_env, wait_for_exit_record

MF = {"n_instances": 3000, "n_classes": 4, "modality": "CT", "imbalance_ratio": 2.0}


@pytest.fixture
def kb(offline_explain_project: OfflineExplainProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    """A synced + explained project; recommendation runs land in their own offline folder."""
    runs = offline_env(tmp_path / "rec_runs", monkeypatch)
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(tmp_path / "qdrant"))
    monkeypatch.delenv("METALLMIX_LLM_BASE_URL", raising=False)
    synced = CliRunner().invoke(main, ["sync", "--project", EXPLAIN_PROJECT, "--offline-dir",
                                       str(offline_explain_project.wandb_dir), "--space",
                                       str(offline_explain_project.space_path), "--no-explain"])
    assert synced.exit_code == 0, synced.output
    explained = CliRunner().invoke(main, ["explain", "--project", EXPLAIN_PROJECT, "--space",
                                          str(offline_explain_project.space_path), "--no-wandb"])
    assert explained.exit_code == 0, explained.output
    mf = tmp_path / "mf.json"
    mf.write_text(json.dumps(MF))
    return {"runs": runs, "mf": mf, "space": SearchSpace.from_yaml(offline_explain_project.space_path)}




def logged_runs(kb: dict) -> list[RawRun]:
    """The recommendation runs `kb`'s commands logged, read once wandb-core has written their exit
    record (it lands shortly after `finish()` returns)."""
    if not kb["runs"].exists():
        return []
    dirs = find_run_dirs(kb["runs"])
    for d in dirs:
        wait_for_exit_record(d)
    return [parse_run_dir(d) for d in dirs]
