"""Evaluate a tune trial by training it: here through the W&B Launch contract (`--run-local`), or on
a Launch queue (`--queue`). Either way the trial is a W&B run in the tune's group whose notes carry
the reasoning that chose it (group, tags, notes and name travel in the run config: see
training/launch_spec.py), and its result is read back from the run itself (history + summary).

A runner is the `evaluate_config(config) -> TrialResult` of `run_tune_loop`; the loop tells it the
trial number and proposal first (`set_proposal`, passed as `on_proposal`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metallmix_wandb.training.launch import LaunchError, enqueue, env_overrides, run_local, write_spec
from metallmix_wandb.training.launch_spec import LaunchSpec, build_launch_spec
from metallmix_wandb.knowledge.records import RawRun
from metallmix_wandb.numbers import finite_or_none
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.records import Proposal, TrialResult

MAX_NOTES = 4000
EXIT_RECORD_WAIT_S = 15.0
DEFAULT_QUEUE_TIMEOUT_S = 6 * 3600.0  # a queued trial waits for an agent, then trains: give up after this
TERMINAL_STATES = ("finished", "crashed", "failed", "killed")
HISTORY_SAMPLES = 10_000  # more than any trial's epochs: `run.history` then returns every row


def epoch_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History rows without W&B's bookkeeping keys (_step, _runtime, _timestamp)."""
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in history]


def result_from_run(config: Mapping[str, Any], raw: RawRun | None, fallback: Mapping[str, Any],
                    metric: str, time_metric: str, exit_code: int | None, error: str | None = None,
                    run_path: str | None = None) -> TrialResult:
    """A trained trial's result: the W&B run as read back (else the trainer's result file)."""
    history = raw.history if raw is not None else list(fallback.get("history") or [])
    summary = dict(raw.summary) if raw is not None else dict(fallback.get("summary") or {})
    value, seconds = finite_or_none(summary.get(metric)), finite_or_none(summary.get(time_metric))
    finished = exit_code == 0 and value is not None and (raw is None or raw.state in ("finished", "incomplete"))
    if not finished and error is None:
        error = fallback.get("error") or (f"exit code {exit_code}" if exit_code else f"no finite {metric}")
    return TrialResult(
        config=dict(config), status="finished" if finished else "crashed", metric=value if finished else None,
        train_time_s=seconds, history=epoch_rows(history), summary={k: v for k, v in summary.items()
                                                                    if not k.startswith("_")},
        run_dir=raw.path if raw is not None else fallback.get("run_dir"), run_path=run_path,
        error=None if finished else error)


def read_run(run_dir: str | None, wait_s: float = EXIT_RECORD_WAIT_S) -> RawRun | None:
    """Parse an offline run folder, waiting briefly for W&B's service to write the exit record."""
    from metallmix_wandb.knowledge.runs_offline import wait_for_exit_record
    from metallmix_wandb.knowledge.record_log import RecordLogError

    if not run_dir or not Path(run_dir).is_dir():
        return None
    try:
        return wait_for_exit_record(Path(run_dir), timeout_s=wait_s)
    except (RecordLogError, OSError):
        return None


class TrialRunner:
    """What both runners share: the spec of trial n (validated once more: nothing leaves the space)."""

    def __init__(self, space: SearchSpace, *, dataset: str | None, project: str, group: str, folder: Path,
                 entity: str | None = None, metric: str = "test/acc", time_metric: str = "train_time_s",
                 timeout_s: float | None = None, name: str | None = None) -> None:
        self.space, self.dataset, self.project, self.group, self.folder = space, dataset, project, group, folder
        self.entity, self.metric, self.time_metric, self.timeout_s = entity, metric, time_metric, timeout_s
        self.name = name or group
        self.number, self.proposal = 0, None

    def set_proposal(self, number: int, proposal: Proposal) -> None:
        self.number, self.proposal = number, proposal

    def spec(self, config: dict[str, Any], **kw: Any) -> LaunchSpec:
        tags = ["metallmix-tune", self.group, f"trial-{self.number}"]
        return build_launch_spec(config, self.space, dataset=self.dataset, project=self.project, entity=self.entity,
                                 group=self.group, tags=tags, notes=self.notes(), name=self.run_name(), **kw)

    def run_name(self) -> str:
        return f"{self.name} trial {self.number}"

    def notes(self) -> str:
        p = self.proposal
        text = f"tune {self.group} trial {self.number} ({p.source if p else '?'}): {p.reasoning if p else ''}"
        return text[:MAX_NOTES]


class LocalTrialRunner(TrialRunner):
    """Train here, exactly as a launched run would (WANDB_LAUNCH + WANDB_LAUNCH_CONFIG_PATH)."""

    def __call__(self, config: dict[str, Any]) -> TrialResult:
        if self.dataset is None:
            raise LaunchError("training a trial here needs the dataset (--data)")
        spec = self.spec(config)
        stem = f"trial-{self.number:02d}"
        spec_path = write_spec(spec, self.folder, stem)
        result_path = self.folder / f"{stem}.result.json"
        result_path.unlink(missing_ok=True)
        start = time.perf_counter()
        with env_overrides(METALLMIX_RESULT_PATH=str(result_path), WANDB_JOB_TYPE="train"):
            try:
                local = run_local(spec_path, spec, timeout_s=self.timeout_s)
                exit_code, tail = local.exit_code, local.log_tail
            except subprocess.TimeoutExpired:
                exit_code, tail = None, f"timed out after {self.timeout_s:g} s"
        try:
            written = json.loads(result_path.read_text())
        except (OSError, ValueError):
            written = {}
        raw = read_run(written.get("run_dir"), wait_s=EXIT_RECORD_WAIT_S if exit_code == 0 else 1.0)
        error = None
        if exit_code != 0:
            error = written.get("error") or (tail.strip().splitlines() or ["the trainer failed"])[-1]
        run_path = None
        if raw is not None:
            run_path = f"{self.entity or raw.entity or 'offline'}/{raw.project or self.project}/{raw.run_id}"
        result = result_from_run(config, raw, written, self.metric, self.time_metric, exit_code, error, run_path)
        result.seconds = time.perf_counter() - start
        return result


class QueueTrialRunner(TrialRunner):
    """Enqueue the trial on a W&B Launch queue with a preset run id, then poll that run through the W&B
    API until it ends (or `timeout_s`, default DEFAULT_QUEUE_TIMEOUT_S). Needs a W&B server."""

    def __init__(self, *args: Any, queue: str, job: str | None = None, poll_s: float = 15.0, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.queue, self.job, self.poll_s = queue, job, poll_s
        if self.timeout_s is None:
            self.timeout_s = DEFAULT_QUEUE_TIMEOUT_S

    def __call__(self, config: dict[str, Any]) -> TrialResult:
        from metallmix_wandb.training.offline_sweep import new_id

        spec = self.spec(config, job=self.job, queue=self.queue)
        spec_path = write_spec(spec, self.folder, f"trial-{self.number:02d}")
        if (os.environ.get("WANDB_MODE") or "").lower() in {"offline", "disabled", "dryrun"}:
            raise LaunchError(f"W&B is offline, so queue '{self.queue}' cannot be reached (spec saved at "
                              f"{spec_path}); use --run-local to train the trials here")
        run_id = new_id()
        start = time.perf_counter()
        enqueue(spec, spec_path, run_id=run_id)  # checks the job first: a wrong --job queues nothing
        return self._wait(config, run_id, start)

    def _wait(self, config: dict[str, Any], run_id: str, start: float) -> TrialResult:
        """Poll fresh state: `Api.run()` caches its Run, so the first read is reloaded each time
        (`run.load(force=True)`, one request per poll)."""
        import wandb

        api = wandb.Api(timeout=60)
        path = "/".join(p for p in (self.entity or api.default_entity, self.project, run_id) if p)
        run, state = None, "queued"
        timeout = self.timeout_s or DEFAULT_QUEUE_TIMEOUT_S
        while True:
            try:
                if run is None:
                    run = api.run(path)  # RunNotFoundError until an agent starts the run
                else:
                    run.load(force=True)
                state = run.state
            except Exception:  # noqa: BLE001 - not started yet, or a transient API error: poll again
                pass
            if state in TERMINAL_STATES:
                break
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                return TrialResult(config=config, status="crashed", run_path=path, seconds=time.perf_counter() - start,
                                   error=f"not finished after {timeout:g} s (last state: {state}; the queue item "
                                         f"may still run: delete it in the W&B UI if not wanted)")
            time.sleep(min(self.poll_s, left))
        raw = self._read(run, path, run_id, state)
        result = result_from_run(config, raw, {}, self.metric, self.time_metric, raw.exit_code, run_path=path)
        result.seconds = time.perf_counter() - start
        return result

    @staticmethod
    def _read(run: Any, path: str, run_id: str, state: str) -> RawRun:
        """The ended run as plain JSON: `summary_metrics` (not `run.summary`, whose nested values are
        SummarySubDict objects that do not serialise) and every history row in one request."""
        try:
            history = run.history(samples=HISTORY_SAMPLES, pandas=False)
        except Exception:  # noqa: BLE001 - the metric is in the summary; the curve is a bonus
            history = []
        return RawRun(path=path, run_id=run_id, state=state, exit_code=0 if state == "finished" else 1,
                      config=dict(run.config), summary=dict(run.summary_metrics), history=list(history))
