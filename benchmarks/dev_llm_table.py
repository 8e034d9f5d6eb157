"""The issue-13 table from a dev_benchmark.py run: per benchmark and method, median percentile,
validity, explanation rejection rate, judge means and median response time, in markdown. Run by hand:

    .venv/bin/python benchmarks/dev_llm_table.py OUT_DIR [--benchmarks nasbench201,hpolib,hpobench]

Reads OUT_DIR/<bench>_llm.json (and <bench>_baselines.json when present); a method in both keeps the
LLM evaluation's row."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

CRITERIA = ("accuracy", "completeness", "conciseness", "fluency", "format", "mean")


def _f(x: Any, fmt: str = ".3f") -> str:
    return "-" if x is None or x != x else format(x, fmt)


def table(summary: list[dict[str, Any]]) -> list[str]:
    head = ["method", "datasets", "median pctl", "validity", "rejected", *[f"judge {c}" for c in CRITERIA],
            "median response s", "failures"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summary:
        judge = s.get("judge") or {}
        cells = [s["method"], str(s["datasets"]), _f(s["median_percentile"]), _f(s.get("validity_rate"), ".2f"),
                 _f(s.get("rejection_rate"), ".2f"), *[_f(judge.get(c), ".2f") for c in CRITERIA],
                 _f(s["median_response_s"], ".1f"), str(s["failures"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--benchmarks", default="nasbench201,hpolib,hpobench")
    args = parser.parse_args()
    for bench in args.benchmarks.split(","):
        rows: dict[str, dict[str, Any]] = {}
        for name in (f"{bench}_baselines.json", f"{bench}_llm.json"):
            path = args.out_dir / name
            if path.is_file():
                report = json.loads(path.read_text())
                rows.update({s["method"]: s for s in report["summary"]})
        if rows:
            summary = sorted(rows.values(), key=lambda s: -s["median_percentile"])
            print(f"\n### {bench}\n")
            print("\n".join(table(summary)))


if __name__ == "__main__":
    main()
