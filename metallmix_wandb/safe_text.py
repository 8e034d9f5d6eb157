"""Text from outside (an LLM's reply, a server's error, run names and notes) made safe to show or keep.

`for_terminal` strips what a terminal would obey instead of print: escape sequences (colours, cursor
moves, window titles, hyperlinks), other control characters, and the bidi controls that make text
read differently from what it is (Trojan Source); newlines and tabs stay. `terminal_safe` does it to
every string inside a record before it is shown. `keep_head` caps a stored text (a raw LLM reply):
the head is kept and the cut is said, with how much. JSON output needs neither: `json.dumps` escapes
every control and non-ASCII character. Pure.

Tested in tests/test_safe_text.py and through `recommend` (tests/recommend/test_hostile_replies.py).
"""

from __future__ import annotations

import re
from typing import Any

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erase
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, hyperlinks (to BEL or ST)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # any other escape (charset switches, RIS...)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # an 8-bit CSI
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""C0 (but tab and newline), DEL, C1, and the bidi marks, embeddings, overrides and isolates."""


def for_terminal(text: str) -> str:
    """`text` without escape sequences, control characters or bidi controls (newlines and tabs kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def terminal_safe(data: Any) -> Any:
    """`data` (strings, dicts, lists, tuples, anything else) with every string, keys included, `for_terminal`."""
    if isinstance(data, str):
        return for_terminal(data)
    if isinstance(data, dict):
        return {terminal_safe(k): terminal_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(terminal_safe(v) for v in data)
    return data


def keep_head(text: str, max_chars: int) -> str:
    """`text`, or its first `max_chars` characters and a note of how many more were cut."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}\n...[cut: {len(text) - max_chars} more characters of {len(text)}]"
