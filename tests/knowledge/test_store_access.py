"""The embedded folder is held only for a batch and waited for, never failed at once (issue 16, item 4);
a damaged folder is one StoreError naming the file (item 5). Real embedded Qdrant, real processes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from metallmix_wandb.knowledge.qdrant_access import embedded_client
from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.knowledge.scaling import fit_scaler
from metallmix_wandb.knowledge.store import ExperimentStore, StoreError, collection_name, open_client

ROOT = Path(__file__).resolve().parents[2]
EXPS = [Experiment(run_path=f"e/p/{i}", run_id=str(i), dataset=f"d{i % 2}", config={"lr": 0.1},
                    meta_features={"n_instances": 100.0 * (1 + i)}, summary={"test/acc": 0.5}, state="finished")
        for i in range(4)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A synced folder, closed: what a command finds on disk."""
    path = tmp_path / "qdrant"
    with ExperimentStore(open_client(path=path), collection_name("p")) as store:
        scaler = fit_scaler([e.meta_features for e in EXPS])
        store.reset(scaler)
        store.upsert(EXPS, scaler)
    return path


@pytest.fixture
def holder(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `code` open on the folder until its stdin closes."""
    procs: list[subprocess.Popen[str]] = []

    def start(code: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return proc

    yield start  # type: ignore[misc]
    for proc in procs:
        proc.communicate("", timeout=60)


def test_a_store_holds_the_folder_only_inside_a_batch(folder: Path) -> None:
    """Between its reads the folder is free: another Qdrant client opens it (it failed at once before)."""
    store = ExperimentStore(None, collection_name("p"), folder=folder)
    assert [h.experiment.run_id for h in store.search({"n_instances": 100.0}, k=2)] == ["0", "1"]
    QdrantClient(path=str(folder)).close()
    with store.session():
        assert store.count() == 4 and store.scaler() is not None  # one open for the whole batch
        with pytest.raises(RuntimeError, match="already accessed"):
            QdrantClient(path=str(folder))
    QdrantClient(path=str(folder)).close()


def test_a_busy_folder_is_waited_for_then_used(folder: Path, holder) -> None:  # noqa: ANN001
    """Another process holds the package's own lock; released a moment later, the batch goes ahead."""
    proc = holder(f"""
        import sys
        from metallmix_wandb.knowledge.qdrant_access import embedded_client
        with embedded_client({str(folder)!r}):
            print("ready", flush=True)
            sys.stdin.readline()
    """)
    threading.Timer(0.5, lambda: (proc.stdin.write("go\n"), proc.stdin.flush())).start()
    store = ExperimentStore(None, collection_name("p"), folder=folder, wait_s=60)
    assert store.count() == 4


def test_qdrants_own_lock_is_retried_until_free(folder: Path, holder) -> None:  # noqa: ANN001
    """A plain Qdrant client elsewhere (not this package) holds the folder; it is retried, not failed."""
    proc = holder(f"""
        import sys
        from qdrant_client import QdrantClient
        c = QdrantClient(path={str(folder)!r})
        print("ready", flush=True)
        sys.stdin.readline()
        c.close()
        sys.stdin.read()
    """)
    threading.Timer(0.5, lambda: (proc.stdin.write("go\n"), proc.stdin.flush())).start()
    with embedded_client(folder, wait_s=60) as client:
        assert client.count(collection_name("p")).count == 4


@pytest.mark.parametrize("own_lock", [True, False])
def test_a_folder_held_past_the_wait_is_one_clear_error(folder: Path, holder, own_lock: bool) -> None:  # noqa: ANN001
    holder(f"""
        import sys
        from metallmix_wandb.knowledge.qdrant_access import embedded_client
        from qdrant_client import QdrantClient
        held = embedded_client({str(folder)!r}) if {own_lock} else None
        c = held.__enter__() if held else QdrantClient(path={str(folder)!r})
        print("ready", flush=True)
        sys.stdin.read()
    """)
    store = ExperimentStore(None, collection_name("p"), folder=folder, wait_s=0.3)
    with pytest.raises(StoreError, match=r"stayed in use by another process for 0.3 s.*--qdrant-url"):
        store.count()


@pytest.mark.parametrize(("damage", "named", "says"), [
    (lambda q: (q / "meta.json").write_text("garbage{{"), "meta.json", "is damaged (Expecting value"),
    (lambda q: (q / "meta.json").write_text(""), "meta.json", "is damaged (empty)"),
    (lambda q: (q / "meta.json").write_text("{}"), "meta.json", "no 'collections' entry"),
    (lambda q: (q / "collection" / "metallmix__p" / "storage.sqlite").write_bytes(b"\x13" * 4096),
     "storage.sqlite", "is damaged (file is not a database): delete it"),
], ids=["meta-garbage", "meta-empty", "meta-not-qdrant", "sqlite-garbage"])
def test_a_damaged_folder_names_the_file(folder: Path, damage, named: str, says: str) -> None:  # noqa: ANN001
    damage(folder)
    store = ExperimentStore(None, collection_name("p"), folder=folder)
    with pytest.raises(StoreError, match=re.escape(says)) as err:
        store.search({"n_instances": 1.0})
    assert named in str(err.value) and "--qdrant-path" in str(err.value)
