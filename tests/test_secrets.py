"""The pure redaction helpers: `secrets.redact` (replies, errors) and `cli.app.redact_argv` (the args W&B
records). End to end in tests/cli/test_secrets_cli.py."""

from __future__ import annotations

from pydantic import SecretStr

from metallmix_wandb.cli.app import redact_argv
from metallmix_wandb.secrets import MASK, redact

KEY = "sk-test-SECRET-1234567890"


def test_redact_masks_every_occurrence_of_each_secret() -> None:
    text = f"your key is {KEY}; again: {KEY}!"
    assert redact(text, [SecretStr(KEY)]) == f"your key is {MASK}; again: {MASK}!"
    assert redact(text, [KEY, None]) == redact(text, [SecretStr(KEY)])


def test_redact_leaves_text_alone_without_a_usable_secret() -> None:
    assert redact("a cat", [None, "", "a"]) == "a cat"  # too short to mask without destroying the text


def test_redact_argv_masks_both_forms_and_nothing_else() -> None:
    argv = ["metallmix-wandb", "recommend", "--api-key", KEY, "--model", "m", f"--api-key={KEY}", "--no-llm"]
    assert redact_argv(argv) == ["metallmix-wandb", "recommend", "--api-key", MASK, "--model", "m",
                                 f"--api-key={MASK}", "--no-llm"]
    assert redact_argv(["x", "--model", "m"]) == ["x", "--model", "m"]
