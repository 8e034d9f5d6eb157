"""Print an evaluation like the paper's tables: per dataset (Sel. config, metric, R.T, T.T, judge
scores, rank) and the ranked summary across datasets. Tested through tests/evaluate/test_pipeline.py
(the `evaluate` command prints them)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from metallmix_wandb.evaluate.records import EvaluationReport, MethodResult, dataset_ranks
from metallmix_wandb.numbers import finite_or_none, fixed
from metallmix_wandb.safe_text import for_terminal

JUDGE_SHORT = {"completeness": "Comp", "fluency": "Flu", "conciseness": "Conc", "accuracy": "Cons", "format": "Form"}
"""The paper's column names; its "consistency" is our judge's accuracy-to-evidence criterion."""


def _f(x: float | None, fmt: str = ".3f") -> str:
    """A table cell; NaN (the median of nothing) shows as "-" like a missing number."""
    return fixed(finite_or_none(x), fmt)


def _secs(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "-"
    return f"{x:.2f} s" if x < 100 else f"{x / 3600:.1f} h" if x >= 7200 else f"{x:.0f} s"


def _config(config: dict[str, Any] | None, width: int = 48) -> str:
    if not config:
        return "-"
    text = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())
    return text if len(text) <= width else text[: width - 1] + "…"


def _mean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return sum(xs) / len(xs) if xs else None


def print_summary(console: Any, report: EvaluationReport) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Leave-one-dataset-out on {len(report.datasets)} datasets — {report.metric}, "
                        f"budget {report.budget}, seeds {report.seeds}", title_justify="left")
    llm = any(s.validity_rate is not None for s in report.summary)
    for col in ("Rank", "Method", "Pctl (median)", "Pctl (mean)", report.metric, "Regret (med)", "Top-1",
                "R.T (med)", "T.T (med)", *(("Valid", "Rejected", "Judge") if llm else ()), "Avg rank", "Fail"):
        table.add_column(col, justify="left" if col == "Method" else "right")
    for s in report.summary:
        judge = s.judge.get("mean") if s.judge else None
        extra = (_f(s.validity_rate, ".2f"), _f(s.rejection_rate, ".2f"), _f(judge, ".2f")) if llm else ()
        table.add_row(str(s.rank), Text(s.method), _f(s.median_percentile), _f(s.mean_percentile), _f(s.mean_metric, ".4g"),
                      _f(s.median_regret, ".4g"), _f(s.top1_rate, ".2f"), _secs(s.median_response_s),
                      _secs(s.median_train_time_s), *extra, _f(s.mean_dataset_rank, ".2f"), str(s.failures))
    console.print(table)
    console.print("Pctl: percentile of the chosen config among all configs of the hidden dataset (1 = its best). "
                  "R.T: time to an answer, incl. the training a search needs; T.T: training time of the chosen "
                  "config; Valid: LLM answers valid before repair; Rejected: LLM explanations the code check "
                  "replaced; Judge: mean judge score (0-4).", style="dim")
    for note in report.notes:
        console.print(Text(for_terminal(f"Note: {note}."), style="dim"))


def print_per_dataset(console: Any, report: EvaluationReport) -> None:
    from rich.table import Table
    from rich.text import Text

    ranks = dataset_ranks(report.results)
    cells: dict[str, dict[str, list[MethodResult]]] = defaultdict(lambda: defaultdict(list))
    for r in report.results:
        cells[r.dataset_name][r.method].append(r)
    for dataset, methods in cells.items():
        table = Table(title=Text(for_terminal(dataset)), title_justify="left")
        judged = any(r.judge for rs in methods.values() for r in rs)
        for col in ("Method", "Sel. config", report.metric, "Pctl", "R.T", "T.T",
                    *(JUDGE_SHORT.values() if judged else ()), "Rank"):
            table.add_column(col, justify="left" if col in ("Method", "Sel. config") else "right")
        order = sorted(methods, key=lambda m: ranks[(m, methods[m][0].dataset)])
        for method in order:
            rs = methods[method]
            first = rs[0]
            judge = [_f(_mean([r.judge.get(c) for r in rs]), ".1f") for c in JUDGE_SHORT] if judged else []
            note = "" if all(r.ok for r in rs) else " (failed)"
            table.add_row(Text(method + note), Text(for_terminal(_config(first.config)) + (" …" if len(rs) > 1 else "")),
                          _f(_mean([r.metric for r in rs]), ".4g"), _f(_mean([r.percentile for r in rs])),
                          _secs(_mean([r.response_s for r in rs])), _secs(_mean([r.train_time_s for r in rs])),
                          *judge, _f(ranks[(method, first.dataset)], ".1f"))
        console.print(table)


def print_curves(console: Any, report: EvaluationReport) -> None:
    """The few-trial view (`--method tune`): median best-so-far percentile after N trials."""
    from rich.table import Table
    from rich.text import Text

    ns = sorted({c.n for c in report.curves})
    table = Table(title=f"Best-so-far after N trials — median percentile over datasets (seeds {report.seeds})",
                  title_justify="left")
    table.add_column("Method", justify="left")
    for n in ns:
        table.add_column(f"N={n}", justify="right")
    table.add_column("Datasets", justify="right")
    methods = list(dict.fromkeys(c.method for c in report.curves))
    cell = {(c.method, c.n): c for c in report.curves}
    last = ns[-1]
    methods.sort(key=lambda m: -cell[(m, last)].median_percentile if (m, last) in cell else 0.0)
    for m in methods:
        table.add_row(Text(m), *[_f(cell[(m, n)].median_percentile) if (m, n) in cell else "-" for n in ns],
                      str(max(c.datasets for c in report.curves if c.method == m)))
    console.print(table)


def print_held_out(console: Any, report: EvaluationReport) -> None:
    """One held-out dataset in lookup mode: each pick's rank in its full table and what it cost."""
    from rich.text import Text

    from metallmix_wandb.evaluate.held_out import held_out, held_out_lines

    statement = held_out(report)
    if statement is not None:
        for line in held_out_lines(statement):
            console.print(Text(for_terminal(line)), highlight=False, soft_wrap=True)
