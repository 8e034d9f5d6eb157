"""Prompt-reading and generation speed of SmolLM2-135M (llama-cpp-python, in-process) for a few server
settings (n_threads, n_batch), to pick the embedded server's. Run by hand:
`.venv/bin/python benchmarks/llm_settings_bench.py [PROMPT_TOKENS]`. The load average is printed with
each row: on a shared machine the numbers say more about the neighbours than about the settings."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import llama_cpp  # noqa: E402

from metallmix_wandb.llm.server import find_model_path  # noqa: E402


def main(n_prompt: int) -> None:
    words = ("distance dataset base_model resnet50 0.608 18.5 learning_rate 0.001 percentile 0.911 " * 400).split()
    for threads in (1, 2):
        for batch in (128, 512):
            llm = llama_cpp.Llama(str(find_model_path()), n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                                  n_batch=batch, verbose=False)
            tokens = llm.tokenize(" ".join(words).encode())[:n_prompt]
            t = time.perf_counter()
            llm.eval(tokens)
            prompt_s = time.perf_counter() - t
            t = time.perf_counter()
            out = llm.create_completion(llm.detokenize(tokens).decode(errors="ignore"), max_tokens=32,
                                        temperature=0.0)
            gen_s = time.perf_counter() - t  # the prompt is cached: this is generation
            n_gen = out["usage"]["completion_tokens"]
            print(f"threads {threads} n_batch {batch}: prompt {len(tokens) / prompt_s:.0f} tok/s, "
                  f"generation {n_gen / gen_s:.1f} tok/s (load {os.getloadavg()[0]:.1f})", flush=True)
            del llm


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 512)
