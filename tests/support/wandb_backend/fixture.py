"""Start the backend and point the real SDK at it: `running_backend()` and the `wandb_backend` fixture."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.wandb_backend.model import World
from tests.support.wandb_backend.server import Backend

DUMMY_API_KEY = "test" + "0" * 36  # 40 characters, the minimum wandb accepts ("local-" keys count after the prefix)
_ENV_SET = ("WANDB_BASE_URL", "WANDB_API_KEY", "WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR",
            "WANDB_DATA_DIR", "WANDB_SILENT", "WANDB_ENTITY")
_ENV_UNSET = ("WANDB_MODE", "WANDB_PROJECT", "WANDB_RUN_ID", "WANDB_RUN_GROUP", "WANDB_TAGS", "WANDB_LAUNCH",
              "WANDB_SWEEP_ID", "WANDB_CONFIG", "WANDB_LAUNCH_CONFIG_PATH", "WANDB_IDENTITY_TOKEN_FILE",
              "WANDB_APP_URL")


@contextlib.contextmanager
def running_backend(world: World | None = None, root: Path | None = None, *,
                    verbose: bool = False) -> Iterator[Backend]:
    """Start a backend, set the W&B environment for it (online, dummy key, every W&B folder under `root`
    or a temp folder), and restore the environment and stop the server afterwards.

    wandb keeps one wandb-core process per Python process and the settings (base URL, mode) of its first
    session: the session is torn down on entry and on exit, so neither this block nor a later offline
    test sees the other's W&B. Build a fresh `wandb.Api()` inside the block."""
    import wandb

    wandb.teardown()
    with contextlib.ExitStack() as stack:
        stack.callback(wandb.teardown)
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wandb-backend-")))
        for sub in ("dir", "config", "cache", "data"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        backend = stack.enter_context(Backend(world, verbose=verbose))
        values = {"WANDB_BASE_URL": backend.url, "WANDB_API_KEY": DUMMY_API_KEY,
                  "WANDB_DIR": str(root / "dir"), "WANDB_CONFIG_DIR": str(root / "config"),
                  "WANDB_CACHE_DIR": str(root / "cache"), "WANDB_DATA_DIR": str(root / "data"),
                  "WANDB_SILENT": "true", "WANDB_ENTITY": backend.world.default_entity}
        old = {k: os.environ.get(k) for k in (*_ENV_SET, *_ENV_UNSET)}
        os.environ.update(values)
        for k in _ENV_UNSET:
            os.environ.pop(k, None)
        try:
            yield backend
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def wandb_backend_fixture(tmp_path: Path) -> Iterator[Backend]:
    """Body of a pytest fixture: register it with
    `wandb_backend = pytest.fixture(wandb_backend_fixture)` (see the package docstring)."""
    with running_backend(root=tmp_path / "wandb_backend") as backend:
        yield backend


wandb_backend_session_fixture = wandb_backend_fixture
"""The same fixture (kept for tests that call `wandb.init` in the test process): every backend block
tears the W&B session down on entry and exit."""
