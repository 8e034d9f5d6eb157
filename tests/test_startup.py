"""startup.long_lived_imports: what the block imports ends up frozen (out of the collector's scans), the
collector is paused inside and restored after, and garbage from before the block is freed, not kept.
That `recommend` uses it is checked in tests/knowledge/meta_learner/test_loader.py (a fresh process)."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from metallmix_wandb.startup import long_lived_imports


class Node:
    """A cycle-capable object a weak reference can watch."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def unfreeze() -> Iterator[None]:
    """The pytest process is long-lived: whatever a test froze goes back to the collector."""
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def test_the_block_runs_with_the_collector_paused_and_freezes_what_it_made() -> None:
    before = gc.get_freeze_count()
    with long_lived_imports():
        assert not gc.isenabled()
        kept = [Node() for _ in range(100)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(kept)


def test_garbage_from_before_the_block_is_collected_not_kept() -> None:
    old = Node()
    watch = weakref.ref(old)
    del old  # a cycle: only the collector frees it
    with long_lived_imports():
        pass
    assert watch() is None


def test_a_collector_the_caller_turned_off_stays_off_even_when_the_block_raises() -> None:
    gc.disable()
    with pytest.raises(ImportError), long_lived_imports():
        import metallmix_wandb_no_such_module  # noqa: F401
    assert not gc.isenabled()
    assert "metallmix_wandb_no_such_module" not in sys.modules
