"""The tune run: a W&B run with job_type "tune", in the trials' group, that logs the best-so-far
curve as trials finish and, at the end, the final choice, a table of trials with the reasoning for
each, and the Pareto front of the metric against training time. A stopped tune (Ctrl-C) ends with
summary `tune/status = "stopped"` and exit code 130, so it never reads as a success.
Tested in tests/tune/test_pipeline.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from metallmix_wandb.logged_run import LoggedRun
from metallmix_wandb.tune.records import TuneOutcome, TuneTrial

RECORD_FILE = "tune.json"
EXIT_STOPPED = 130


class TuneRunInfo(LoggedRun):
    """The tune run (its own name, same fields as every logged run)."""


class TuneRunLogger:
    """Open with `start()`, then `log_trial` per trial, then `finish` once."""

    def __init__(self, project: str, group: str, name: str, config: dict[str, Any],
                 entity: str | None = None, metric: str = "test/acc") -> None:
        self.project, self.group, self.name, self.config = project, group, name, config
        self.entity, self.metric = entity, metric
        self.run: Any = None
        self.info: TuneRunInfo | None = None

    def start(self) -> TuneRunInfo:
        import wandb

        self.run = run = wandb.init(project=self.project, entity=self.entity, job_type="tune", group=self.group,
                                    name=self.name, config=self.config, tags=["metallmix-tune"],
                                    reinit="create_new", dir=os.environ.get("WANDB_DIR"))
        run.define_metric("trial")
        run.define_metric("tune/*", step_metric="trial")
        self.info = TuneRunInfo.of(run)
        return self.info

    def log_trial(self, trial: TuneTrial) -> None:
        r = trial.result
        row: dict[str, Any] = {"trial": trial.number, "tune/crashed": int(not r.ok)}
        for key, value in (("tune/best_so_far", trial.best_so_far), ("tune/metric", r.metric),
                           ("tune/train_time_s", r.train_time_s)):
            if value is not None:
                row[key] = value
        self.run.log(row)

    def finish(self, outcome: TuneOutcome, stopped: bool, extra: dict[str, Any] | None = None) -> None:
        import wandb

        run = self.run
        try:
            columns = ["trial", "source", "status", self.metric, "train_time_s", "best_so_far", "config",
                       "reasoning", "run_path", "error"]
            table = wandb.Table(columns=columns)
            for t in outcome.trials:
                table.add_data(t.number, t.proposal.source, t.result.status, t.result.metric, t.result.train_time_s,
                               t.best_so_far, json.dumps(t.result.config, default=str), t.proposal.reasoning,
                               t.result.run_path, t.result.error)
            front = wandb.Table(columns=["trial", self.metric, "train_time_s"])
            by_number = {t.number: t for t in outcome.trials}
            for n in outcome.pareto:
                front.add_data(n, by_number[n].result.metric, by_number[n].result.train_time_s)
            run.log({"tune/trials": table, "tune/pareto": front})
            best = outcome.best_trial
            run.summary.update({
                "tune/status": "stopped" if stopped else "finished", "tune/stop_reason": outcome.stop_reason,
                "tune/trials_run": len(outcome.trials), "tune/pareto_trials": outcome.pareto,
                "tune/best_trial": outcome.best, "tune/best_metric": best.result.metric if best else None,
                "final_choice": best.result.config if best else None,
                "tune/warnings": outcome.warnings, **(extra or {}),
            })
            Path(run.dir, RECORD_FILE).write_text(outcome.model_dump_json(indent=1))
        except BaseException:
            run.finish(exit_code=1)
            raise
        run.finish(exit_code=EXIT_STOPPED if stopped else 0)
