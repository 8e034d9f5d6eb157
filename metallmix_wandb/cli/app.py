"""The click group every subcommand registers on, and the one way a command fails: `fail`.

Kept apart from `cli/__init__.py` (which imports the command modules) so commands import the group
without an import cycle. Tested through every command's test (tests/cli/).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from metallmix_wandb import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="metallmix-wandb")
def main() -> None:
    """Recommend a pretrained model and hyperparameters for a new dataset from the runs your
    team already has in W&B: no search, explained with SHAP, reasoned by a local LLM.

    \b
    Typical flow:
      metallmix-wandb sweep sweeps/smoke.yaml --offline --count 3
      metallmix-wandb sync --project P --offline-dir wandb
      metallmix-wandb similar --project P --data new_dataset.npz
    """


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear red line on stderr and the exit code: how every command reports bad input."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)
