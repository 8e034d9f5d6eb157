"""RawRun -> Experiment, or a SkippedRun with the reason. Pure: the rules for what is usable."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from metallmix_wandb.datasets.reference import ARTIFACT_SCHEME
from metallmix_wandb.knowledge.records import (
    COMPLETE_KEY, TRAINER_KEY, Experiment, MetaValue, RawRun, SkippedRun, TrajectorySummary,
)
from metallmix_wandb.knowledge.trajectory import summarise_curve
from metallmix_wandb.numbers import finite_or_none

META_PREFIX = "meta/"
# Logged beside the hyperparameters but chosen by nobody: facts about the run or the data.
NON_HPARAM_KEYS = frozenset({"dataset", "dataset_name", "dataset_artifact", "pretrained", "modality"})
NON_TRAINING_JOB_TYPES = frozenset({"sync", "recommendation", "evaluation", "tune", "report", "judge"})


class MetricNames(BaseModel):
    """Metric names are settings (DESIGN.md §4), not constants scattered through the code."""

    target: str = "test/acc"
    train_time: str = "train_time_s"
    curve: str = "val/acc"


def split_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, MetaValue]]:
    """Separate hyperparameters from `meta/...` keys (flat, or nested as {'meta': {...}})."""
    hparams: dict[str, Any] = {}
    meta: dict[str, MetaValue] = {}
    for key, value in config.items():
        if key == "meta" and isinstance(value, Mapping):
            meta.update({str(k): v for k, v in value.items() if isinstance(v, int | float | str)})
        elif key.startswith(META_PREFIX):
            if isinstance(value, int | float | str):
                meta[key[len(META_PREFIX):]] = float(value) if isinstance(value, int | float) else value
        elif not key.startswith("_") and key not in NON_HPARAM_KEYS:
            hparams[key] = value
    return hparams, {k: (float(v) if isinstance(v, int | float) else v) for k, v in meta.items()}


def summarise_trajectory(history: list[Mapping[str, Any]], metric: str,
                         train_time_s: float | None = None) -> TrajectorySummary:
    """The Trajectory Context Summarizer's digest of a run's curve (knowledge/trajectory.py)."""
    return summarise_curve(history, metric, train_time_s=train_time_s)


def _skip(raw: RawRun, reason: str, detail: str = "") -> SkippedRun:
    return SkippedRun(path=raw.path, reason=reason, detail=detail)


def dataset_label(dataset: str) -> str:
    """A short readable name for a dataset value that may be a path."""
    return PurePath(dataset).stem or dataset


def dataset_value(config: Mapping[str, Any]) -> str | None:
    """The run's `dataset` as text. A run trained from a dataset artifact has it as W&B stores a used
    artifact ({"_type": "artifactVersion", ...}, no project): its reference is `dataset_artifact`."""
    dataset = config.get("dataset")
    if isinstance(dataset, Mapping) and dataset.get("_type") == "artifactVersion":
        name = config.get("dataset_artifact")
        return ARTIFACT_SCHEME + name if isinstance(name, str) and name else None
    return dataset if isinstance(dataset, str) and dataset else None


def to_experiment(raw: RawRun, names: MetricNames, run_path: str | None = None) -> Experiment | SkippedRun:
    """Keep finished training runs that carry a dataset, meta-features and a finite target metric; a run
    of our trainer (TRAINER_KEY) also needs its end marker (COMPLETE_KEY). Imported runs have neither."""
    if raw.job_type in NON_TRAINING_JOB_TYPES:
        return _skip(raw, "not a training run", f"job_type={raw.job_type}")
    if raw.state != "finished":
        detail = f"exit code {raw.exit_code}" if raw.exit_code not in (None, 0) else "no exit record"
        return _skip(raw, raw.state, detail)
    if raw.config.get(TRAINER_KEY) is not None and raw.summary.get(COMPLETE_KEY) is not True:
        return _skip(raw, "incomplete", "our trainer's end marker is missing: it was killed before the end")
    dataset = dataset_value(raw.config)
    if dataset is None:
        return _skip(raw, "no dataset", "config has no 'dataset' key")
    hparams, meta = split_config(raw.config)
    if not any(isinstance(v, float) for v in meta.values()):
        return _skip(raw, "no meta-features", "config has no numeric meta/... keys")
    if names.target not in raw.summary:
        return _skip(raw, "missing metric", f"summary has no '{names.target}'")
    target = finite_or_none(raw.summary[names.target])
    if target is None:
        return _skip(raw, "NaN metric", f"{names.target}={raw.summary[names.target]!r}")
    summary = {k: f for k, v in raw.summary.items() if not k.startswith("_") and (f := finite_or_none(v)) is not None}
    train_time = summary.get(names.train_time, finite_or_none(raw.summary.get("_runtime")))
    name = raw.config.get("dataset_name")
    return Experiment(
        run_path=run_path or raw.path, run_id=raw.run_id, name=raw.name, source=raw.path, dataset=dataset,
        dataset_name=name if isinstance(name, str) and name else dataset_label(dataset),
        config=hparams, meta_features=meta, summary=summary, history=raw.history, state=raw.state,
        train_time_s=train_time, trajectory=summarise_trajectory(raw.history, names.curve, train_time),
        created_at=raw.created_at,
    )
