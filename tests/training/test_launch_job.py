"""launch/: the training job a Launch queue runs. The code job that `launch/create_job.sh` creates is
created for real (`wandb job create` through the real SDK and wandb-core) against the loopback W&B
backend and read back; the image job's Docker context is checked by building the package wheel from
exactly what launch/Dockerfile.dockerignore lets in (no container engine runs here)."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.support.wandb_backend import Backend, wandb_backend_fixture

wandb_backend = pytest.fixture(wandb_backend_fixture)
REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "launch" / "create_job.sh"
ENTRYPOINT = ["python", "-m", "metallmix_wandb.train"]


def _script(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "WANDB": f"{sys.executable} -m wandb", "PYTHON": sys.executable, **env}
    return subprocess.run(["bash", str(SCRIPT), *args], env=full, capture_output=True, text=True, timeout=300)


def _package_files() -> set[str]:
    tracked = subprocess.run(["git", "ls-files", "metallmix_wandb"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    return {f for f in tracked if f.endswith((".py", ".yaml"))}


def _dependencies() -> list[str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def test_the_code_job_folder_holds_only_the_package_and_its_requirements(tmp_path: Path) -> None:
    proc = _script("stage", str(tmp_path / "stage"))
    assert proc.returncode == 0, proc.stderr
    files = {str(p.relative_to(tmp_path / "stage")) for p in (tmp_path / "stage").rglob("*") if p.is_file()}
    assert files == _package_files() | {"requirements.txt"}  # no .venv, tests, data, caches, wandb/ runs
    assert (tmp_path / "stage" / "requirements.txt").read_text().split("\n")[:-1] == _dependencies()

    proc = _script("stage", str(tmp_path / "released"), METALLMIX_REQUIREMENT="metallmix-wandb==0.1.0")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "released").iterdir()] == ["requirements.txt"]
    assert (tmp_path / "released" / "requirements.txt").read_text() == "metallmix-wandb==0.1.0\n"
    assert _script().returncode == 2 and "usage:" in _script("code", "only-entity").stderr


@pytest.mark.slow
def test_wandb_job_create_makes_a_job_that_launch_add_finds(wandb_backend: Backend) -> None:
    proc = _script("code", "team", "proj")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    world = wandb_backend.world
    (code,) = [a for a in world.artifacts if a.type == "code"]
    (job,) = [a for a in world.artifacts if a.type == "job"]
    assert (job.name, job.aliases, code.name) == ("metallmix-train", ["latest"], "code-metallmix-train")
    assert set(code.files) == _package_files() | {"requirements.txt"}
    spec = json.loads(job.files["wandb-job.json"])
    assert spec["source_type"] == "artifact" and spec["runtime"] == "3.11"
    assert spec["source"]["entrypoint"] == ENTRYPOINT
    assert spec["source"]["artifact"] == f"wandb-artifact://_id/{code.id}"
    assert job.files["requirements.frozen.txt"].decode().split("\n") == _dependencies()
    assert world.runs == {}  # the hidden run that created the job is deleted again
    assert wandb_backend.unknown == []

    from wandb.sdk.launch import launch_add

    queue = world.add_queue("team", "gpu-queue")
    launch_add(job="team/proj/metallmix-train:latest", config={"overrides": {"run_config": {"epochs": 1}}},
               project="proj", entity="team", queue_name="gpu-queue")
    (item,) = queue.items
    assert item.spec["job"] == "team/proj/metallmix-train:latest" and wandb_backend.unknown == []


def _docker_context(root: Path, ignore_file: Path) -> list[str]:
    """The files a `docker build` context sends, for the `*` / `!path` / `**/x` patterns we use."""
    rules = [line.strip() for line in ignore_file.read_text().splitlines() if line.strip() and line[0] != "#"]
    kept = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".git/", ".venv/")):
            continue
        keep = True
        for rule in rules:
            neg, pat = rule.startswith("!"), rule.lstrip("!").rstrip("/")
            hit = fnmatch.fnmatch(rel, pat) or rel.startswith(pat + "/") or (
                pat.startswith("**/") and any(fnmatch.fnmatch(part, pat[3:]) for part in rel.split("/")))
            if hit:
                keep = neg
        if keep:
            kept.append(rel)
    return kept


@pytest.mark.slow
def test_the_image_context_installs_the_package(tmp_path: Path) -> None:
    dockerfile = (REPO / "launch" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m", "metallmix_wandb.train"]' in dockerfile
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in dockerfile
    context = _docker_context(REPO, REPO / "launch" / "Dockerfile.dockerignore")
    assert {"pyproject.toml", "README.md"} <= set(context)
    assert not [f for f in context if not f.startswith("metallmix_wandb/") and f not in ("pyproject.toml", "README.md")]
    assert not [f for f in context if "__pycache__" in f]
    ctx = tmp_path / "ctx"
    for rel in context:
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, ctx / rel)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path / "wheel"), str(ctx)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "wheel").glob("metallmix_wandb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"metallmix_wandb/train.py", "metallmix_wandb/benchmarks_data/meta_features.yaml"} <= names
