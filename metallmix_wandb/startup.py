"""Start-up of a short command: the garbage collector kept off the objects that imports make.

A command's imports (about 600 modules for `recommend`: numpy, scipy.sparse, xgboost, pydantic and
its schemas) make objects that stay alive until the process ends, yet CPython's cyclic garbage
collector scans all of them again on every full collection while the imports go on, and again at
interpreter shutdown. That was 0.3 s of the 1.1 s a `recommend --no-llm --no-log` took as a
process (benchmarks/cli_startup_bench.py). `long_lived_imports` pauses the collector while a block
imports, then moves every tracked object to the permanent generation with `gc.freeze` (the standard
library's way to exempt long-lived start-up state from collections), so later collections, the last
ones at shutdown included, scan only what the command allocates afterwards.

What it costs: the collector never looks at a frozen object again, so a reference cycle among objects
alive when the block ends, once dropped, is kept until the process ends (reference counting still frees
everything outside cycles, and the collector is on again for what is allocated after the block). In a
command's process those objects live until exit anyway; in a long process that runs commands in-process
(a pytest run) a dropped cycle is memory held until that process ends. The block starts with a full
collection (cheap in a fresh process), so garbage earlier work left is freed rather than frozen. A
collector the caller had turned off stays off.
Pure (standard library only). Tested in tests/test_startup.py.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def long_lived_imports() -> Iterator[None]:
    """Run a block of imports with the collector paused, then freeze what is alive (see the module
    docstring); the collector's previous on/off state is restored even if the block raises."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
