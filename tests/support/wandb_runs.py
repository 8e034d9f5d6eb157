"""Write real offline W&B runs with the real SDK, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

WANDB_ENV_KEYS = ("WANDB_MODE", "WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_SILENT")


def offline_env(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every W&B folder at `root` and go offline; returns the folder runs land in."""
    for sub in ("data", "cache", "config"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(root))
    monkeypatch.setenv("WANDB_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(root / "config"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_GROUP", "WANDB_TAGS",
                "WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_RUN_ID", "WANDB_LAUNCH", "WANDB_CONFIG",
                "WANDB_LAUNCH_CONFIG_PATH", "METALLMIX_RESULT_PATH", "METALLMIX_DATASET"):
        monkeypatch.delenv(var, raising=False)
    return root / "wandb"


def write_run(
    project: str,
    config: dict[str, Any],
    history: list[dict[str, Any]] = (),  # type: ignore[assignment]
    summary: dict[str, Any] | None = None,
    exit_code: int = 0,
    name: str | None = None,
    job_type: str | None = None,
    notes: str | None = None,
) -> str:
    """One finished (or failed) offline run, in this process; returns its id."""
    import wandb

    # dir= explicitly: wandb caches its settings at the first init, so a later WANDB_DIR is ignored.
    run = wandb.init(project=project, config=config, name=name, job_type=job_type, notes=notes,
                     reinit="create_new", dir=os.environ.get("WANDB_DIR"))
    for row in history:
        run.log(row)
    for k, v in (summary or {}).items():
        run.summary[k] = v
    run_id = run.id
    run_dir = Path(run.dir).parent
    run.finish(exit_code=exit_code)
    wait_for_exit_record(run_dir)
    return run_id


def wait_for_exit_record(run_dir: Path, timeout: float = 30.0) -> None:
    """wandb-core writes the exit record shortly after `finish()` returns; wait for it so a test
    never reads a finished run as a killed one (and fail loudly if it never comes)."""
    from metallmix_wandb.knowledge import runs_offline as wandb_offline

    if wandb_offline.wait_for_exit_record(run_dir, timeout_s=timeout, poll_s=0.05).exit_code is None:
        raise TimeoutError(f"{run_dir}: no exit record {timeout} s after finish()")


def write_killed_run(project: str, config: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """A run whose process is SIGKILLed mid-training: no exit record reaches the log."""
    key = next(iter(history[-1]))  # a history key: on disk once the log holds the training's records
    code = textwrap.dedent(
        f"""
        import os, signal, time, wandb
        run = wandb.init(project={project!r}, config={json.dumps(config)})
        for row in {json.dumps(history)}:
            run.log(row)
        # wandb-core flushes its log on its own schedule (here after ~15 s): kill only once the history is
        # on disk, or the log holds no records at all and the run is not a killed run but an empty one
        path, start = run.settings.sync_file, time.monotonic()
        while time.monotonic() - start < 90:
            if os.path.exists(path) and {key!r}.encode() in open(path, "rb").read():
                break
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], env=os.environ.copy(), capture_output=True, timeout=180)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]


def meta(n_instances: float, n_classes: float, modality: str = "US", **extra: Any) -> dict[str, Any]:
    """meta/... config keys for a dataset with these sizes (the rest derived, as the trainer would)."""
    base = {
        "n_instances": n_instances, "n_classes": n_classes, "imbalance_ratio": 1.0 + n_classes / 10,
        "class_entropy": 1.0, "resolution": 28.0, "class_size_mean": n_instances / n_classes,
        "class_size_std": 1.0, "class_size_min": n_instances / n_classes - 1,
        "class_size_max": n_instances / n_classes + 1, "modality": modality, **extra,
    }
    return {f"meta/{k}": v for k, v in base.items()}


def from_config(config: dict[str, Any]) -> dict[str, float | str]:
    """The meta-features back from a run config's flat `meta/...` keys (the inverse of `meta` and of
    `to_config_keys`), validated as user meta-features; {} when there are none."""
    from metallmix_wandb.datasets.meta_features import META_PREFIX, meta_features_from_json

    raw = {k[len(META_PREFIX):]: v for k, v in config.items()
           if isinstance(k, str) and k.startswith(META_PREFIX) and len(k) > len(META_PREFIX)}
    return meta_features_from_json(raw) if raw else {}
