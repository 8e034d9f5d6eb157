"""The issue-13 table from a dev_benchmark.py run: per benchmark and method, median percentile,
validity, explanation rejection rate, judge means and median response time, in markdown. Run by hand:

    .venv/bin/python benchmarks/dev_llm_table.py OUT_DIR [OUT_DIR...] [--benchmarks nasbench201,hpolib,hpobench]

Reads every OUT_DIR/<bench>_llm*.json (one evaluation, or one per dataset with --llm-each) and
<bench>_baselines.json, and summarises their results together (evaluate/records.py), so the table
holds whatever datasets finished."""

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


def per_dataset(results: list[Any]) -> list[str]:
    """Percentile per dataset and method (mean over seeds), to see where a median comes from."""
    methods = list(dict.fromkeys(r.method for r in results))
    datasets = list(dict.fromkeys(r.dataset_name for r in results))
    lines = ["| dataset | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 1)]
    for d in datasets:
        cells = []
        for m in methods:
            pct = [r.percentile for r in results if r.method == m and r.dataset_name == d]
            cells.append(_f(sum(pct) / len(pct)) if pct else "-")
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    from metallmix_wandb.evaluate.records import MethodResult, summarise_methods

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dirs", type=Path, nargs="+")
    parser.add_argument("--benchmarks", default="nasbench201,hpolib,hpobench")
    args = parser.parse_args()
    for bench in args.benchmarks.split(","):
        paths = [p for d in args.out_dirs
                 for p in [*sorted(d.glob(f"{bench}_llm*.json")), d / f"{bench}_baselines.json"] if p.is_file()]
        results = [MethodResult.model_validate(r) for p in paths for r in json.loads(p.read_text())["results"]]
        if results:
            summary = [s.model_dump() for s in summarise_methods(results)]
            datasets = sorted({r.dataset_name for r in results})
            print(f"\n### {bench} ({len(datasets)} datasets: {', '.join(datasets)})\n")
            print("\n".join(table(summary)))
            print("\nPercentile per dataset:\n")
            print("\n".join(per_dataset(results)))


if __name__ == "__main__":
    main()
