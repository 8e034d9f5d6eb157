"""W&B Launch at the edge: enqueue a spec on a queue, or run it here through the same contract."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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


def enqueue(spec: LaunchSpec, spec_path: Path) -> str:
    """`launch_add` with the job and `{"overrides": {"run_config": ...}}`; needs a W&B server."""
    if not spec.queue:
        raise LaunchError("no queue given")
    if not spec.job:
        raise LaunchError(
            f"no Launch job to enqueue: pass --job ENTITY/PROJECT/JOB:ALIAS (or --entity to use "
            f"the default job name). The spec is saved at {spec_path}"
        )
    if (os.environ.get("WANDB_MODE") or "").lower() in {"offline", "disabled", "dryrun"}:
        raise LaunchError(
            f"W&B is offline, so queue '{spec.queue}' cannot be reached. The spec is saved at {spec_path}; "
            f"enqueue it later with `wandb launch -q {spec.queue} -j {spec.job} -c {spec_path}`"
        )
    try:
        from wandb.sdk.launch import launch_add

        queued = launch_add(job=spec.job, config={"overrides": spec.overrides}, project=spec.project,
                            entity=spec.entity, queue_name=spec.queue)
    except Exception as exc:  # no key, no server, unknown queue: all leave the spec for later
        raise LaunchError(
            f"could not enqueue on '{spec.queue}' ({type(exc).__name__}: {exc}). The spec is saved at "
            f"{spec_path}; enqueue it later with `wandb launch -q {spec.queue} -j {spec.job} -c {spec_path}`"
        ) from exc
    return str(getattr(queued, "id", queued))


def run_local(spec_path: Path, spec: LaunchSpec, timeout_s: float | None = None) -> LocalRunResult:
    """Train now, exactly as a launched run would: WANDB_LAUNCH=True + WANDB_LAUNCH_CONFIG_PATH."""
    env = {
        **os.environ,
        "WANDB_LAUNCH": "True",
        "WANDB_LAUNCH_CONFIG_PATH": str(spec_path),
        "WANDB_PROJECT": spec.project,
    }
    if spec.entity:
        env["WANDB_ENTITY"] = spec.entity
    if spec.group:
        env["WANDB_RUN_GROUP"] = spec.group
    if spec.tags:
        env["WANDB_TAGS"] = ",".join(spec.tags)
    for var in ("WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_CONFIG", "WANDB_RUN_ID"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, "-m", "metallmix_wandb.train"], env=env, capture_output=True,
                          text=True, timeout=timeout_s)
    return LocalRunResult(exit_code=proc.returncode, spec_path=str(spec_path),
                          log_tail=(proc.stdout + proc.stderr)[-3000:])
