"""Read and write result tables: CSV, JSON Lines and Parquet, with the line number of every row.

CSV is read with the standard `csv` module (not pandas) so a row's number is its physical line in
the file and values are typed one cell at a time: "32" -> 32, "1e-3" -> 0.001, "true" -> True,
"" -> missing. A JSONL line that is not a JSON object is a bad row with its number, not an abort.
Parquet rows are numbered from 1 in file order (there are no lines).
Tested through tests/cli/test_import_cli.py.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from metallmix_wandb.knowledge.table_rows import BadRow
from metallmix_wandb.space.values import parse_number

FORMATS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}


class TableReadError(ValueError):
    """The file cannot be read as a table at all."""


class ReadTable(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: str
    format: str
    header: list[str]
    rows: list[tuple[int, dict[str, Any]]]
    bad: list[BadRow]


def table_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TableReadError(f"{path}: unknown table format '{path.suffix}' (use .csv, .jsonl or .parquet)")
    return fmt


def cell(text: str) -> Any:
    """One CSV cell as the value it spells."""
    s = text.strip()
    if not s:
        return None
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    number = parse_number(s)
    return s if number is None else number


def read_table(path: Path) -> ReadTable:
    path = Path(path)
    if not path.is_file():
        raise TableReadError(f"table not found: {path}")
    fmt = table_format(path)
    reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[fmt]
    header, rows, bad = reader(path)
    return ReadTable(path=str(path), format=fmt, header=header, rows=rows, bad=bad)


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[BadRow]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows, bad = [], []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise TableReadError(f"{path}: empty file") from None
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue  # a blank line is not a row
            if len(cells) != len(header):
                bad.append(BadRow(line=line, problems=[f"{len(cells)} cells, the header has {len(header)}"]))
                continue
            rows.append((line, {h: cell(c) for h, c in zip(header, cells, strict=True)}))
    return header, rows, bad


def _read_jsonl(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[BadRow]]:
    rows, bad, header = [], [], {}
    with path.open(encoding="utf-8") as fh:
        for line, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                bad.append(BadRow(line=line, problems=[f"not valid JSON ({exc.msg})"]))
                continue
            if not isinstance(obj, dict):
                bad.append(BadRow(line=line, problems=[f"not a JSON object ({type(obj).__name__})"]))
                continue
            obj = _flatten(obj)
            header.update(dict.fromkeys(obj))
            rows.append((line, obj))
    return list(header), rows, bad


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"meta": {"n": 1}} -> {"meta/n": 1}: nested objects read like W&B keys."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key.split("/")[0] in ("meta", "summary", "config"):
            out.update(_flatten(v, f"{key}/"))
        else:
            out[key] = v
    return out


def _read_parquet(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[BadRow]]:
    pq = _pyarrow_parquet()
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise TableReadError(f"{path}: not a readable Parquet file ({exc})") from exc
    records = table.to_pylist()
    return list(table.column_names), [(i, r) for i, r in enumerate(records, 1)], []


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise TableReadError("Parquet needs pyarrow: pip install pyarrow") from None
    return pq


def write_table(path: Path, records: Sequence[Mapping[str, Any]] | Any) -> Path:
    """Write records (a list of dicts, or a pandas DataFrame) in the format the suffix names."""
    import pandas as pd

    path = Path(path)
    fmt = table_format(path)
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame.from_records(list(records))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return path


def read_frame(path: Path, columns: Sequence[str] | None = None) -> Any:
    """The whole table as a pandas DataFrame (for lookup tables of a quarter million rows, where
    row-by-row parsing would be slow); JSON Lines and CSV go through pandas too."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise TableReadError(f"table not found: {path}")
    fmt = table_format(path)
    if fmt == "parquet":
        return pd.read_parquet(path, columns=list(columns) if columns else None)
    if fmt == "csv":
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",",
                           usecols=list(columns) if columns else None)
    return pd.read_json(path, lines=True)
