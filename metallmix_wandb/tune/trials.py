"""Evaluate a tune trial by training it: here through the W&B Launch contract (`--run-local`), or on
a Launch queue (`--queue`). Either way the trial is a W&B run in the tune's group whose notes carry
the reasoning that chose it, and its result is read back from the run itself (history + summary).

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

from metallmix_wandb.training.launch import LaunchError, env_overrides, run_local, write_spec
from metallmix_wandb.training.launch_spec import LaunchSpec, build_launch_spec
from metallmix_wandb.knowledge.records import RawRun
from metallmix_wandb.numbers import finite_or_none
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.records import Proposal, TrialResult

MAX_NOTES = 4000
EXIT_RECORD_WAIT_S = 15.0


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
                                 group=self.group, tags=tags, **kw)

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
        with env_overrides(WANDB_NOTES=self.notes(), WANDB_NAME=f"{self.name} trial {self.number}",
                           METALLMIX_RESULT_PATH=str(result_path), WANDB_JOB_TYPE="train"):
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
    """Enqueue the trial on a W&B Launch queue with a preset run id, then wait for that run through
    the W&B API. Needs a W&B server (not verifiable offline; offline it fails with a clear message)."""

    def __init__(self, *args: Any, queue: str, job: str | None = None, poll_s: float = 15.0, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.queue, self.job, self.poll_s = queue, job, poll_s

    def __call__(self, config: dict[str, Any]) -> TrialResult:
        from metallmix_wandb.training.offline_sweep import new_id

        spec = self.spec(config, job=self.job, queue=self.queue)
        spec_path = write_spec(spec, self.folder, f"trial-{self.number:02d}")
        if (os.environ.get("WANDB_MODE") or "").lower() in {"offline", "disabled", "dryrun"}:
            raise LaunchError(f"W&B is offline, so queue '{self.queue}' cannot be reached (spec saved at "
                              f"{spec_path}); use --run-local to train the trials here")
        if not spec.job:
            raise LaunchError("no Launch job to enqueue: pass --job ENTITY/PROJECT/JOB:ALIAS (or --entity)")
        run_id = new_id()
        start = time.perf_counter()
        try:
            from wandb.sdk.launch import launch_add

            launch_add(job=spec.job, config={"overrides": spec.overrides}, project=spec.project, entity=spec.entity,
                       queue_name=spec.queue, run_id=run_id, name=f"{self.name} trial {self.number}")
        except Exception as exc:  # no key, no server, unknown queue
            raise LaunchError(f"could not enqueue on '{self.queue}' ({type(exc).__name__}: {exc}); "
                              f"spec saved at {spec_path}") from exc
        return self._wait(config, run_id, start)

    def label(self, run: Any) -> bool:
        """Put the launched run in the tune's group, with its tags and reasoning: `launch_add` takes
        neither group nor notes, so they are set through the public API (`Run.update`). Best-effort:
        a failure leaves the trial ungrouped, never lost."""
        try:
            run.group = self.group
            run.tags = sorted({*(run.tags or []), "metallmix-tune", self.group, f"trial-{self.number}"})
            run.notes = self.notes()
            run.update()
        except Exception:  # noqa: BLE001 - permissions, a transient API error
            return False
        return True

    def _wait(self, config: dict[str, Any], run_id: str, start: float) -> TrialResult:
        import wandb

        api = wandb.Api(timeout=60)
        path = "/".join(p for p in (self.entity or api.default_entity, self.project, run_id) if p)
        labelled = False
        while True:
            if self.timeout_s is not None and time.perf_counter() - start > self.timeout_s:
                return TrialResult(config=config, status="crashed", error=f"not finished after {self.timeout_s:g} s",
                                   run_path=path)
            try:
                run = api.run(path)
                state = run.state
            except Exception:  # noqa: BLE001 - not created yet (still queued)
                state = "queued"
            if state != "queued" and not labelled:
                labelled = self.label(run)
            if state in ("finished", "crashed", "failed", "killed"):
                break
            time.sleep(self.poll_s)
        self.label(run)  # again once finished: the run's own last upsert may have reset it
        raw = RawRun(path=path, run_id=run_id, state=state, exit_code=0 if state == "finished" else 1,
                     config=dict(run.config), summary=dict(run.summary), history=list(run.scan_history()))
        return result_from_run(config, raw, {}, self.metric, self.time_metric, raw.exit_code, run_path=path)
