"""Loading the stored meta-learner to predict with, without importing scikit-learn.

`import xgboost` runs xgboost/compat.py, which tries `import sklearn` for the package's scikit-learn
wrappers (XGBRegressor & co.); scikit-learn in turn imports scipy.stats and pandas. That was 1.4 s of
the 2.8 s a `recommend --no-llm` took, for wrappers this package never uses: it trains and predicts
with `xgboost.train` and `Booster.inplace_predict` only. So when xgboost is not imported yet, it is
imported while `sklearn` is marked absent (`sys.modules["sklearn"] = None`, which Python documents as
"import fails"); xgboost then sets `compat.SKLEARN_INSTALLED = False` and leaves the wrappers inert.
Even without scikit-learn, xgboost/__init__.py imports xgboost.plotting, which imports xgboost.sklearn,
which imports scipy.special (~0.1 s, the larger half of scipy's cost here; xgboost.core needs only
scipy.sparse). Those imports sit in the package's own `try: ... except ImportError: pass`, so
`xgboost.plotting` is marked absent the same way for the one import: plotting and the wrappers are
skipped as xgboost skips them when their imports fail. Boosters, training and prediction do not change:
the same library code and the same model files (tests/knowledge/meta_learner/test_loader.py compares
against XGBRegressor's predictions in a process that loaded xgboost in full).

The one consequence is process-wide: in a process that loaded xgboost here, `xgboost.XGBRegressor` and
`xgboost.plot_importance` are missing (`from xgboost import XGBRegressor` raises ImportError), until
`import xgboost.sklearn` loads the module explicitly. scikit-learn itself stays importable, and a process
that imported scikit-learn (or xgboost) first gets xgboost exactly as usual.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner


MARKED_ABSENT = ("sklearn", "xgboost.plotting")
"""What `import_xgboost` marks "not installed" while xgboost imports (why: the module docstring)."""


def import_xgboost() -> ModuleType:
    """xgboost, imported without its scikit-learn wrappers and plotting unless xgboost or sklearn is
    loaded already."""
    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        return importlib.import_module("xgboost")
    for name in MARKED_ABSENT:
        sys.modules[name] = None  # type: ignore[assignment]  # "not installed" for this one import
    try:
        return importlib.import_module("xgboost")
    finally:
        for name in MARKED_ABSENT:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def load_learner(folder: Path, n_jobs: int | None = None) -> MetaLearner:
    """`MetaLearner.load`, with xgboost imported the light way first."""
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner

    import_xgboost()
    return MetaLearner.load(folder, n_jobs=n_jobs)
