"""`recommend` names the metric its meta-learner was trained on (an imported project's `val/acc`, not the
settings' default `test/acc`) and keeps the predicted value inside the range the runs reached: real import
(`--direct`, explain included), real XGBoost, the CLI in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main

SPACE = "parameters:\n  learner: {values: [a, b, c, d]}\n"


def _rows() -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for d in range(6):
        n = 200 * (d + 1)
        for learner, base in (("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.6)):
            acc = min(1.0, base + 0.02 * d + float(rng.normal(0, 0.01)))  # near 1.0 on the big datasets
            rows.append({"dataset": f"ds{d}", "meta/n_instances": n, "meta/n_classes": 2 + d % 3,
                         "learner": learner, "val/acc": acc, "train_time_s": 1.0 + d})
    return rows


def test_the_output_names_the_trained_metric_and_stays_in_its_range(tmp_path: Path, wandb_offline_env: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from metallmix_wandb.knowledge.table_io import write_table

    monkeypatch.setenv("METALLMIX_QDRANT_PATH", str(tmp_path / "q"))
    monkeypatch.setenv("METALLMIX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("METALLMIX_METRIC", raising=False)
    rows = _rows()
    table, space = write_table(tmp_path / "runs.csv", rows), tmp_path / "space.yaml"
    space.write_text(SPACE)
    imported = CliRunner().invoke(main, ["import", str(table), "--project", "lbl", "--metric", "val/acc",
                                         "--space", str(space), "--direct"])
    assert imported.exit_code == 0, imported.output
    meta = tmp_path / "mf.json"
    meta.write_text(json.dumps({"n_instances": 5000, "n_classes": 2}))  # past the largest dataset
    args = ["recommend", "--project", "lbl", "--meta-features", str(meta), "--no-llm", "--no-log"]
    out = CliRunner().invoke(main, [*args, "--json"])
    assert out.exit_code == 0, out.output
    rec = json.loads(out.stdout)["recommendation"]
    assert rec["metric"] == "val/acc"
    top = max(r["val/acc"] for r in rows)
    assert min(r["val/acc"] for r in rows) <= rec["predicted"]["raw_metric"] <= top
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0 and "val/acc ~" in text.output and "test/acc" not in text.output, text.output
