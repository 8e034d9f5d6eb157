"""Reading a prompt's `<data>` block back (the inverse of `llm/messages.py::data_block`), for tests
that check what a prompt holds and that nothing in the data leaks into its instructions."""

from __future__ import annotations

import json
import re
from typing import Any

_BLOCK = re.compile(r"^<data>\n(.*)\n</data>$", re.MULTILINE | re.DOTALL)


def split_data_block(text: str) -> tuple[str, Any]:
    """(the text with the data block removed, the decoded data).

    A block is `<data>` and `</data>` each on a line of its own (a mention of the tags in prose is not one).
    """
    match = _BLOCK.search(text)
    if match is None:
        return text, None
    return text[: match.start()] + text[match.end():], json.loads(match.group(1))


def table_rows(table: Any) -> list[dict[str, Any]]:
    """A data-block table (`llm/messages.py::table`) as one dict per row, keyed by its columns, with the
    values every row shares (`every_row`) filled in."""
    every = table.get("every_row", {})
    return [{**every, **dict(zip(table["columns"], row, strict=True))} for row in table["rows"]]
