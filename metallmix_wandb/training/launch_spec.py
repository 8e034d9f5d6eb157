"""The W&B Launch contract for a recommended config, as plain data.

A launched run sees `{"overrides": {"run_config": {...}}}` (through `WANDB_LAUNCH_CONFIG_PATH` or a
queue), which `wandb.init` merges into `wandb.config`. Enqueueing and local execution both start
from this spec, and it is only ever built from a config that is inside the search space.
Tested through tests/training/test_launch.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from metallmix_wandb.space.search_space import SearchSpace

DEFAULT_JOB_NAME = "metallmix-train"


class LaunchSpecError(ValueError):
    pass


class LaunchSpec(BaseModel):
    job: str | None = Field(None, description="entity/project/job:alias of the training job artifact")
    project: str
    entity: str | None = None
    queue: str | None = None
    group: str | None = None
    tags: list[str] = Field(default_factory=list)
    name: str | None = None
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
    extra: Mapping[str, Any] | None = None,
) -> LaunchSpec:
    """Validate once more at the last gate: nothing outside the space is ever enqueued or run."""
    check = space.validate_config(dict(config))
    if not check.ok or check.config is None:
        raise LaunchSpecError("refusing to launch a config outside the search space: " + "; ".join(check.errors))
    run_config = {**space.nest(check.config), **(extra or {})}
    if dataset is not None:
        run_config["dataset"] = dataset
    return LaunchSpec(
        job=job or (f"{entity}/{project}/{DEFAULT_JOB_NAME}:latest" if entity else None),
        project=project, entity=entity, queue=queue, group=group, tags=list(tags or []),
        overrides={"run_config": run_config, "args": [], "entry_point": []},
    )
