"""The experiment knowledge base: past runs -> Experiment records (experiments, trajectory) -> Qdrant
(store, sync, similar), and the XGBoost meta-learner + SHAP knowledge fitted on them (meta_learner/).

Extension point: `RunSource` (knowledge/base.py), where `sync` reads runs from; the implementations
are registered once below by name -> "module:attr" and resolved lazily (importing this package stays
light: the CLI's --help must not import wandb or qdrant).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

RUN_SOURCES: dict[str, str] = {
    "offline": "metallmix_wandb.knowledge.runs_offline:OfflineRunSource",
    "online": "metallmix_wandb.knowledge.runs_online:OnlineRunSource",
    "table": "metallmix_wandb.knowledge.table_import:TableRunSource",
}


def run_source(name: str) -> Any:
    """The RunSource class registered as `name` (imported on first use)."""
    module, attr = RUN_SOURCES[name].split(":")
    return getattr(import_module(module), attr)


__all__ = ["RUN_SOURCES", "run_source"]
