"""What `metallmix-wandb --help` and `recommend --help` import, in a fresh process as a user runs them:
no pydantic, rich, numpy or YAML (they were 0.3 s of the 0.46 s a `--help` took; the start-up times
are benchmarks/cli_startup_bench.py's). The `recommend --no-llm --json` path is checked, with its
result, in tests/knowledge/meta_learner/test_loader.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_FOR_HELP = ("pydantic", "pydantic_settings", "rich", "numpy", "yaml", "xgboost", "scipy", "qdrant_client",
                "wandb", "torch", "openai")

RUN = """
import contextlib, io, json, sys
from metallmix_wandb.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main({args!r}, standalone_mode=False)
print(json.dumps({{"code": code, "help": out.getvalue(), "loaded": sorted(m for m in {watch!r} if m in sys.modules)}}))
"""


@pytest.mark.parametrize("args", [["--help"], ["recommend", "--help"]])
def test_help_imports_no_pydantic_rich_numpy_or_yaml(args: list[str], tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", RUN.format(args=args, watch=NOT_FOR_HELP)], capture_output=True,
                          text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["code"] == 0 and "Usage:" in result["help"]
    assert result["loaded"] == []
