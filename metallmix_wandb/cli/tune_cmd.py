"""`tune`: few-trial tuning that continues where `recommend` stops (issue 7).
The body is tune/command.py; tested in tests/cli/test_tune_cli.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.cli.options import (
    check_dataset_choice,
    dataset_options,
    knowledge_options,
    llm_timeout_option,
    open_store,
    task_option,
)


@main.command()
@knowledge_options
@dataset_options("Meta-features as JSON (the trials then need --queue: there are no images to train on here).")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Sweep YAML of the search space (its constants, e.g. epochs, hold for every trial).")
@click.option("--budget", type=click.IntRange(min=1), required=True, help="Trials in all, recommend's answer included.")
@click.option("--target", type=float, help="Stop once a trial reaches this metric value.")
@click.option("--model", help="LLM name on the endpoint (env METALLMIX_LLM_MODEL).")
@click.option("--base-url", help="OpenAI-compatible endpoint (default: the embedded demo model).")
@click.option("--api-key", envvar="METALLMIX_LLM_API_KEY", help="Endpoint key (env; never logged).")
@llm_timeout_option
@task_option
@click.option("--no-llm", is_flag=True, help="No LLM: each next trial is the refitted surrogate's best untried config.")
@click.option("--candidates", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Configs the LLM proposes per trial; the surrogate picks among them.")
@click.option("--objective", type=click.Choice(["accuracy", "time"]), default="accuracy", show_default=True,
              help="time: penalise configs the training-time model predicts to be slow.")
@click.option("--max-train-time", type=click.FloatRange(min=0, min_open=True),
              help="Drop candidates predicted to train longer than this many seconds.")
@click.option("--queue", help="Run each trial on this W&B Launch queue (needs a W&B server).")
@click.option("--job", help="Launch job for --queue (default ENTITY/PROJECT/metallmix-train:latest).")
@click.option("--run-local", is_flag=True, help="Train each trial here through the Launch contract (the default with --data).")
@click.option("--trial-timeout", type=click.FloatRange(min=1),
              help="Seconds before a trial counts as crashed (with --queue: 6 h by default).")
@click.option("--resume", is_flag=True, help="Continue the last tune of this project, data, space and objective.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def tune(**opts: Any) -> None:
    """Few-trial tuning: recommend's answer is trial 1; each next trial is proposed from the finished
    trials' training curves (Trajectory Context Summarizer), the knowledge-base evidence and the SHAP
    digest, by a local LLM ranked by the refitted meta-learner, or by the meta-learner alone.

    \b
    Examples:
      metallmix-wandb tune --project medmnist-meta --data new.npz --space sweeps/meta_dataset.yaml --budget 10
      metallmix-wandb tune -p medmnist-meta --data new.npz --space sweeps/smoke.yaml --budget 5 --no-llm \\
          --objective time --max-train-time 60
      metallmix-wandb tune -p medmnist-meta --data new.npz --space sweeps/smoke.yaml --budget 8 --resume
    """
    from rich.console import Console

    from metallmix_wandb.tune.command import run_command

    err = Console(stderr=True)
    if opts["queue"] and opts["run_local"]:
        fail("give --queue or --run-local, not both")
    check_dataset_choice(opts)
    if not opts["queue"] and not opts["data"] and not opts["dataset_artifact"]:
        fail("training the trials here needs --data or --dataset-artifact (with only --meta-features, pass --queue)")
    if opts["no_llm"] and (opts["model"] or opts["base_url"]):
        fail("--no-llm contradicts --model/--base-url")
    code = run_command(opts, err, open_store)
    sys.exit(code)
