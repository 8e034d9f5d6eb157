"""Wall time of the whole `metallmix-wandb recommend` command (CLI start included), issue 5 targets:
< 1 s with no LLM, < 15 s with the local LLM on 2 cores. Run by hand:
`.venv/bin/python benchmarks/recommend_bench.py [--llm]`.

The knowledge base holds 12 synthetic datasets x 30 runs (the structure of tests/support/synthetic.py),
upserted into embedded Qdrant and explained with the real meta-learner; the command runs as a user
would run it, in a fresh process each time."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metallmix_wandb.knowledge.store import ExperimentStore, collection_name, open_client  # noqa: E402
from metallmix_wandb.knowledge.scaling import fit_scaler  # noqa: E402
from metallmix_wandb.knowledge.meta_learner.explain import explain  # noqa: E402
from metallmix_wandb.settings import Settings  # noqa: E402
from tests.support import synthetic  # noqa: E402

PROJECT = "bench-rec"
CLI = str(Path(sys.executable).with_name("metallmix-wandb"))


def build(tmp: Path) -> dict[str, str]:
    synth = synthetic.experiments(n_datasets=12, runs_per_dataset=30, seed=0)
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp), "WANDB_SILENT": "true",
           "METALLMIX_CACHE_DIR": str(tmp / "cache"), "METALLMIX_QDRANT_PATH": str(tmp / "q")}
    with ExperimentStore(open_client(path=tmp / "q"), collection_name(PROJECT)) as store:
        scaler = fit_scaler(list(synth.metas.values()))
        store.reset(scaler)
        store.upsert(synth.experiments, scaler)
        explain(store, Settings(project=PROJECT, cache_dir=tmp / "cache"), space=synth.space, log_to_wandb=False)
    (tmp / "mf.json").write_text(json.dumps({"n_instances": 4000, "n_classes": 5, "modality": "CT",
                                             "imbalance_ratio": 3.0}))
    return env


def timed(cmd: list[str], env: dict[str, str], n: int) -> tuple[list[float], dict]:
    walls, last = [], {}
    for _ in range(n):
        t = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - t)
        last = json.loads(out.stdout)["recommendation"]
    return walls, last


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = build(tmp)
        base = [CLI, "recommend", "--project", PROJECT, "--meta-features", str(tmp / "mf.json"), "--json"]
        t = time.perf_counter()
        subprocess.run([CLI, "--help"], env=env, capture_output=True, check=True)
        print(f"CLI start (--help): {time.perf_counter() - t:.2f} s")
        for label, extra in (("no LLM, not logged", ["--no-llm", "--no-log"]), ("no LLM, logged offline", ["--no-llm"])):
            walls, rec = timed(base + extra, env, 5)
            print(f"{label}: median {statistics.median(walls):.2f} s, min {min(walls):.2f} s over 5 "
                  f"(pipeline {rec['timings']['total_s'] * 1000:.0f} ms, retrieval {rec['timings']['retrieval_s'] * 1000:.1f} ms)")
        if "--llm" in sys.argv:
            from metallmix_wandb.llm.server import LocalLLMServer

            t = time.perf_counter()
            with LocalLLMServer(n_ctx=8192) as server:
                print(f"local server start: {time.perf_counter() - t:.1f} s")
                cmd = base + ["--base-url", server.base_url, "--model", server.alias, "--judge-repeats", "1",
                              "--fallback", "meta-learner", "--no-log"]
                for label, extra in (("local LLM, k=8, judged", []), ("local LLM, k=4, no judge", ["-k", "4", "--no-judge"])):
                    walls, rec = timed(cmd + extra, env, 2)
                    print(f"{label}: median {statistics.median(walls):.1f} s over 2 (llm {rec['timings'].get('llm_s', 0):.1f} s, "
                          f"judge {rec['timings'].get('judge_s', 0):.1f} s, tokens {rec['tokens']}, source {rec['source']})")


if __name__ == "__main__":
    main()
