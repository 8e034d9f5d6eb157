"""N concurrent `recommend --no-llm` processes on one embedded Qdrant folder (issue 16, item 4): how many
answer, how many fail, and the wall time of the whole batch. Run by hand (2 shared cores: nice it):
`nice -n 10 .venv/bin/python benchmarks/concurrency_bench.py [--n 20] [--runs-per-dataset 30]`.

The knowledge base is the one benchmarks/recommend_bench.py builds (12 synthetic datasets, explained with
the real meta-learner); every process is a fresh `python -m metallmix_wandb.cli recommend` of this
checkout, all started at once."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.recommend_bench import PROJECT, build  # noqa: E402


def run_at_once(n: int, env: dict[str, str], mf: Path) -> list[tuple[int, float, str]]:
    """(exit code, seconds, last stderr line) of each of `n` processes started together."""
    cmd = [sys.executable, "-m", "metallmix_wandb.cli", "recommend", "--project", PROJECT, "--meta-features",
           str(mf), "--no-llm", "--evidence", "--no-log", "--json"]
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for _ in range(n)]

    def finish(p: subprocess.Popen[str]) -> tuple[int, float, str]:
        _, err = p.communicate()
        lines = [line for line in err.strip().splitlines() if line.strip()]
        return p.returncode, time.perf_counter() - start, lines[-1] if lines else ""

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(finish, procs))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = {**build(tmp), "PYTHONPATH": str(ROOT)}
        results = run_at_once(args.n, env, tmp / "mf.json")
        codes = Counter(code for code, _, _ in results)
        walls = [t for _, t, _ in results]
        print(f"{args.n} concurrent `recommend --no-llm`: {codes.get(0, 0)} answered, "
              f"{args.n - codes.get(0, 0)} failed (exit codes {dict(codes)}); batch wall {max(walls):.1f} s, "
              f"process wall min {min(walls):.1f} / median {statistics.median(walls):.1f} s")
        for reason, k in Counter(line for code, _, line in results if code != 0).most_common(3):
            print(f"  {k} x {reason[:200]}")


if __name__ == "__main__":
    main()
