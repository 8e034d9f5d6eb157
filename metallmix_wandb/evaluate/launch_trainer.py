"""Train mode of `evaluate`: a chosen config trained here through the W&B Launch contract, and the
search baselines run as W&B sweeps on W&B's own engine (offline), exactly as `recommend --run-local`
and `metallmix-wandb sweep --offline` run them. Each trial is a real training run (an offline W&B run
tagged `evaluation`); its summary gives the metric and the training time. Tested in
tests/evaluate/test_train_mode.py."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from metallmix_wandb.training.launch import env_overrides
from metallmix_wandb.space.search_space import SearchSpace


class TrainOutcome(BaseModel):
    ok: bool
    config: dict[str, Any]
    metric: float | None = None
    train_time_s: float | None = None
    run_dir: str | None = None
    error: str | None = None
    seconds: float = 0.0


class SweepOutcome(BaseModel):
    trials: list[TrainOutcome]
    seconds: float


def _number(summary: dict[str, Any], key: str) -> float | None:
    v = summary.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


class LaunchTrainer:
    """Trains configs of `space` on a dataset path with `python -m metallmix_wandb.train`."""

    def __init__(self, space: SearchSpace, *, project: str, metric: str, time_metric: str, folder: Path,
                 timeout_s: float | None = None) -> None:
        self.space, self.project, self.metric, self.time_metric = space, project, metric, time_metric
        self.folder, self.timeout_s = Path(folder), timeout_s
        self.folder.mkdir(parents=True, exist_ok=True)
        self._n = 0

    def _stem(self, tag: str) -> str:
        self._n += 1
        return f"{self._n:04d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', tag)[:60]}"

    def train(self, dataset: str, config: dict[str, Any], tag: str) -> TrainOutcome:
        """One run through the Launch contract (WANDB_LAUNCH + WANDB_LAUNCH_CONFIG_PATH)."""
        from metallmix_wandb.training.launch import run_local, write_spec
        from metallmix_wandb.training.launch_spec import build_launch_spec

        start = time.perf_counter()
        spec = build_launch_spec(config, self.space, dataset=dataset, project=self.project,
                                 group="evaluation-train", tags=["evaluation", tag])
        stem = self._stem(tag)
        spec_path = write_spec(spec, self.folder, stem)
        result_path = self.folder / f"{stem}.result.json"
        try:
            with env_overrides(METALLMIX_RESULT_PATH=str(result_path)):
                local = run_local(spec_path, spec, timeout_s=self.timeout_s)
        except subprocess.TimeoutExpired:
            return TrainOutcome(ok=False, config=config, seconds=time.perf_counter() - start,
                                error=f"training ran past {self.timeout_s:g} s (--train-timeout)")
        summary, run_dir = _read_result(result_path)
        metric = _number(summary, self.metric)
        ok = local.exit_code == 0 and metric is not None
        return TrainOutcome(ok=ok, config=config, metric=metric, train_time_s=_number(summary, self.time_metric),
                            run_dir=run_dir, seconds=time.perf_counter() - start,
                            error=None if ok else f"exit {local.exit_code}: {local.log_tail[-400:]}")

    def sweep(self, dataset: str, method: str, budget: int, seed: int, tag: str) -> SweepOutcome:
        """`budget` trials of a W&B sweep (method random or bayes) over the space, offline."""
        from metallmix_wandb.training.offline_sweep import run_offline_sweep

        start = time.perf_counter()
        path = self.folder / f"{self._stem(tag)}.sweep.yaml"
        params = {**self.space.to_sweep_parameters(), "dataset": {"value": dataset}}
        path.write_text(yaml.safe_dump({"method": method, "metric": {"name": self.metric, "goal": "maximize"},
                                        "run_cap": budget, "parameters": params}, sort_keys=False))
        with env_overrides(WANDB_TAGS="evaluation"):
            report = run_offline_sweep(path, count=budget, project=self.project, seed=seed)
        trials = []
        for t in report.trials:
            metric = _number(t.summary, self.metric)
            config = {k: v for k, v in t.config.items() if k in self.space.params}
            trials.append(TrainOutcome(ok=t.state == "finished" and metric is not None, config=config, metric=metric,
                                       train_time_s=_number(t.summary, self.time_metric), run_dir=t.run_dir,
                                       seconds=t.seconds, error=t.error))
        return SweepOutcome(trials=trials, seconds=time.perf_counter() - start)


def _read_result(path: Path) -> tuple[dict[str, Any], str | None]:
    """The trainer's METALLMIX_RESULT_PATH file: (summary, run folder); empty when it never wrote one."""
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}, None
    return dict(data.get("summary") or {}), data.get("run_dir")
