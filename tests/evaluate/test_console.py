"""evaluate's console tables: names and configs from an imported table are data, printed without escape
sequences, bidi controls or rich markup."""

from __future__ import annotations

import io

from rich.console import Console

from metallmix_wandb.evaluate.console import print_per_dataset, print_summary
from metallmix_wandb.evaluate.records import EvaluationReport, MethodResult

HOSTILE = "[bold red]owned[/] \x1b[2J\x1b]0;title\x07\u202eevil"


def _report() -> EvaluationReport:
    result = MethodResult(dataset="d1", dataset_name=HOSTILE, method="random", family="search",
                          config={"comment": HOSTILE, "lr": 0.1}, metric=0.9, best_metric=0.95, regret=0.05,
                          norm_regret=0.1, percentile=0.8)
    return EvaluationReport(project="p", metric="val/acc", budget=1, seeds=[0], methods=["random"], datasets=["d1"],
                            space={}, results=[result], summary=[], notes=[f"d1 {HOSTILE}: 1 of 20 configs missing"])


def test_imported_names_and_configs_reach_the_terminal_as_plain_text() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200)
    print_summary(console, _report())
    print_per_dataset(console, _report())
    out = buf.getvalue()
    assert "[bold red]owned[/]" in out  # shown as written, not read as markup
    assert not any(c in out for c in ("\x1b", "\x07", "\u202e"))
