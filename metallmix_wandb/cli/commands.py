"""Every command registered on the group: importing this module is what `metallmix-wandb` runs.
Tested through tests/cli/ (each command's own test file)."""

from __future__ import annotations

from metallmix_wandb.cli import (  # noqa: F401  (each module registers its commands on `main`)
    dataset_cmd,
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
