"""Text from outside, made safe to print and to keep (safe_text.py)."""

from __future__ import annotations

import pytest

from metallmix_wandb.safe_text import for_terminal, keep_head, terminal_safe


@pytest.mark.parametrize(("text", "shown"), [
    ("lr \x1b[31mred\x1b[0m ok", "lr red ok"),  # colours
    ("a\x1b[2J\x1b[H\x1b[1Ab", "ab"),  # clear screen, cursor home, cursor up
    ("x\x1b]0;owned\x07y", "xy"),  # window title (OSC to BEL)
    ("\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),  # hyperlink (OSC to ST)
    ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),  # DCS
    ("a\x1bcb", "ab"),  # full reset
    ("a\x9b31mb", "ab"),  # 8-bit CSI
    ("admin\u202e\u2066txt.exe\u2069", "admintxt.exe"),  # bidi override and isolates
    ("\u200fx\u200e\u061c", "x"),  # bidi marks
    ("bell\x07 back\x08 cr\r nul\x00 del\x7f", "bell back cr nul del"),
])
def test_terminal_controls_are_stripped(text: str, shown: str) -> None:
    assert for_terminal(text) == shown


def test_ordinary_text_is_kept() -> None:
    text = "line 1\n\tindented: café, 中文, עברית, emoji \U0001f600, [bold]not markup[/], 100% {json}"
    assert for_terminal(text) == text


def test_every_string_in_a_record_is_cleaned() -> None:
    data = {"a\x1b[1m": ["x\u202ey", ("t\x1b[0m", 3)], "n": 1.5, "none": None}
    assert terminal_safe(data) == {"a": ["xy", ("t", 3)], "n": 1.5, "none": None}


def test_keep_head_says_how_much_was_cut() -> None:
    assert keep_head("short", 10) == "short"
    capped = keep_head("x" * 1_000_000, 100)
    assert capped.startswith("x" * 100) and len(capped) < 200
    assert "999900 more characters of 1000000" in capped
