"""metallmix-wandb: recommend a pretrained model and hyperparameters from the runs a team already has."""

__version__ = "0.1.0"
