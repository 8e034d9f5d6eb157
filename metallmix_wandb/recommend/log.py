"""A recommendation as a W&B run (job_type "recommendation"), online or offline, and back again.

Tested through the command (tests/cli/test_recommend_cli.py: logging, and `judge` reading it back).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from metallmix_wandb.logged_run import LoggedRun, finishing
from metallmix_wandb.recommend.record import Recommendation

RECORD_FILE = "recommendation.json"


def _flat(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}/{k}": v for k, v in values.items() if v is not None}


def log_recommendation(rec: Recommendation, *, project: str, entity: str | None = None,
                       group: str | None = None, tags: list[str] | None = None) -> LoggedRun:
    """Config = the recommended config and how it was made; summary = scores, timings, tokens;
    a Table of the evidence; the whole record as recommendation.json (what `judge` re-reads)."""
    import wandb

    config = {
        "recommended": rec.config, "source": rec.source, "mode": rec.mode, "llm_model": rec.llm_model,
        "judge_model": rec.judge_model, "metric": rec.metric,
        "evidence_runs": [e.run_path for e in rec.evidence],
        **{f"new_dataset/{k}": v for k, v in rec.meta_features.items()},
    }
    run = wandb.init(project=project, entity=entity, job_type="recommendation", group=group, tags=tags,
                     config=config, reinit="create_new", dir=os.environ.get("WANDB_DIR"))
    with finishing(run):
        table = wandb.Table(columns=["run_path", "dataset", "distance", rec.metric, "train_time_s", "config"])
        for e in rec.evidence:
            table.add_data(e.run_path, e.dataset, e.distance, e.metric, e.train_time_s, json.dumps(e.config, default=str))
        run.log({"evidence": table})
        run.summary.update({
            "explanation": rec.explanation, "llm_explanation": rec.llm_explanation or "",
            "explanation_rejected": rec.explanation_rejected or "", "raw_valid": rec.raw_valid, "repairs": rec.repairs,
            "format_score_code": rec.format_score_code, "judge_error": rec.judge_error or "",
            **_flat("predicted", rec.predicted.model_dump(exclude={"config"})),
            **_flat("judge", rec.judge_scores), **_flat("timings", rec.timings), **_flat("tokens", rec.tokens),
        })
        Path(run.dir, RECORD_FILE).write_text(rec.model_dump_json(indent=2))
        logged = LoggedRun.of(run)
    return logged


def read_recommendation(run_ref: str) -> Recommendation:
    """From an offline run folder (or its files/ folder), or an online run path entity/project/id."""
    path = Path(run_ref)
    for candidate in (path / "files" / RECORD_FILE, path / RECORD_FILE, path):
        if candidate.is_file():
            return Recommendation.model_validate_json(candidate.read_text())
    if path.exists():
        raise FileNotFoundError(f"{run_ref} holds no {RECORD_FILE}: is it a recommendation run?")
    import wandb

    run = wandb.Api(timeout=30).run(run_ref)
    folder = Path(run.file(RECORD_FILE).download(replace=True, root=str(Path.cwd() / ".metallmix" / run.id)).name)
    return Recommendation.model_validate_json(folder.read_text())
