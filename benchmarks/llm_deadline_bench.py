"""How long one LLM call waits on a server that answers too late or drips its reply (issue 16, item 3),
scaled down from the field (a 300 s timeout, a server answering after 330 s) to seconds. Run by hand,
against any checkout's code: `PYTHONPATH=. .venv/bin/python benchmarks/llm_deadline_bench.py [--timeout 2]`.

The client is the real one (openai over HTTP) with its default retries, against the loopback server of
tests/support/fake_llm.py: `late` answers `timeout + 0.5` s after each request, `drip` sends a good
answer one byte every 0.25 s (about 90 s for the whole body)."""

from __future__ import annotations

import argparse
import json
import time

import openai  # noqa: F401 - imported before the clock starts (seconds on a busy machine)

from metallmix_wandb.llm.client import LLMClient, LLMError
from tests.support.fake_llm import FakeLLMServer, drip, hang

ANSWER = json.dumps({"configs": [{"base_model": "resnet18"}], "explanation": "a good answer"})


def _time(step, timeout: float) -> tuple[float, str]:  # noqa: ANN001
    with FakeLLMServer([step]) as server:
        client = LLMClient(server.base_url, "fake", timeout_s=timeout)
        start = time.perf_counter()
        try:
            client.chat_json([{"role": "user", "content": "hi"}], {"type": "object"})
            outcome = "answered"
        except LLMError as e:
            outcome = f"{type(e).__name__}: {str(e)[:90]}"
        return time.perf_counter() - start, f"{outcome} ({len(server.requests)} requests)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=2.0)
    timeout = parser.parse_args().timeout
    for name, step in (("late", hang(timeout + 0.5)), ("drip", drip(ANSWER, 0.25))):
        seconds, outcome = _time(step, timeout)
        print(f"{name:5} timeout {timeout:g} s: {seconds:6.1f} s  {outcome}")


if __name__ == "__main__":
    main()
