"""Damaged stores and caches, and concurrent users, as the CLI meets them (issue 16, items 4 and 5): one
`error:` line naming the file and the fix, exit 2, never a traceback; an empty store says so; the fix
the line gives works; concurrent `recommend` processes all answer. Real offline runs, real embedded
Qdrant, the real meta-learner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from metallmix_wandb.cli import main
from metallmix_wandb.knowledge.store import collection_name
from tests.support.synthetic import EXPLAIN_PROJECT, OfflineExplainProject, offline_explain_project  # noqa: F401
from tests.support.wandb_runs import offline_env

ROOT = Path(__file__).resolve().parents[2]
MF = {"n_instances": 3000, "n_classes": 4, "modality": "CT", "imbalance_ratio": 2.0}


@pytest.fixture(scope="module")
def built(offline_explain_project: OfflineExplainProject, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """One synced + explained knowledge base (`q/`, `cache/`), copied by each test before it damages it."""
    root = tmp_path_factory.mktemp("robust_kb")
    with pytest.MonkeyPatch.context() as mp:
        offline_env(root / "wandb_root", mp)
        mp.setenv("METALLMIX_CACHE_DIR", str(root / "cache"))
        mp.setenv("METALLMIX_QDRANT_PATH", str(root / "q"))
        for args in (["sync", "--offline-dir", str(offline_explain_project.wandb_dir), "--no-explain"],
                     ["explain", "--space", str(offline_explain_project.space_path), "--no-wandb"]):
            result = CliRunner().invoke(main, [*args, "--project", EXPLAIN_PROJECT])
            assert result.exit_code == 0, result.output
    (root / "mf.json").write_text(json.dumps(MF))
    return root


@pytest.fixture
def kb(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the knowledge base, the environment pointing at it."""
    for sub in ("q", "cache"):
        shutil.copytree(built / sub, tmp_path / sub)
    offline_env(tmp_path / "wandb_root", monkeypatch)
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(tmp_path / "q"))
    monkeypatch.delenv("METALLMIX_LLM_BASE_URL", raising=False)
    return tmp_path


def _run(command: str, kb: Path, project: OfflineExplainProject) -> Result:  # noqa: F811
    args = {"similar": ["similar", "--meta-features", str(kb / "mf.json")],
            "recommend": ["recommend", "--meta-features", str(kb / "mf.json"), "--no-llm", "--evidence", "--no-log"],
            "sync": ["sync", "--offline-dir", str(project.wandb_dir), "--no-explain"]}[command]
    (kb / "mf.json").write_text(json.dumps(MF))
    return CliRunner().invoke(main, [*args, "--project", EXPLAIN_PROJECT])


def _clear_failure(result: Result, *named: str) -> str:
    """Exit 2 with one `error:` line naming what it must; no exception escaped, no traceback printed."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    line = " ".join(result.output.split())
    assert line.startswith("error: ") and all(n in line for n in named), line
    return line


def _storage(q: Path) -> Path:
    return q / "collection" / collection_name(EXPLAIN_PROJECT) / "storage.sqlite"


def _resize(q: Path) -> None:
    meta = json.loads((q / "meta.json").read_text())
    meta["collections"][collection_name(EXPLAIN_PROJECT)]["vectors"]["size"] += 2
    (q / "meta.json").write_text(json.dumps(meta))


DAMAGE: dict[str, tuple[Callable[[Path], object], str, tuple[str, ...]]] = {
    # name: (what is done to the folder, the file the error names, the words it says)
    "meta-garbage": (lambda q: (q / "meta.json").write_text("garbage{{"), "meta.json", ("damaged", "move")),
    "meta-empty": (lambda q: (q / "meta.json").write_text(""), "meta.json", ("damaged (empty)", "move")),
    "sqlite-garbage": (lambda q: _storage(q).write_bytes(b"\x13" * 8192), "storage.sqlite",
                       ("damaged (file is not a database)", "delete it")),
    "sqlite-truncated": (lambda q: os.truncate(_storage(q), _storage(q).stat().st_size // 2), "storage.sqlite",
                         ("damaged", "delete it")),
    "vector-size": (_resize, "meta.json", ("vector size changed", "sync --full")),
    "sqlite-empty": (lambda q: _storage(q).write_bytes(b""), "storage.sqlite", ("empty", "sync")),
    "collection-deleted": (lambda q: shutil.rmtree(_storage(q).parent), "storage.sqlite", ("empty", "sync")),
}
SYNC_REPAIRS = {"vector-size", "sqlite-empty", "collection-deleted"}
"""Damage `sync` itself repairs (it re-reads every run into an empty or re-created collection)."""


@pytest.mark.parametrize("command", ["similar", "recommend", "sync"])
@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_store_is_one_clear_line(kb: Path, offline_explain_project: OfflineExplainProject,  # noqa: F811
                                           case: str, command: str) -> None:
    damage, named, says = DAMAGE[case]
    damage(kb / "q")
    result = _run(command, kb, offline_explain_project)
    if command == "sync" and case in SYNC_REPAIRS:
        assert result.exit_code == 0, result.output
        assert f"{offline_explain_project.runs} experiments" in " ".join(result.output.split())
        assert _run("similar", kb, offline_explain_project).exit_code == 0
        return
    line = _clear_failure(result, named, *says)
    assert "--qdrant-path" in line


@pytest.mark.parametrize("case", ["meta-garbage", "sqlite-garbage", "vector-size"])
def test_the_fix_the_line_gives_works(kb: Path, offline_explain_project: OfflineExplainProject,  # noqa: F811
                                      case: str) -> None:
    """Move the folder away / delete the file / sync --full, as told: then sync and recommend work."""
    DAMAGE[case][0](kb / "q")
    line = _clear_failure(_run("recommend", kb, offline_explain_project))
    if "move" in line:
        (kb / "q").rename(kb / "q-damaged")
    elif "delete it" in line:
        _storage(kb / "q").unlink()
    args = ["--full"] if "--full" in line else []
    synced = CliRunner().invoke(main, ["sync", "--offline-dir", str(offline_explain_project.wandb_dir),
                                       "--no-explain", "--project", EXPLAIN_PROJECT, *args])
    assert synced.exit_code == 0, synced.output
    assert _run("recommend", kb, offline_explain_project).exit_code == 0


@pytest.mark.parametrize("file", ["model_rank.ubj", "model_quantile.ubj", "meta_learner.json"])
@pytest.mark.parametrize("how", ["garbage", "missing"])
def test_a_damaged_knowledge_cache_names_the_file(kb: Path, offline_explain_project: OfflineExplainProject,  # noqa: F811
                                                  file: str, how: str) -> None:
    path = kb / "cache" / "knowledge" / EXPLAIN_PROJECT / file
    if how == "missing":
        path.unlink()
    else:
        path.write_text('{"learner": ')
    line = _clear_failure(_run("recommend", kb, offline_explain_project), str(path), how.replace("garbage", "damaged"),
                          f"explain --project {EXPLAIN_PROJECT}")
    assert line.count("error:") == 1


@pytest.mark.slow
def test_concurrent_recommends_all_answer(built: Path) -> None:
    """Six `recommend --no-llm` processes started at once on one folder: each waits its turn for the
    milliseconds it reads, none fails (before: the first held the folder, the others exited 2)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "WANDB_DIR": str(built / "wandb_root"), "METALLMIX_CACHE_DIR": str(built / "cache"),
           "METALLMIX_QDRANT_PATH": str(built / "q")}
    env.pop("METALLMIX_LLM_BASE_URL", None)
    cmd = [sys.executable, "-m", "metallmix_wandb.cli", "recommend", "--project", EXPLAIN_PROJECT,
           "--meta-features", str(built / "mf.json"), "--no-llm", "--evidence", "--no-log", "--json"]
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    results = [(p.communicate(timeout=600), p.returncode) for p in procs]
    assert [code for _, code in results] == [0] * 6, [err[-500:] for (_, err), _ in results]
    configs = {json.dumps(json.loads(out)["recommendation"]["config"], sort_keys=True) for (out, _), _ in results}
    assert len(configs) == 1  # the same answer for everyone
