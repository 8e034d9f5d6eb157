"""Records that cross a boundary (W&B -> core -> Qdrant -> CLI), as pydantic models.
Tested through the tests that build them (tests/knowledge/test_experiments.py, test_store.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

MetaValue = float | str
"""A meta-feature is numeric or categorical; the schema is open (any key)."""

TRAINER_KEY = "_metallmix_trainer"
"""Config key our trainer logs when a run starts (the marker's version): the run is ours."""
COMPLETE_KEY = "_metallmix_complete"
"""Summary key our trainer logs last, after every metric. A run of ours without it did not finish, even
when its exit record says 0 (a run SIGKILLed while sharing its parent's W&B service gets one)."""


class RawRun(BaseModel):
    """A run as an adapter read it, before any judgement about whether it is usable."""

    path: str = Field(description="entity/project/run_id online; the run folder offline")
    run_id: str
    name: str | None = None
    project: str | None = None
    entity: str | None = None
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    tags: list[str] = Field(default_factory=list)
    state: str = Field(description="finished | crashed | failed | killed | running | incomplete")
    exit_code: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    history: list[dict[str, Any]] = Field(default_factory=list)
    created_at: str | None = None


class TrajectorySummary(BaseModel):
    """Deterministic digest of a run's per-epoch curve: the Trajectory Context Summarizer's per-run
    output (knowledge/trajectory.py). Every field past `metric` has a default, so payloads stored before
    they existed still read."""

    epochs: int = 0
    best_epoch: int | None = Field(None, description="index into the history of the best value")
    best_value: float | None = None
    final_value: float | None = None
    metric: str | None = None
    goal: str = "maximize"
    train_val_gap: float | None = Field(None, description="train minus val at the last epoch with both "
                                        "(accuracy; val minus train for a loss): > 0 means overfitting")
    slope: float | None = Field(None, description="least-squares slope per epoch over the last epochs")
    trend: str | None = Field(None, description="improving | plateau | diverging | too short")
    volatility: float | None = Field(None, description="std of the epoch-to-epoch changes")
    time_per_epoch_s: float | None = None
    diverged: bool = Field(False, description="a non-finite loss, or the training loss blew up")
    crashed: bool = Field(False, description="the run did not finish (no usable summary metric)")


class Experiment(BaseModel):
    """A usable run: the unit of the knowledge base (DESIGN.md §4)."""

    run_path: str = Field(description="entity/project/run_id; offline runs use the entity 'offline'")
    run_id: str
    name: str | None = None
    source: str | None = Field(None, description="where it was read from: an offline folder, or 'wandb-api'")
    dataset: str
    dataset_name: str | None = None
    config: dict[str, Any] = Field(description="hyperparameters, without meta/ keys")
    meta_features: dict[str, MetaValue]
    summary: dict[str, float]
    history: list[dict[str, Any]] = Field(default_factory=list)
    state: str = "finished"
    train_time_s: float | None = None
    trajectory: TrajectorySummary = Field(default_factory=TrajectorySummary)
    shap_top3: list[dict[str, Any]] = Field(default_factory=list)
    created_at: str | None = None
    synced_at: str | None = None


class SkippedRun(BaseModel):
    """A run kept out of the knowledge base, and why (printed by sync, never silent)."""

    path: str
    reason: str
    detail: str = ""


class Neighbour(BaseModel):
    """One hit of a similarity search."""

    experiment: Experiment
    distance: float
