"""The RunSource registry: every name resolves to a class that implements the protocol `sync` reads."""

from __future__ import annotations

import inspect

import pytest

from metallmix_wandb.knowledge import RUN_SOURCES, run_source
from metallmix_wandb.knowledge.base import RunSource

PROTOCOL_METHODS = [name for name, _ in inspect.getmembers(RunSource, inspect.isfunction)
                    if not name.startswith("_") or name == "__iter__"]


def test_protocol_names_what_sync_calls() -> None:
    assert sorted(PROTOCOL_METHODS) == ["__iter__", "count", "describe", "run_path"]


@pytest.mark.parametrize("name", sorted(RUN_SOURCES))
def test_every_registered_source_implements_the_protocol(name: str) -> None:
    cls = run_source(name)
    assert inspect.isclass(cls) and cls.__name__ == RUN_SOURCES[name].split(":")[1]
    missing = [m for m in PROTOCOL_METHODS if not callable(getattr(cls, m, None))]
    assert not missing, f"{cls.__name__} lacks {missing}"


def test_unknown_source_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        run_source("ftp")
