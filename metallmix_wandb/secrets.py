"""Keeping configured secrets out of everything stored, logged or sent back: `redact`. Pure.

Used where text from outside enters the product: the LLM client's replies and error messages
(llm/client.py: a server that echoes the API key must not get it into `recommendation.json`, the
run's summary or a judge/repair prompt) and the command line W&B records (cli/app.py).

Tested in tests/test_secrets.py and through the commands (tests/cli/test_secrets_cli.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is imported when `redact` runs: cli/app.py reads MASK, and `--help` needs no pydantic
    from pydantic import SecretStr

MASK = "**********"
MIN_SECRET_LEN = 4
"""Shorter values are not masked: replacing every "a" in a reply would destroy it and hide nothing."""


def redact(text: str, secrets: Iterable[SecretStr | str | None]) -> str:
    """`text` with every occurrence of each secret (4 characters or more) replaced by MASK."""
    from pydantic import SecretStr

    values = [s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets]
    for value in sorted((v for v in values if v and len(v) >= MIN_SECRET_LEN), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
