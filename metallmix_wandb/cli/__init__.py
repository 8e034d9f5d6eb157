"""The `metallmix-wandb` command. Each subcommand lives in its own module and imports heavy
libraries (wandb, qdrant, torch, xgboost) inside its function body, so `--help` starts fast."""

from __future__ import annotations

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


def _register() -> None:
    from metallmix_wandb.cli import knowledge  # noqa: F401  (sync, similar)
    from metallmix_wandb.cli import explain_cmd  # noqa: F401
    from metallmix_wandb.cli import train_cmds  # noqa: F401
    from metallmix_wandb.cli import llm_cmds  # noqa: F401  (llm serve, llm status)
    from metallmix_wandb.cli import recommend_cmd  # noqa: F401  (recommend, judge)
    from metallmix_wandb.cli import import_cmd  # noqa: F401  (import)
    from metallmix_wandb.cli import evaluate_cmd  # noqa: F401  (evaluate)
    from metallmix_wandb.cli import report_cmd  # noqa: F401  (report)
    from metallmix_wandb.cli import tune_cmd  # noqa: F401  (tune)


_register()
