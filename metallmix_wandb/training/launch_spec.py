"""The W&B Launch contract for a recommended config, as plain data.

A launched run sees `{"overrides": {"run_config": {...}}}` (through `WANDB_LAUNCH_CONFIG_PATH` or a
queue), which `wandb.init` merges into `wandb.config`. Enqueueing and local execution both start
from this spec, and it is only ever built from a config that is inside the search space.

`launch_add` takes no group, tags or notes, and labelling the run afterwards (`Run.update`) rewrites
its whole config and summary from a stale snapshot. So the labels travel inside the run config under
one reserved key (`RUN_LABELS_KEY`, leading underscore: W&B's `wandb.config` hides it and
`knowledge.experiments.split_config` never takes it for a hyperparameter); the trainer reads them
before `wandb.init` (`launch_init_labels`) and passes them to it.
Tested through tests/training/test_launch.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from metallmix_wandb.space.search_space import SearchSpace

DEFAULT_JOB_NAME = "metallmix-train"
TRAINER_PARAMS = frozenset({
    "dataset", "base_model", "fine_tuning", "dense_units", "dropout", "optimizer", "learning_rate", "batch_size",
    "epochs", "image_size", "cv_folds", "seed", "max_train_samples", "modality"})
"""The keys `metallmix-wandb train` reads (training/entrypoint.py TrainConfig; a test keeps them equal). A
config with any other key (an imported project's `learner`, `max_depth`) is for the team's own trainer."""
RUN_LABELS_KEY = "_metallmix_run"


class LaunchSpecError(ValueError):
    pass


class RunLabels(BaseModel):
    """What `wandb.init` gets besides the config: where the run belongs and why it was started."""

    group: str | None = None
    tags: list[str] = Field(default_factory=list)
    notes: str | None = None
    name: str | None = None

    def init_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v}


class LaunchSpec(BaseModel):
    job: str | None = Field(None, description="entity/project/job:alias of the training job artifact")
    project: str
    entity: str | None = None
    queue: str | None = None
    group: str | None = None
    tags: list[str] = Field(default_factory=list)
    name: str | None = None
    notes: str | None = None
    overrides: dict[str, Any]

    @property
    def run_config(self) -> dict[str, Any]:
        return self.overrides["run_config"]


def build_launch_spec(
    config: Mapping[str, Any],
    space: SearchSpace,
    *,
    dataset: str | None,
    project: str,
    entity: str | None = None,
    job: str | None = None,
    queue: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    name: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> LaunchSpec:
    """Validate once more at the last gate: nothing outside the space is ever enqueued or run."""
    check = space.validate_config(dict(config))
    if not check.ok or check.config is None:
        raise LaunchSpecError("refusing to launch a config outside the search space: " + "; ".join(check.errors))
    run_config = {**space.nest(check.config), **(extra or {})}
    if dataset is not None:
        run_config["dataset"] = dataset
    labels = RunLabels(group=group, tags=list(tags or []), notes=notes, name=name)
    if labels.init_kwargs():
        run_config[RUN_LABELS_KEY] = labels.init_kwargs()
    return LaunchSpec(
        job=job or (f"{entity}/{project}/{DEFAULT_JOB_NAME}:latest" if entity else None),
        project=project, entity=entity, queue=queue, group=group, tags=list(tags or []), name=name, notes=notes,
        overrides={"run_config": run_config, "args": [], "entry_point": []},
    )


def labels_of(run_config: Mapping[str, Any] | None) -> RunLabels:
    """The labels a run config carries; none (never an error) when absent or malformed."""
    raw = (run_config or {}).get(RUN_LABELS_KEY)
    if not isinstance(raw, Mapping):
        return RunLabels()
    try:
        return RunLabels.model_validate(dict(raw))
    except ValidationError:
        return RunLabels()


def launch_run_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The run config of a launched run, read from where `wandb.init` reads it (wandb 0.31
    `_handle_launch_config`): only under WANDB_LAUNCH; WANDB_CONFIG, else the file at
    WANDB_LAUNCH_CONFIG_PATH, else WANDB_CONFIG_0, _1, ... (the agent shards long configs)."""
    env = os.environ if environ is None else environ
    if (env.get("WANDB_LAUNCH") or "").strip().lower() not in {"true", "1", "yes"}:
        return {}
    try:
        if env.get("WANDB_CONFIG") is not None:
            found = json.loads(env["WANDB_CONFIG"])
        elif env.get("WANDB_LAUNCH_CONFIG_PATH") and Path(env["WANDB_LAUNCH_CONFIG_PATH"]).is_file():
            found = json.loads(Path(env["WANDB_LAUNCH_CONFIG_PATH"]).read_text()).get("overrides", {}).get("run_config")
        else:
            chunks, i = [], 0
            while f"WANDB_CONFIG_{i}" in env:
                chunks.append(env[f"WANDB_CONFIG_{i}"])
                i += 1
            found = json.loads("".join(chunks)) if chunks else {}
    except (OSError, ValueError, AttributeError):
        return {}
    return found if isinstance(found, dict) else {}


def launch_init_labels(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`wandb.init` keyword arguments (group, tags, notes, name) from a launched run's config."""
    return labels_of(launch_run_config(environ)).init_kwargs()
