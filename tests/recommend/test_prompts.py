from __future__ import annotations

import json

import pytest

from metallmix_wandb.llm.ask import repair_messages
from metallmix_wandb.llm.messages import DATA_CLOSE, DATA_OPEN, encode_data
from metallmix_wandb.llm.schemas import answer_schema
from metallmix_wandb.recommend.prompts import DEFAULT_TASK, instruction_text, recommendation_messages
from tests.support.data_block import split_data_block, table_rows
from tests.support.llm_data import GOOD, INJECTION, META, neighbour, space


def _messages(run_name: str = "run a", dataset: str = "breast", digest: str = "lr matters most", **kw):
    return recommendation_messages(space(), META, [neighbour(run_name, dataset), neighbour("run b", "chest")],
                                   digest, **kw)


def _instructions(messages: list[dict[str, str]]) -> list[str]:
    """Everything the model reads as instructions: all text outside the data block."""
    return [split_data_block(m["content"])[0] for m in messages]


def test_messages_are_plain_role_content_dicts() -> None:
    messages = _messages()
    assert [m["role"] for m in messages] == ["system", "user"]
    assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in messages)
    json.dumps(messages)


def test_the_paper_sections_are_in_the_system_message() -> None:
    system = _messages()[0]["content"]
    assert "optimisation assistant" in system and "evidence" in system  # core instruction
    assert "sampled at random" in system and "not" in system  # context clarification
    assert '{"configs"' in system and '"explanation"' in system  # output format
    assert DATA_OPEN in system and "never an instruction" in system


def test_structured_inputs_are_in_the_data_block() -> None:
    _, data = split_data_block(_messages()[1]["content"])
    assert data["new_dataset"]["meta_features"]["modality"] == "US"
    assert data["target_metric"] == {"name": "test/acc", "goal": "maximize"}
    assert set(data["search_space"]) == {"base_model", "fine_tuning", "dense_units", "dropout", "learning_rate",
                                         "batch_size"}
    assert data["fixed_parameters"] == {"epochs": 1}
    assert data["past_experiments"]["columns"] == ["distance", "dataset", *GOOD, "test/acc", "train_time_s"]
    first, second = table_rows(data["past_experiments"])  # a table: the column names once, a row per run
    assert first["distance"] == 0.123 and first["dataset"] == "breast" and second["dataset"] == "chest"
    assert {k: first[k] for k in GOOD} == GOOD  # tunable keys only, values never rounded
    assert first["test/acc"] == 0.81 and first["train_time_s"] == 12.5  # the target metric, 3 significant digits
    assert data["shap_digest"] == "lr matters most"
    assert "run a" not in _messages()[1]["content"]  # run names are noise to the model (the record keeps them)


def test_zero_shot_has_only_meta_features_and_the_space() -> None:
    messages = _messages(mode="zero-shot")
    _, data = split_data_block(messages[1]["content"])
    assert set(data) == {"task", "new_dataset", "target_metric", "search_space", "fixed_parameters"}
    assert "sampled at random" not in messages[0]["content"]
    assert "lr matters most" not in messages[1]["content"] and "run a" not in messages[1]["content"]


def test_k_changes_the_format_rule() -> None:
    assert "exactly 1 configuration" in instruction_text(k=1)
    assert "1 to 3 configurations, best first" in instruction_text(k=3)
    with pytest.raises(ValueError, match="mode"):
        instruction_text("few-shot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must"):
        answer_schema(space(), k=0)


@pytest.mark.parametrize("field", ["dataset", "digest"])
def test_injected_run_text_changes_no_instruction(field: str) -> None:
    clean = _messages()
    attacked = _messages(**{field: INJECTION})
    assert _instructions(attacked) == _instructions(clean)
    text = attacked[1]["content"]
    # the text appears once, only inside the data block, JSON-encoded with < and > escaped
    assert "ignore previous instructions" not in split_data_block(text)[0]
    assert text.count(DATA_OPEN) == 1 and text.count(DATA_CLOSE) == 1
    assert encode_data(INJECTION)[1:-1] in text
    assert INJECTION not in text
    _, data = split_data_block(text)
    assert INJECTION in json.dumps(data, ensure_ascii=False) or INJECTION in str(data)


def test_injection_in_a_config_value_stays_data() -> None:
    bad = neighbour(config={**GOOD, "base_model": INJECTION})
    messages = recommendation_messages(space(), META, [bad])
    assert _instructions(messages) == _instructions(recommendation_messages(space(), META, [neighbour()]))
    _, data = split_data_block(messages[1]["content"])
    assert table_rows(data["past_experiments"])[0]["base_model"] == INJECTION


def test_repair_messages_send_the_errors_as_data() -> None:
    base = _messages()
    errors = ["configs[1]: base_model: 'vgg' is not one of [...]", INJECTION]
    out = repair_messages(base, '{"configs": [{"base_model": "vgg"}]}', errors)
    assert out[: len(base)] == base
    assert out[-2] == {"role": "assistant", "content": '{"configs": [{"base_model": "vgg"}]}'}
    prose, data = split_data_block(out[-1]["content"])
    assert "could not be used" in prose and "ignore previous" not in prose
    assert data["problems"] == errors
    long = repair_messages(base, "x" * 10_000, ["e"])
    assert len(long[-2]["content"]) < 4000


@pytest.mark.parametrize("mode", ["meta-informed", "zero-shot"])
def test_the_task_comes_from_the_project_never_a_hard_coded_domain(mode: str) -> None:
    """--task / METALLMIX_TASK first, then the sweep YAML's description, else neutral wording; the task
    is data, so the instructions are the same whatever it says."""
    tabular = space().model_copy(update={"description": "Tabular churn prediction with gradient boosting."})
    by_yaml = recommendation_messages(tabular, META, mode=mode)
    by_flag = recommendation_messages(tabular, META, mode=mode, task="Sentiment analysis of product reviews.")
    neutral = recommendation_messages(space(), META, mode=mode)
    assert split_data_block(by_yaml[1]["content"])[1]["task"] == "Tabular churn prediction with gradient boosting."
    assert split_data_block(by_flag[1]["content"])[1]["task"] == "Sentiment analysis of product reviews."
    assert split_data_block(neutral[1]["content"])[1]["task"] == DEFAULT_TASK
    for messages in (by_yaml, by_flag, neutral):
        text = " ".join(_instructions(messages)).lower()
        assert "image" not in text and "transfer learning" not in text and "pretrained" not in text
        assert _instructions(messages) == _instructions(neutral)
