"""The `metallmix-wandb` command: the group (cli/app.py) and one thin module per command. Each command
parses options into settings and calls its feature's function; heavy libraries (wandb, qdrant, torch,
xgboost) are imported inside function bodies, so `--help` starts fast."""

from __future__ import annotations

from metallmix_wandb.cli import (  # noqa: F401  (each module registers its commands on `main`)
    evaluate_cmd,
    explain_cmd,
    import_cmd,
    knowledge,
    llm_cmds,
    recommend_cmd,
    report_cmd,
    train_cmds,
    tune_cmd,
)
from metallmix_wandb.cli.app import main

__all__ = ["main"]
