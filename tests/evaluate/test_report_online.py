"""`report` online at the wire: the real wandb SDK and wandb-workspaces save the report to the loopback
W&B backend (tests/support/wandb_backend), and the tests read back the upsertView the backend received:
the entity (the API's default one when --entity is not given), the run set (the evaluation run, by id),
the title (cut to the API's limit), and a save failure (one line, exit 1, the offline report written)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from metallmix_wandb.cli import main
from metallmix_wandb.evaluate.records import EvaluationReport, MethodResult, summarise_methods
from metallmix_wandb.evaluate.report_spec import RunRef, run_ref
from metallmix_wandb.evaluate.report_writer import TITLE_MAX, fit_title
from tests.support.wandb_backend import Backend, World, running_backend

ENTITY = "my-team"  # the API key's default entity (Viewer / GetDefaultEntity)
PROJECT = "nb201"


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """The backend with no WANDB_ENTITY set: `report` must ask the API for the default entity."""
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("METALLMIX_ENTITY", raising=False)
    with running_backend(World(default_entity=ENTITY), root=tmp_path / "wandb_backend") as b:
        os.environ.pop("WANDB_ENTITY", None)  # running_backend restores it
        yield b
        assert b.unknown == []


def _evaluation(project: str, run: str | None, methods: tuple[str, ...] = ("random", "meta-learner")) -> str:
    results = [MethodResult(dataset=d, dataset_name=d, method=m, family="search", metric=0.9 - i / 10,
                            best_metric=0.95, regret=0.05 + i / 10, norm_regret=0.1, percentile=0.8 - i / 10,
                            compute_s=1.0)
               for d in ("CIFAR-10", "CIFAR-100") for i, m in enumerate(methods)]
    return EvaluationReport(project=project, metric="test/acc", budget=3, seeds=[0], methods=list(methods),
                            datasets=["CIFAR-10", "CIFAR-100"], space={}, results=results,
                            summary=summarise_methods(results), wandb_run=run).model_dump_json()


def _report(tmp_path: Path, *results: str, project: str = PROJECT, extra: tuple[str, ...] = ()) -> Result:
    paths = []
    for i, text in enumerate(results):
        paths += ["--results", str(tmp_path / f"eval-{i}.json")]
        (tmp_path / f"eval-{i}.json").write_text(text)
    args = ["report", "--project", project, "--out", str(tmp_path / "offline"), *paths, *extra]
    return CliRunner().invoke(main, args)


def _runsets(saved: dict[str, Any]) -> list[dict[str, Any]]:
    grids = [b for b in json.loads(saved["spec"])["blocks"] if b["type"] == "panel-grid"]
    return [rs for grid in grids for rs in grid["metadata"]["runSets"]]


def _id_filter(runset: dict[str, Any]) -> tuple[str, Any]:
    (only,) = runset["filters"]["filters"]
    assert only["key"] == {"section": "run", "name": "name"}  # wandb_workspaces' Metric("ID")
    return only["op"], only["value"]


def test_saved_report_carries_the_default_entity_and_selects_the_evaluation_run(backend: Backend,
                                                                                tmp_path: Path) -> None:
    backend.world.add_run(ENTITY, PROJECT, "ev41abc", job_type="evaluation")
    backend.world.add_run(ENTITY, PROJECT, "older99", job_type="evaluation")  # another evaluation run
    result = _report(tmp_path, _evaluation(PROJECT, f"{ENTITY}/{PROJECT}/ev41abc"))
    assert result.exit_code == 0, result.output
    (saved,) = backend.world.reports
    assert (saved["entityName"], saved["projectName"]) == (ENTITY, PROJECT)
    assert saved["displayName"] == f"metallmix-wandb evaluation: {PROJECT}"
    runsets = _runsets(saved)
    assert len(runsets) == 3  # quality, cost (no LLM methods here) and the summary table
    for rs in runsets:
        assert rs["project"]["entityName"] == ENTITY and rs["project"]["name"] == PROJECT
        assert rs["search"]["query"] == "" and _id_filter(rs) == ("=", "ev41abc")
    assert f"/{ENTITY}/{PROJECT}/reports/" in result.output
    assert not (tmp_path / "offline").exists()


def test_merged_evaluations_select_each_evaluation_run(backend: Backend, tmp_path: Path) -> None:
    for run in ("base1", "llm2"):
        backend.world.add_run(ENTITY, PROJECT, run, job_type="evaluation")
    result = _report(tmp_path, _evaluation(PROJECT, f"{ENTITY}/{PROJECT}/base1"),
                     _evaluation(PROJECT, f"{ENTITY}/{PROJECT}/llm2", methods=("llm:m",)),
                     extra=("--entity", "other"))
    assert result.exit_code == 0, result.output
    (saved,) = backend.world.reports
    assert saved["entityName"] == "other"  # --entity wins; the run set stays where the runs are
    selected = [(rs["project"]["entityName"], *_id_filter(rs)) for rs in _runsets(saved)]
    assert selected and all(s == (ENTITY, "IN", ["base1", "llm2"]) for s in selected)


def test_a_long_title_is_cut_to_what_the_api_accepts(backend: Backend, tmp_path: Path) -> None:
    project = "p" * 120  # the title "metallmix-wandb evaluation: <project>" is 148 characters
    backend.world.add_run(ENTITY, project, "ev1", job_type="evaluation")
    result = _report(tmp_path, _evaluation(project, f"{ENTITY}/{project}/ev1"), project=project)
    assert result.exit_code == 0, result.output
    (saved,) = backend.world.reports
    assert len(saved["displayName"]) == TITLE_MAX and saved["displayName"].endswith("\u2026")
    assert saved["displayName"].startswith("metallmix-wandb evaluation: ppp")


def test_a_save_failure_is_one_line_and_the_offline_report(backend: Backend, tmp_path: Path) -> None:
    backend.world.add_run(ENTITY, PROJECT, "ev1", job_type="evaluation")
    backend.fail(500, times=None, operation="upsertView")
    result = _report(tmp_path, _evaluation(PROJECT, f"{ENTITY}/{PROJECT}/ev1"))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: W&B Report not saved: ") and "HTTP 500" in lines[0]
    assert lines[0].endswith(str(tmp_path / "offline" / "index.html"))
    assert "Traceback" not in result.output and backend.world.reports == []
    pngs = sorted(p.name for p in (tmp_path / "offline").glob("*.png"))
    page = (tmp_path / "offline" / "index.html").read_text()
    assert pngs and all(f'src="{p}"' in page for p in pngs)
    assert json.loads((tmp_path / "offline" / "report_spec.json").read_text())["project"] == PROJECT


def test_no_evaluation_run_means_no_online_report(backend: Backend, tmp_path: Path) -> None:
    """Results evaluated with --no-log: the panels would read nothing, so nothing is sent."""
    result = _report(tmp_path, _evaluation(PROJECT, None))
    assert result.exit_code == 1
    assert "no W&B evaluation run" in result.output and len(result.output.strip().splitlines()) == 1
    assert (tmp_path / "offline" / "index.html").is_file()
    assert backend.count("upsertView") == 0


def test_run_refs_from_online_paths_and_offline_folders() -> None:
    assert run_ref("team/proj/ab12cd") == RunRef(entity="team", project="proj", run_id="ab12cd")
    assert run_ref("/home/u/wandb/offline-run-20250101_120000-ab12cd") == RunRef(run_id="ab12cd")
    assert run_ref("/tmp/wandb/run-20250101_120000-x9/") == RunRef(run_id="x9")
    assert run_ref("evaluation") is None and run_ref("a/b/c'd") is None
    assert fit_title("t" * 200) == "t" * (TITLE_MAX - 1) + "\u2026" and fit_title("short") == "short"
