"""History export files: the parquet files wandb-core downloads for `scan_history` (needs pyarrow)."""

from __future__ import annotations

import io
from typing import Any


def have_pyarrow() -> bool:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes | None:
    """A parquet file with one column per history key (`_step` as int64); None without pyarrow.

    A key missing from a row is a null in its column, and wandb-core's reader hands it back as None
    (`{"lr": None}`); whether W&B's own export writes such rows the same way is not verified here."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    keys: list[str] = ["_step"] + sorted({k for row in rows for k in row} - {"_step"})
    columns = {k: [row.get(k) for row in rows] for k in keys}
    table = pa.table({k: pa.array(v, type=pa.int64()) if k == "_step" else pa.array(v)
                      for k, v in columns.items()})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=1000)
    return buf.getvalue()
