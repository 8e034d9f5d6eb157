"""Training: the trainer that makes the meta-dataset (entrypoint: one W&B run per experiment; backbones,
models, loop, experiment, splits), sweeps of it online or offline (offline_sweep, sweep_command), and
W&B Launch of a recommended config (launch_spec, launch). Torch is imported only by models, loop and
experiment, after the entrypoint has checked the config."""
