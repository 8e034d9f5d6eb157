"""The click group every subcommand registers on, and the one way a command fails: `fail`.

The group scrubs secret options (`--api-key`) from `sys.argv` before any command runs: W&B records
`sys.argv` as a run's args (and `wandb sync` uploads them), so a key given on the command line must
not be there when a command calls `wandb.init`.

Kept apart from `cli/__init__.py` (which imports the command modules) so commands import the group
without an import cycle. Tested through every command's test (tests/cli/).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from metallmix_wandb import __version__
from metallmix_wandb.safe_text import for_terminal
from metallmix_wandb.secrets import MASK

SECRET_OPTIONS: tuple[str, ...] = ("--api-key",)
"""Options whose value is a secret: masked in `sys.argv` by the group (`redact_argv`)."""


def redact_argv(argv: Sequence[str], options: Sequence[str] = SECRET_OPTIONS) -> list[str]:
    """`argv` with the value of every secret option masked, `--api-key VALUE` and `--api-key=VALUE`
    alike. Pure."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if name in options:
            out.append(f"{name}={MASK}" if eq else arg)
            hide_next = not eq
            continue
        out.append(arg)
    return out


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
    sys.argv[:] = redact_argv(sys.argv)  # before any command's wandb.init records the args


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear red line on stderr and the exit code: how every command reports bad input. The
    message may quote a server or a run: what a terminal would obey is stripped (safe_text)."""
    click.secho(f"error: {for_terminal(message)}", fg="red", err=True)
    sys.exit(code)
