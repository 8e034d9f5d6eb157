"""The `metallmix-wandb` command: the group and `fail` (cli/app.py), shared options (cli/options.py) and one
thin module per command that parses options into settings and calls its feature's function. Heavy
libraries (wandb, qdrant, torch, xgboost) are imported inside function bodies, so `--help` starts fast.

`main` is resolved on first use (PEP 562), so a feature module that imports `cli.app.fail` loads the
group alone, not every command.
"""

from __future__ import annotations

from typing import Any

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    if name == "main":
        from metallmix_wandb.cli.commands import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
