"""Loading the stored meta-learner to predict with, without importing scikit-learn.

`import xgboost` runs xgboost/compat.py, which tries `import sklearn` for the package's scikit-learn
wrappers (XGBRegressor & co.); scikit-learn in turn imports scipy.stats and pandas. That was 1.4 s of
the 2.8 s a `recommend --no-llm` took, for wrappers this package never uses: it trains and predicts
with `xgboost.train` and `Booster.inplace_predict` only. So when xgboost is not imported yet, it is
imported while `sklearn` is marked absent (`sys.modules["sklearn"] = None`, which Python documents as
"import fails"); xgboost then sets `compat.SKLEARN_INSTALLED = False` and leaves the wrappers inert.
Boosters, training and prediction do not change: the same library code and the same model files
(tests/knowledge/meta_learner/test_loader.py compares against XGBRegressor's predictions).

The one consequence is process-wide: in a process that loaded xgboost here, `xgboost.XGBRegressor()`
raises ImportError. scikit-learn itself stays importable, and a process that imported scikit-learn (or
xgboost) first gets xgboost exactly as usual.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner


def import_xgboost() -> ModuleType:
    """xgboost, imported without its scikit-learn wrappers unless xgboost or sklearn is loaded already."""
    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        return importlib.import_module("xgboost")
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # "not installed" for this one import
    try:
        return importlib.import_module("xgboost")
    finally:
        if sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]


def load_learner(folder: Path, n_jobs: int | None = None) -> MetaLearner:
    """`MetaLearner.load`, with xgboost imported the light way first."""
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner

    import_xgboost()
    return MetaLearner.load(folder, n_jobs=n_jobs)
