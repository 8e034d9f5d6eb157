"""The JSON schemas that constrain an answer of configs, and the prompt paragraph that describes them.

A server that enforces a schema (json_schema, llama.cpp grammars) can only answer in this shape; the
others read `answer_format_rule`, written once here beside the schema so no prompt drifts from the
parser. The judge's schema is the judge's own (`llm/judge.py`). Pure.

Tested in tests/llm/test_schemas.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metallmix_wandb.space.search_space import SearchSpace


def answer_format_rule(how_many: str, explanation: str, each: str = "Each configuration") -> str:
    """The output-format paragraph of every prompt whose reply `answer_schema` validates (recommend,
    tune): the JSON shape and value rule are written once, so no prompt drifts from the parser."""
    return (
        "Output format: reply with one JSON object and nothing else (no prose, no code fences):\n"
        '{"configs": [{"<parameter>": <value>, ...}], "explanation": "<why>"}\n'
        f'- "configs": {how_many}. {each} gives a value for every parameter in the data\'s "search_space" '
        'and no other key; a value must be one of the listed values, or lie between "min" and "max".\n'
        f'- "explanation": {explanation}'
    )


def config_schema(space: SearchSpace) -> dict[str, Any]:
    """The space's strict schema without constants (the validator fills them), unless all are constant."""
    schema = space.json_schema()
    constants = set(space.constants)
    if constants and len(constants) < len(space.params):
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in constants}
        schema["required"] = [k for k in schema["required"] if k not in constants]
    return schema


def text_schema(max_chars: int | None) -> dict[str, Any]:
    """A string, with `maxLength` when a cap is given (see `answer_schema`)."""
    return {"type": "string", "maxLength": max_chars} if max_chars else {"type": "string"}


def answer_schema(space: SearchSpace, k: int = 1, explanation_max_chars: int | None = None) -> dict[str, Any]:
    """{"configs": [1..K configs of the space], "explanation": str}: strict (all keys, nothing extra).

    `configs` comes first so a reply cut short by the token limit still holds whole configs.
    `explanation_max_chars` adds `maxLength`, which llama.cpp grammars enforce (a tiny model otherwise
    rambles to the token limit) but OpenAI's strict mode does not accept: leave it None there.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return {
        "type": "object",
        "properties": {
            "configs": {"type": "array", "items": config_schema(space), "minItems": 1, "maxItems": k},
            "explanation": text_schema(explanation_max_chars),
        },
        "required": ["configs", "explanation"],
        "additionalProperties": False,
    }
