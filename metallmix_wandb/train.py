"""`python -m metallmix_wandb.train`: the program every sweep YAML and Launch job names.

The entrypoint itself lives in `training/entrypoint.py` (tested in tests/training/test_entrypoint.py);
this module only keeps the documented command stable.
"""

from __future__ import annotations

import sys

from metallmix_wandb.training.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
