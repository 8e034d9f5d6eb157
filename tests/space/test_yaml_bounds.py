"""YAML parsing is bounded (issue 16, item 6): an alias bomb, a recursive alias or a huge file is one
short error, exit 2 from the CLI, never seconds of work or megabytes of message."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError
from metallmix_wandb.training.offline_sweep import SweepError, load_sweep_config

LEVELS = "abcdefgh"
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip(LEVELS, LEVELS[1:])
) + "parameters:\n  lr: {values: *h}\n"


def test_an_alias_bomb_is_refused_with_one_short_line() -> None:
    assert len(BOMB) < 600
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_yaml_text(BOMB, "bomb.yaml")
    assert "aliases are expanded" in str(info.value) and len(str(info.value)) < 300


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(SearchSpaceError, match="recursive alias"):
        SearchSpace.from_yaml_text("parameters: &p\n  lr: {values: [1, 2]}\n  self: *p\n", "loop.yaml")


def test_ordinary_aliases_still_read() -> None:
    text = "common: &v {values: [16, 32]}\nparameters:\n  batch_size: *v\n  width: *v\n"
    assert SearchSpace.from_yaml_text(text).params["width"].values == [16, 32]


def test_a_file_past_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("parameters:\n  lr: {value: 1}\n" + "#" * 1_000_000 + "\n")
    with pytest.raises(SearchSpaceError, match="too large"):
        SearchSpace.from_yaml(big)
    with pytest.raises(SweepError, match="too large"):
        load_sweep_config(big)


def test_a_huge_value_in_an_error_is_capped() -> None:
    text = "parameters:\n  lr: {distribution: nope, values: [" + ", ".join(["x" * 50] * 20000) + "]}\n"
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_yaml_text(text)
    assert len(str(info.value)) < 1200


def test_the_sweep_command_refuses_a_bomb_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    with pytest.raises(SweepError):
        load_sweep_config(path)
    result = CliRunner().invoke(main, ["sweep", "--offline", "--count", "1", str(path)])
    assert result.exit_code == 2, result.output
    assert "aliases are expanded" in result.output and len(result.output) < 400
