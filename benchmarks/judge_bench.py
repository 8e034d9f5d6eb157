"""Does the embedded judge tell a faithful explanation from a contradicting one? (issue 13 item 5)
Run by hand: `.venv/bin/python benchmarks/judge_bench.py [REPEATS]`.

The same recommendation and evidence (tests/support/judge_cases.py), two explanations of equal length
naming the same values: one states the digest's effects and the run's metric, the other reverses every
effect and invents the metric. The judge (SmolLM2-135M on the embedded server, temperature 0.7) scores
each REPEATS times; the accuracy scores are printed side by side."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metallmix_wandb.llm.client import LLMClient  # noqa: E402
from metallmix_wandb.llm.server import LocalLLMServer  # noqa: E402
from tests.support.judge_cases import accuracy_scores  # noqa: E402


def main(repeats: int) -> None:
    with LocalLLMServer(n_ctx=4096) as server:
        t = time.perf_counter()
        out = accuracy_scores(LLMClient(server.base_url, server.alias), repeats)
        print(json.dumps(out, indent=1))
        print(f"{time.perf_counter() - t:.0f} s, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
