"""The two spaces most space tests use: the project's sweep YAML and one parameter per W&B distribution."""

from __future__ import annotations

import pytest

from metallmix_wandb.space.search_space import SearchSpace
from tests.support.spaces import EVERY_DISTRIBUTION, SWEEP_YAML


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace.from_yaml_text(SWEEP_YAML, "meta_dataset.yaml")


@pytest.fixture(scope="module")
def every() -> SearchSpace:
    return SearchSpace.from_sweep_config({"parameters": {k: v[0] for k, v in EVERY_DISTRIBUTION.items()}})
