"""`python -m metallmix_wandb.cli ...`: the same command as `metallmix-wandb` (handy with -X importtime)."""

from metallmix_wandb.cli.commands import main

main(prog_name="metallmix-wandb")
