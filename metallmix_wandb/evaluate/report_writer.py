"""Render a ReportSpec: a W&B Report (wandb-workspaces) online; offline the spec JSON, one PNG per
panel (matplotlib, Agg) and a small self-contained HTML page that shows them. Tested through
tests/evaluate/test_pipeline.py and test_tune_mode.py (`to_wandb_report`, and `report --offline`)."""

from __future__ import annotations

import html
import json
import warnings
from pathlib import Path
from typing import Any

from metallmix_wandb.evaluate.report_spec import Panel, ReportSpec

SPEC_FILE, HTML_FILE = "report_spec.json", "index.html"


def to_wandb_report(spec: ReportSpec) -> Any:
    """The wandb-workspaces Report object (built offline; `save()` needs a W&B server)."""
    with warnings.catch_warnings():  # its pydantic-v1-style validators warn on import
        warnings.simplefilter("ignore", DeprecationWarning)
        import wandb_workspaces.reports.v2 as wr

    runset = wr.Runset(entity=spec.entity or "", project=spec.project, name="evaluation runs", query="evaluation")
    blocks: list[Any] = [wr.P(spec.description)]
    for section in spec.sections:
        blocks += [wr.H2(section.heading), wr.P(section.text)] if section.text else [wr.H2(section.heading)]
        panels = [wr.BarPlot(title=p.title, metrics=p.wandb_keys, orientation="h") for p in section.panels]
        if panels:
            blocks.append(wr.PanelGrid(runsets=[runset], panels=panels))
    blocks += [wr.H2("Ranked table"), wr.MarkdownBlock(text=markdown_table(spec)),
               wr.PanelGrid(runsets=[runset], panels=[wr.WeavePanelSummaryTable(table_name="evaluation/summary")])]
    return wr.Report(project=spec.project, entity=spec.entity or "", title=spec.title,
                     description=spec.description, blocks=blocks)


def save_wandb_report(spec: ReportSpec) -> str:
    report = to_wandb_report(spec)
    report.save()
    return str(report.url)


def markdown_table(spec: ReportSpec) -> str:
    head = "| " + " | ".join(spec.table_columns) + " |"
    sep = "|" + "---|" * len(spec.table_columns)
    body = ["| " + " | ".join("-" if v is None else str(v) for v in row) + " |" for row in spec.table_rows]
    return "\n".join([head, sep, *body])


def _plot(panel: Panel, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(panel.methods) + 1.2))
    y = list(range(len(panel.methods)))[::-1]
    values = [v or 0.0 for v in panel.values]
    ax.barh(y, values, color="#3b6ea8")
    ax.set_yticks(y, panel.methods, fontsize=9)
    if panel.log_scale and all(v > 0 for v in values):
        ax.set_xscale("log")
    ax.set_xlabel(panel.unit or panel.field)
    ax.set_title(panel.title, fontsize=10)
    for yi, v in zip(y, values, strict=True):
        ax.text(v, yi, f" {v:.3g}", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def write_offline(spec: ReportSpec, folder: Path) -> Path:
    """report_spec.json, panel-*.png and index.html in `folder`; returns the HTML page."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SPEC_FILE).write_text(json.dumps(spec.model_dump(mode="json"), indent=2) + "\n")
    parts = [f"<h1>{html.escape(spec.title)}</h1>", f"<p>{html.escape(spec.description)}</p>"]
    n = 0
    for section in spec.sections:
        parts.append(f"<h2>{html.escape(section.heading)}</h2>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        for panel in section.panels:
            n += 1
            name = f"panel-{n:02d}-{panel.field}.png"
            _plot(panel, folder / name)
            parts.append(f'<figure><img src="{name}" alt="{html.escape(panel.title)}"></figure>')
    head = "".join(f"<th>{html.escape(c)}</th>" for c in spec.table_columns)
    rows = "".join("<tr>" + "".join(f"<td>{'-' if v is None else html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in spec.table_rows)
    parts.append(f"<h2>Ranked table</h2><table><tr>{head}</tr>{rows}</table>")
    if spec.evaluation_run:
        parts.append(f"<p>Evaluation run: <code>{html.escape(spec.evaluation_run)}</code></p>")
    style = ("body{font-family:sans-serif;max-width:960px;margin:2em auto}img{max-width:100%}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(spec.title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")
    out = folder / HTML_FILE
    out.write_text(page, encoding="utf-8")
    return out
