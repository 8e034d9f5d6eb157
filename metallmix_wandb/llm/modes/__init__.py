"""LLM response modes: how a request asks the server for JSON that follows a schema, and how to tell
that the server rejected that way of asking. This is the extension point for a new server quirk: one
module implementing `ResponseMode` (modes/base.py) and one line in `RESPONSE_MODES` below.

`RESPONSE_MODES` is listed once, in the client's fallback order: the standard form first, then
llama-cpp-python's own, then plain text with the schema in the prompt (no server rejects that). Each
entry names its implementation as "module:attribute", imported only when the client first uses it.
Tested in tests/llm/test_modes.py.
"""

from __future__ import annotations

import importlib
from functools import cache

from metallmix_wandb.llm.modes.base import ModeRequest, ResponseMode, rejects_response_format

RESPONSE_MODES: dict[str, str] = {
    "json_schema": "metallmix_wandb.llm.modes.json_schema:JsonSchemaMode",
    "json_object": "metallmix_wandb.llm.modes.json_object:JsonObjectMode",
    "text": "metallmix_wandb.llm.modes.text:TextMode",
}

__all__ = ["RESPONSE_MODES", "ModeRequest", "ResponseMode", "rejects_response_format", "response_mode"]


@cache
def response_mode(name: str) -> ResponseMode:
    """The mode registered under `name` (KeyError for an unknown one)."""
    module, attr = RESPONSE_MODES[name].split(":")
    mode: ResponseMode = getattr(importlib.import_module(module), attr)()
    return mode
