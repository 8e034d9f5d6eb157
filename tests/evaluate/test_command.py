"""The `evaluate` command's option parsing and LLM endpoints (no server, no knowledge base)."""

from __future__ import annotations

import click
import pytest

from metallmix_wandb.evaluate.command import llm_endpoints, parse_baselines, parse_seeds
from metallmix_wandb.settings import Settings


class _Quiet:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def print(self, text: str) -> None:
        self.lines.append(text)


def test_seeds_are_a_count_or_a_list() -> None:
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("0,5,9") == [0, 5, 9] and parse_seeds("4,") == [4]
    with pytest.raises(click.BadParameter, match="comma-separated list of integers"):
        parse_seeds("x")


def test_baselines_are_registered_names_or_none() -> None:
    assert parse_baselines("random, tune") == ["random", "tune"] and parse_baselines("none") == []
    with pytest.raises(click.BadParameter, match=r"unknown baseline\(s\) \['randon'\]"):
        parse_baselines("random,randon")


def test_models_without_an_endpoint_are_refused_before_any_server_starts() -> None:
    console = _Quiet()
    with pytest.raises(click.UsageError, match="pass --base-url too"):
        with llm_endpoints(Settings(llm_base_url=None), ["x"], False, None, console):  # type: ignore[arg-type]
            pass
    assert console.lines == []  # the embedded-model notice never printed: nothing was started


def test_each_model_on_the_endpoint_with_one_judge() -> None:
    settings = Settings(llm_base_url="http://127.0.0.1:9/v1", llm_api_key="k")
    with llm_endpoints(settings, ["a", "b"], False, "j", _Quiet()) as (llms, demo):  # type: ignore[arg-type]
        assert not demo and [e.name for e in llms] == ["a", "b"]
        assert all(e.judge_name == "j" and e.judge_client is llms[0].judge_client for e in llms)
    with llm_endpoints(settings, [], False, None, _Quiet()) as (llms, demo):  # type: ignore[arg-type]
        assert [e.name for e in llms] == ["default"] and llms[0].judge_client is None
    with llm_endpoints(settings, ["a"], True, None, _Quiet()) as (llms, demo):  # type: ignore[arg-type]
        assert llms == [] and not demo
