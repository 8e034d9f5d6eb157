"""W&B Launch at the edge: enqueue a spec on a queue, or run it here through the same contract."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from metallmix_wandb.training.launch_spec import LaunchSpec


class LaunchError(RuntimeError):
    """Enqueueing failed; the message says where the spec was saved so it can be enqueued later."""


class LocalRunResult(BaseModel):
    exit_code: int
    spec_path: str
    log_tail: str


@contextlib.contextmanager
def env_overrides(**values: str) -> Iterator[None]:
    """Set environment variables for a child process started inside the block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def write_spec(spec: LaunchSpec, folder: Path, stem: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.launch.json"
    path.write_text(json.dumps(spec.model_dump(mode="json"), indent=2))
    return path


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_job(job: str, api: Any | None = None) -> None:
    """`launch_add` pushes to the queue before it looks the job up, so a wrong job name would leave an
    item on the queue that no agent can run: look the job artifact up first (public API)."""
    try:
        import wandb

        (api or wandb.Api(timeout=30)).artifact(job, type="job")
    except Exception as exc:  # no such artifact, not a job, no access, no server
        raise LaunchError(f"Launch job '{job}' is not available ({_first_line(exc)}); create it "
                          f"(see launch/) or pass --job ENTITY/PROJECT/JOB:ALIAS") from exc


def enqueue(spec: LaunchSpec, spec_path: Path, *, run_id: str | None = None, name: str | None = None) -> str:
    """`launch_add` with the job and `{"overrides": {"run_config": ...}}` once the job is known to
    exist (nothing is queued otherwise); needs a W&B server. Returns the queue item's id."""
    if not spec.queue:
        raise LaunchError("no queue given")
    if not spec.job:
        raise LaunchError(
            f"no Launch job to enqueue: pass --job ENTITY/PROJECT/JOB:ALIAS (or --entity to use "
            f"the default job name). The spec is saved at {spec_path}"
        )
    later = f"The spec is saved at {spec_path}; enqueue it later with `wandb launch -q {spec.queue} " \
            f"-j {spec.job} -c {spec_path}`"
    if (os.environ.get("WANDB_MODE") or "").lower() in {"offline", "disabled", "dryrun"}:
        raise LaunchError(f"W&B is offline, so queue '{spec.queue}' cannot be reached. {later}")
    try:
        check_job(spec.job)
    except LaunchError as exc:
        raise LaunchError(f"{exc}. Nothing was enqueued; the spec is saved at {spec_path}") from exc
    try:
        from wandb.sdk.launch import launch_add

        queued = launch_add(job=spec.job, config={"overrides": spec.overrides}, project=spec.project,
                            entity=spec.entity, queue_name=spec.queue, run_id=run_id, name=name or spec.name)
    except Exception as exc:  # no key, no server, unknown queue: all leave the spec for later
        raise LaunchError(f"could not enqueue on '{spec.queue}' ({_first_line(exc)}). {later}") from exc
    return str(getattr(queued, "id", queued))


def run_local(spec_path: Path, spec: LaunchSpec, timeout_s: float | None = None) -> LocalRunResult:
    """Train now, exactly as a launched run would: WANDB_LAUNCH=True + WANDB_LAUNCH_CONFIG_PATH (the
    group, tags, notes and name travel inside the run config, as on a queue)."""
    env = {
        **os.environ,
        "WANDB_LAUNCH": "True",
        "WANDB_LAUNCH_CONFIG_PATH": str(spec_path),
        "WANDB_PROJECT": spec.project,
    }
    if spec.entity:
        env["WANDB_ENTITY"] = spec.entity
    for var in ("WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_CONFIG", "WANDB_RUN_ID"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, "-m", "metallmix_wandb.train"], env=env, capture_output=True,
                          text=True, timeout=timeout_s)
    return LocalRunResult(exit_code=proc.returncode, spec_path=str(spec_path),
                          log_tail=(proc.stdout + proc.stderr)[-3000:])
