"""The `<data>` block: any text round-trips, and nothing in it can close the block."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from metallmix_wandb.llm.messages import DATA_CLOSE, DATA_OPEN, data_block, shared_table, sig3
from tests.support.data_block import split_data_block, table_rows


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_any_text_round_trips_through_the_data_block(text: str) -> None:
    block = data_block({"name": text, "items": [text, {"k": text}]})
    assert block.count(DATA_CLOSE) == 1 and block.endswith(DATA_CLOSE)
    assert re.search(r"[<>&]", block[len(DATA_OPEN): -len(DATA_CLOSE)]) is None
    _, data = split_data_block(block)
    assert data == {"name": text, "items": [text, {"k": text}]}


def test_data_block_is_json_safe_for_nan_and_odd_values() -> None:
    _, data = split_data_block(data_block({"x": float("nan"), "y": [float("inf"), 1e-5], "z": object}))
    assert data["x"] is None and data["y"] == [None, 1e-5] and isinstance(data["z"], str)


def test_a_column_every_row_shares_is_said_once() -> None:
    rows = [[0.73, "synth_005", "resnet50", 0.586], [0.73, "synth_005", "mobilenet_v2", 0.377],
            [0.73, "synth_005", "resnet50", 0.544]]
    out = shared_table(["distance", "dataset", "base_model", "test/acc"], rows)
    assert out["columns"] == ["base_model", "test/acc"] and out["every_row"] == {"distance": 0.73, "dataset": "synth_005"}
    assert table_rows(out) == [dict(zip(["distance", "dataset", "base_model", "test/acc"], r)) for r in rows]
    assert shared_table(["a", "b"], [[1, 2], [1, 2]])["columns"] == ["a", "b"]  # 2 rows: kept as they are
    assert shared_table(["id", "b"], [[1, 2], [1, 2]], keep=("id",), min_rows=2)["columns"] == ["id"]
    assert shared_table(["a"], [[1], [1.0], [1]])["columns"] == ["a"]  # 1 and 1.0 read alike but are not the same
    block = data_block({"t": out})
    assert '"every_row":{"distance":0.73,"dataset":"synth_005"},"rows":[' in block
    assert split_data_block(block)[1]["t"] == out


def test_a_measured_whole_number_loses_its_point_zero() -> None:
    assert (sig3(60.0), sig3(1.0), sig3(12.54), sig3(1234.5), sig3(7)) == (60, 1, 12.5, 1230, 7)
    assert isinstance(sig3(60.0), int) and sig3(float("nan")) is None
