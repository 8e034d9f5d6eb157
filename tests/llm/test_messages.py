"""The `<data>` block: any text round-trips, and nothing in it can close the block."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from metallmix_wandb.llm.messages import DATA_CLOSE, DATA_OPEN, data_block
from tests.support.data_block import split_data_block


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
