"""Reading a chat-completion body leniently (llm/reply.py): every shape gives text or a ReplyShapeError."""

from __future__ import annotations

import json

import pytest

from metallmix_wandb.llm.reply import ReplyShapeError, content_text, read_completion
from tests.support.fake_llm import completion

ANSWER = json.dumps({"configs": [{"a": 1}], "explanation": "x"})


def _body(**changes: object) -> dict:
    body = completion(ANSWER)
    for path, value in changes.items():
        where: dict = body
        *keys, last = path.split("__")
        for key in keys:
            where = where[key] if key != "choice" else where["choices"][0]
        where[last] = value
    return body


def test_content_parts_are_joined() -> None:
    parts = [{"type": "text", "text": ANSWER[:9]}, {"type": "image_url", "image_url": {"url": "x"}},
             {"type": "text", "text": ANSWER[9:]}]
    assert read_completion(_body(choice__message__content=parts)).text == ANSWER
    assert content_text(["a", {"text": "b"}, 3]) == "ab" and content_text([]) == ""


@pytest.mark.parametrize(("content", "text"), [(42, "42"), ({"configs": []}, '{"configs": []}'), (None, ""),
                                               ([1, 2], "[1, 2]"), (True, "true")])
def test_other_content_becomes_its_json_for_the_parser(content: object, text: str) -> None:
    assert read_completion(_body(choice__message__content=content)).text == text


def test_bad_metadata_is_ignored_not_fatal() -> None:
    body = _body(model=123, choice__finish_reason=5)
    body["usage"] = {"prompt_tokens": "many", "completion_tokens": float("nan")}
    fields = read_completion(body)
    assert (fields.text, fields.model, fields.finish_reason) == (ANSWER, None, None)
    assert (fields.prompt_tokens, fields.completion_tokens) == (0, 0)
    assert read_completion({**_body(), "usage": "lots"}).prompt_tokens == 0
    assert read_completion(_body()).prompt_tokens == 50


@pytest.mark.parametrize("body", [[], "text", 5, {}, {"choices": []}, {"choices": [3]}, {"choices": [{"message": "hi"}]},
                                  {"choices": "x"}])
def test_no_message_is_a_shape_error(body: object) -> None:
    with pytest.raises(ReplyShapeError, match="no message"):
        read_completion(body)
