"""How often the embedded model's explanation fails the code check (recommend/explanation_check.py),
and why. Run by hand: `.venv/bin/python benchmarks/explanation_bench.py [N_DATASETS]`.

Same knowledge base as recommend_bench.py (12 synthetic datasets x 30 runs, the real meta-learner);
`recommend` runs in-process with the embedded SmolLM2 server, as the CLI runs it for the demo
(explanation capped at 400 characters, the LLM choosing inside the confidence set, no judge), over new
datasets drawn at random, once with the explanation in a second plain-text call and once inside the
choice's JSON: `[N_DATASETS] [text|json|both]`."""

from __future__ import annotations

import collections
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.recommend_bench import PROJECT, build  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.artifact import load_knowledge  # noqa: E402
from metallmix_wandb.knowledge.store import ExperimentStore  # noqa: E402
from metallmix_wandb.llm.client import LLMClient  # noqa: E402
from metallmix_wandb.llm.server import RESPONSE_MODE, LocalLLMServer  # noqa: E402
from metallmix_wandb.recommend.pipeline import RecommendRequest, recommend  # noqa: E402
from metallmix_wandb.settings import Settings  # noqa: E402


def main(n: int, modes: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = build(tmp)
        os.environ.update({k: v for k, v in env.items() if k.startswith(("WANDB", "METALLMIX"))})
        settings = Settings(project=PROJECT, cache_dir=tmp / "cache", qdrant_path=tmp / "q")
        knowledge = load_knowledge(PROJECT, settings.cache_dir)
        with LocalLLMServer(n_ctx=4096, log_path=tmp / "llm.log", ready_timeout_s=180) as server, \
                ExperimentStore.from_settings(settings) as store:
            llm = LLMClient(server.base_url, server.alias, first_mode=RESPONSE_MODE)
            for mode in modes:
                rng = random.Random(0)  # the same new datasets for each mode
                rows, reasons = [], collections.Counter()
                for i in range(n):
                    meta = {"n_instances": rng.choice([500, 2000, 8000]), "n_classes": rng.randint(2, 10),
                            "modality": rng.choice(["CT", "US", "MRI", "XR"]),
                            "imbalance_ratio": rng.choice([1.0, 3.0])}
                    req = RecommendRequest(judge=False, fallback="meta-learner", explanation_max_chars=400, seed=i,
                                           explanation=mode)
                    t = time.perf_counter()
                    rec = recommend(meta, knowledge.space, store, knowledge, req, llm, None, (server.alias, None))
                    row = {"mode": mode, "i": i, "source": rec.source, "s": round(time.perf_counter() - t, 1),
                           "tokens": rec.tokens, "rejected": rec.explanation_rejected,
                           "llm_explanation": rec.llm_explanation}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    for r in (rec.explanation_rejected or "").split("; "):
                        if r:
                            reasons[r.split(" (")[0].split(":")[0]] += 1
                answered = [r for r in rows if r["source"] == "llm"]
                rejected = [r for r in answered if r["rejected"]]
                print(f"{mode}: answered by the LLM (pick stood): {len(answered)}/{n}; explanation rejected: "
                      f"{len(rejected)}/{len(answered)}; reasons: {dict(reasons)}", flush=True)


if __name__ == "__main__":
    which = sys.argv[2] if len(sys.argv) > 2 else "both"
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6, ["text", "json"] if which == "both" else [which])
