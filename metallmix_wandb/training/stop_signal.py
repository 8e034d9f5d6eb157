"""A stop request from outside (SIGTERM: a sweep's early termination, `wandb agent` stopping a run).

Torch-free so the entrypoint can install it before the heavy imports.
Tested through tests/training/test_entrypoint.py.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from typing import Any


@dataclass
class StopFlag:
    """Checked by the training loop, which ends after the current epoch once it is set."""

    requested: bool = False

    def on_sigterm(self) -> StopFlag:
        """Set the flag on SIGTERM (instead of dying) and say so on stderr; returns self."""

        def handler(signum: int, frame: Any) -> None:
            self.requested = True
            print("stop requested (SIGTERM): finishing after this epoch", file=sys.stderr, flush=True)

        signal.signal(signal.SIGTERM, handler)
        return self
