"""The small state file that lets `tune --resume` continue a tune: one JSON per (project, dataset,
space, objective) under `<cache_dir>/tune/<project>/`, rewritten atomically after every trial.

It holds the group, the evidence used for trial 1 and each trial's proposal and result. A trained
trial's per-epoch history is not stored (its W&B run holds it): on resume it is read back from the
run folder, so the state stays small and the runs stay the source of truth.
Tested in tests/tune/test_trials.py and tests/tune/test_pipeline.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from metallmix_wandb.recommend.record import Evidence
from metallmix_wandb.knowledge.records import MetaValue
from metallmix_wandb.tune.records import TuneTrial

STATE_VERSION = 1


class TuneState(BaseModel):
    version: int = STATE_VERSION
    key: str
    tune_id: str
    group: str
    project: str
    entity: str | None = None
    dataset: str | None = None
    meta_features: dict[str, MetaValue] = Field(default_factory=dict)
    space: dict[str, Any] = Field(default_factory=dict, description="the tuned space as a sweep config")
    objective: str = "accuracy"
    max_train_time_s: float | None = None
    budget: int = 0
    target: float | None = None
    llm_model: str | None = None
    status: Literal["running", "stopped", "finished"] = "running"
    evidence: list[Evidence] = Field(default_factory=list)
    shap_digest: str = ""
    trials: list[TuneTrial] = Field(default_factory=list)
    tune_runs: list[str] = Field(default_factory=list, description="the tune runs (one per start/resume)")
    updated_at: str | None = None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def state_key(project: str, dataset: Any, space: dict[str, Any], objective: str,
              max_train_time_s: float | None) -> str:
    """Same project, data, space and objective = the same tune (what --resume continues)."""
    blob = json.dumps({"project": project, "dataset": dataset, "space": space, "objective": objective,
                       "max_train_time_s": max_train_time_s}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def state_path(cache_dir: Path, project: str, key: str) -> Path:
    return Path(cache_dir) / "tune" / _safe(project) / f"{key}.json"


def save_state(state: TuneState, path: Path) -> None:
    """Atomic: a crash mid-write leaves the previous state, never half a file."""
    state.updated_at = datetime.now(UTC).isoformat()
    data = state.model_dump(mode="json")
    for trial in data["trials"]:
        if trial["result"].get("run_dir"):
            trial["result"]["history"] = []  # the run folder has it
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def load_state(path: Path) -> TuneState | None:
    if not path.is_file():
        return None
    try:
        return TuneState.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"the tune state {path} is unreadable ({exc}); delete it to start afresh") from exc
