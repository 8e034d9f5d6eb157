"""W&B's own `sweeps` engine as a test oracle: a sweep config our space writes must pass its schema
check too. Test-only (the package validates configs itself); used by tests/space/test_search_space.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metallmix_wandb.space.search_space import SearchSpaceError
from metallmix_wandb.space.values import plain


def validate_with_sweeps_engine(sweep_config: Mapping[str, Any], allow_deprecated: bool = True) -> bool:
    """Ask the `sweeps` engine's own schema check too; False when `sweeps` is not installed.

    `sweeps` 0.3.0 reports the exponent-based log_uniform / inv_log_uniform / q_log_uniform as
    deprecated (violations); `allow_deprecated` drops those messages since W&B still runs them.
    """
    import copy
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from sweeps.config import schema_violations_from_proposed_config
            from sweeps.params import PARAM_DEPRECATION_MAP
    except ImportError:
        return False
    try:
        violations = list(schema_violations_from_proposed_config(copy.deepcopy(plain(dict(sweep_config)))))
    except Exception as e:  # noqa: BLE001 - the engine raises bare ValueErrors/AssertionErrors
        raise SearchSpaceError("sweep config", f"rejected by the sweeps engine: {e}") from None
    if allow_deprecated:
        notes = tuple(PARAM_DEPRECATION_MAP.values())
        violations = [v for v in violations if not v.endswith(notes)]
    if violations:
        raise SearchSpaceError("sweep config", "rejected by the sweeps engine: " + "; ".join(dict.fromkeys(violations)))
    return True
