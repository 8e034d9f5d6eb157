"""`import`: CSV / JSONL / Parquet tables -> offline W&B runs with the trainer's run contract (read back
by `sync`), bad rows listed with their line numbers; `--direct` writes the knowledge base itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.knowledge.runs_offline import find_run_dirs, parse_run_dir
from metallmix_wandb.cli import main
from tests.support.wandb_runs import wait_for_exit_record

SPACE = "parameters:\n  lr: {values: [0.001, 0.01]}\n  bs: {values: [16, 32]}\n"
ROWS = [
    {"dataset": "/data/a.npz", "dataset_name": "a", "meta/n_instances": 500, "meta/modality": "US", "lr": 0.01,
     "bs": 32, "test/acc": 0.81, "train_time_s": 12.5},
    {"dataset": "/data/a.npz", "dataset_name": "a", "meta/n_instances": 500, "meta/modality": "US", "lr": 0.5,
     "bs": 32, "test/acc": 0.7, "train_time_s": 9.0},  # lr outside the space: bad
    {"dataset": "/data/b.npz", "dataset_name": "b", "meta/n_instances": 9000, "meta/modality": "CT", "lr": 0.001,
     "bs": 16, "test/acc": 0.93, "train_time_s": 40.0},
]


def _write(fmt: str, folder: Path) -> Path:
    from metallmix_wandb.knowledge.table_io import write_table

    path = folder / f"results.{fmt}"
    if fmt == "jsonl":  # one line that is not JSON at all, too
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n{not json\n")
        return path
    return write_table(path, ROWS)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_import_writes_runs_sync_can_read_and_names_bad_rows(fmt: str, tmp_path: Path, wandb_offline_env: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(tmp_path / "q"))
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    table = _write(fmt, tmp_path)
    result = CliRunner().invoke(main, ["import", str(table), "--project", "imp", "--offline", "--space", str(space)])
    assert result.exit_code == 1, result.output  # bad rows make it exit 1, after importing the good ones
    bad_line = {"csv": 3, "jsonl": 2, "parquet": 2}[fmt]
    assert f"line {bad_line}: config lr" in result.output
    if fmt == "jsonl":
        assert "line 4: not valid JSON" in result.output
    assert "imported 2 of" in result.output
    for d in find_run_dirs(wandb_offline_env):
        wait_for_exit_record(d)
    runs = sorted((parse_run_dir(d) for d in find_run_dirs(wandb_offline_env)), key=lambda r: r.config["dataset"])
    assert [r.config["dataset"] for r in runs] == ["/data/a.npz", "/data/b.npz"]
    a = runs[0]
    assert a.config["meta/n_instances"] == 500 and a.config["meta/modality"] == "US" and a.config["lr"] == 0.01
    assert a.config["dataset_name"] == "a" and a.summary["test/acc"] == 0.81 and a.summary["train_time_s"] == 12.5
    assert a.job_type == "imported" and a.exit_code == 0
    synced = CliRunner().invoke(main, ["sync", "--project", "imp", "--offline-dir", str(wandb_offline_env),
                                       "--no-explain"])
    assert synced.exit_code == 0, synced.output
    text = " ".join(synced.output.split())
    assert "synced 2" in text and "2 experiments over 2 datasets" in text


def test_direct_import_is_idempotent(tmp_path: Path, wandb_offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(tmp_path / "q"))
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    table = _write("csv", tmp_path)
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    args = ["import", str(table), "--project", "imp", "--direct", "--no-explain", "--space", str(space)]
    for _ in range(2):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and "2 experiments in all" in " ".join(result.output.split()), result.output
    assert not wandb_offline_env.exists() or not list(wandb_offline_env.glob("offline-run-*"))  # no W&B runs
    dry = CliRunner().invoke(main, [*args, "--dry-run", "--metric", "missing/metric"])
    assert dry.exit_code == 2 and "no column for the target metric" in " ".join(dry.output.split())
