"""similar: meta-features of a new dataset -> the k nearest experiments in the knowledge base.
Tested through tests/cli/test_knowledge_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from metallmix_wandb.knowledge.store import ExperimentStore
from metallmix_wandb.knowledge.records import MetaValue, Neighbour


def meta_features_for(data: Path | None = None, meta_json: Path | None = None,
                      modality: str | None = None) -> dict[str, MetaValue]:
    """From an image dataset we can open, or from a JSON file for one we cannot."""
    if (data is None) == (meta_json is None):
        raise ValueError("give exactly one of --data PATH or --meta-features FILE.json")
    if meta_json is not None:
        from metallmix_wandb.datasets.meta_features import meta_features_from_json

        try:
            obj = json.loads(Path(meta_json).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read meta-features from {meta_json}: {exc}") from exc
        if not isinstance(obj, dict):
            raise ValueError(f"{meta_json}: expected a JSON object of meta-features, got {type(obj).__name__}")
        return meta_features_from_json(obj)
    from metallmix_wandb.datasets.images import dataset_meta_features, load_image_dataset

    return dataset_meta_features(load_image_dataset(data), modality=modality)


def similar(store: ExperimentStore, meta: dict[str, MetaValue], k: int,
            exclude_datasets: tuple[str, ...] = ()) -> list[Neighbour]:
    return store.search(meta, k=k, exclude_datasets=exclude_datasets)


def exclusion_keys(values: tuple[str, ...]) -> tuple[str, ...]:
    """What a user's --exclude-dataset may mean: the value as logged, its absolute path (runs log the
    path they were given, often resolved), or the dataset's short name."""
    if not values:  # the usual case: nothing to import
        return ()
    from metallmix_wandb.knowledge.experiments import dataset_label

    keys: set[str] = set()
    for v in values:
        keys.update({v, dataset_label(v)})
        if Path(v).exists():
            keys.add(str(Path(v).resolve()))
    return tuple(sorted(keys))
