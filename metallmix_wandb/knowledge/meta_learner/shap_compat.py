"""A shim between shap and XGBoost's saved model format, used while a TreeExplainer is built
(model.py `shap_values`). An adapter: it patches shap, so it is no pure module."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def shap_xgboost_compat() -> Iterator[None]:
    """shap <= 0.49 reads XGBoost's `base_score` as a float, but XGBoost >= 3.1 stores it as a
    list ('[5E-1]'): shap/shap#4184, fixed in shap 0.50, which needs numpy 2 (we pin numpy < 2 for
    sweeps 0.3.0). While a TreeExplainer is built, normalise the decoded model to the old form."""
    import shap.explainers._tree as tree_mod

    original = tree_mod.decode_ubjson_buffer

    def decode(fd: Any) -> Any:
        model = original(fd)
        param = model.get("learner", {}).get("learner_model_param", {})
        base = param.get("base_score")
        if isinstance(base, str) and base.startswith("["):
            param["base_score"] = base.strip("[]").split(",")[0]
        return model

    tree_mod.decode_ubjson_buffer = decode
    try:
        yield
    finally:
        tree_mod.decode_ubjson_buffer = original
