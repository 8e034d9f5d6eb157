"""`train` and `sweep`: make the meta-dataset, one W&B run per experiment (bodies in training/entrypoint.py
and training/sweep_command.py).
Tested in tests/training/test_offline_sweep.py and test_entrypoint.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from metallmix_wandb.cli.app import main


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def train(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Train one model on one dataset as a W&B run (the sweep and Launch entrypoint).

    Hyperparameters come from the sweep / Launch config and from --key=value arguments; every key
    has a default. `metallmix-wandb train --help` lists them.

    \b
    Examples:
      metallmix-wandb train --dataset=../shared/data/breastmnist_28.npz --base_model=resnet18 --epochs=1
      WANDB_MODE=offline python -m metallmix_wandb.train --dataset=data/x.npz --cv_folds=4
    """
    if any(a in ("-h", "--help") for a in args):
        click.echo(ctx.get_help())
        click.echo()
    from metallmix_wandb.training import entrypoint as entry

    sys.exit(entry.main(list(args)))


@main.command()
@click.argument("sweep_yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--offline", is_flag=True,
              help="No server: W&B's sweep engine runs here and every trial is an offline W&B run.")
@click.option("--count", "-n", type=click.IntRange(min=1),
              help="Trials to run (default: the YAML's run_cap). Online: passed to `wandb agent`.")
@click.option("--project", "-p", help="W&B project (default: the YAML's `project`, else WANDB_PROJECT).")
@click.option("--entity", "-e", help="W&B entity (online only; default WANDB_ENTITY).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Fix a parameter to one value, e.g. --set dataset=data/x.npz --set epochs=1 (repeatable).")
@click.option("--dataset", envvar="METALLMIX_DATASET", type=click.Path(exists=True, path_type=Path),
              help="Shorthand for --set dataset=PATH (env METALLMIX_DATASET).")
@click.option("--seed", type=int, help="Offline: seed the sweep engine, so the same configs come out.")
@click.option("--agent", "run_agent", is_flag=True,
              help="Online: run `wandb agent` here after creating the sweep.")
def sweep(sweep_yaml: Path, offline: bool, count: int | None, project: str | None, entity: str | None,
          sets: tuple[str, ...], dataset: Path | None, seed: int | None, run_agent: bool) -> None:
    """Run a W&B sweep YAML: online with `wandb sweep` + `wandb agent`, or --offline with no server.

    Offline, W&B's own engine (the `sweeps` package: grid, random, bayes; hyperband when the YAML
    has early_terminate) picks each config and every trial runs the YAML's command as `wandb agent`
    would, as an offline run under ./wandb (or $WANDB_DIR/wandb), grouped as sweep-<id>. Failed
    trials are listed with their logs; the exit code is 1 only when every trial failed.

    \b
    Examples:
      metallmix-wandb sweep sweeps/smoke.yaml --offline --count 3
      metallmix-wandb sweep sweeps/baseline_bayes.yaml --offline --dataset data/new.npz
      metallmix-wandb sweep sweeps/meta_dataset.yaml --project medmnist-meta --agent --count 50
    """
    from metallmix_wandb.training.sweep_command import sweep_command

    sys.exit(sweep_command(sweep_yaml, offline=offline, count=count, project=project, entity=entity, sets=sets,
                           dataset=dataset, seed=seed, run_agent=run_agent))
