"""The answer's JSON schema: strict, bounded, and the optional caps llama.cpp grammars enforce."""

from __future__ import annotations

import json

import pytest

from metallmix_wandb.llm.judge import judge_schema
from metallmix_wandb.llm.messages import describe_space
from metallmix_wandb.llm.schemas import answer_schema, config_schema
from tests.support.llm_data import GOOD, space
from tests.support.require import require_module


def test_answer_schema_is_strict_and_bounded() -> None:
    schema = answer_schema(space(), k=3)
    assert schema["required"] == ["configs", "explanation"] and schema["additionalProperties"] is False
    configs = schema["properties"]["configs"]
    assert configs["maxItems"] == 3 and configs["minItems"] == 1
    item = configs["items"]
    assert item["additionalProperties"] is False and set(item["required"]) == set(item["properties"])
    assert "epochs" not in item["properties"]  # constants are filled by the validator
    assert item["properties"]["base_model"]["enum"] == ["resnet18", "mobilenet_v2", "efficientnet_b0"]


def test_answer_schema_accepts_a_good_answer_and_rejects_a_bad_one() -> None:
    jsonschema = require_module("jsonschema")
    schema = answer_schema(space(), k=2)
    jsonschema.validate({"configs": [GOOD], "explanation": "x"}, schema)
    for bad in ({"configs": [], "explanation": "x"}, {"configs": [GOOD] * 3, "explanation": "x"},
                {"configs": [{**GOOD, "base_model": "vgg"}], "explanation": "x"}, {"configs": [GOOD]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_optional_length_limits_for_llama_cpp_grammars() -> None:
    assert "maxLength" not in json.dumps(answer_schema(space())) + json.dumps(judge_schema())
    assert answer_schema(space(), explanation_max_chars=300)["properties"]["explanation"]["maxLength"] == 300
    assert judge_schema(rationale_max_chars=80)["properties"]["rationale"] == {"type": "string", "maxLength": 80}


def test_config_schema_keeps_an_all_constant_space() -> None:
    from metallmix_wandb.space.search_space import SearchSpace

    only = SearchSpace.from_yaml_text("parameters: {epochs: {value: 1}}")
    assert config_schema(only)["required"] == ["epochs"]
    assert describe_space(only) == {}
