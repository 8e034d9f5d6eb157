"""Render a ReportSpec: a W&B Report (wandb-workspaces) online; offline the spec JSON, one PNG per
panel (matplotlib, Agg) and a small self-contained HTML page that shows them. Tested at the wire in
tests/evaluate/test_report_online.py (save, entity, run set, title, failures) and offline through
test_pipeline.py and test_tune_mode.py (`report --offline`)."""

from __future__ import annotations

import html
import json
import warnings
from pathlib import Path
from typing import Any

from metallmix_wandb.evaluate.report_spec import Panel, ReportSpec, RunRef, run_refs

SPEC_FILE, HTML_FILE = "report_spec.json", "index.html"


TITLE_MAX = 128  # wandb_workspaces.reports.v2.Report.title is Field(max_length=128): longer fails validation


class ReportSaveError(RuntimeError):
    """The spec cannot become an online report (no evaluation run to read, no entity)."""


def fit_title(title: str, limit: int = TITLE_MAX) -> str:
    """The title cut to what the API accepts, with an ellipsis where it was cut."""
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "\u2026"


def _evaluation_runs(spec: ReportSpec) -> list[RunRef]:
    if refs := run_refs(spec):
        return refs
    raise ReportSaveError("no W&B evaluation run in these results (evaluated with --no-log, or its logging "
                          "failed), so the report's panels would have nothing to read")


def to_wandb_report(spec: ReportSpec) -> Any:
    """The wandb-workspaces Report object (built offline; `save()` needs a W&B server). Its run sets select
    the evaluation run(s) by id (one per entity/project); `spec.entity` must be resolved already."""
    with warnings.catch_warnings():  # its pydantic-v1-style validators warn on import
        warnings.simplefilter("ignore", DeprecationWarning)
        import wandb_workspaces.reports.v2 as wr
        from wandb_workspaces import expr

    groups: dict[tuple[str, str], list[str]] = {}
    for ref in _evaluation_runs(spec):
        where = (ref.entity or spec.entity or "", ref.project or spec.project)
        groups.setdefault(where, []).append(ref.run_id)
    runsets = []
    for (entity, project), ids in groups.items():  # Metric("ID") is the run id (`name` in GraphQL)
        by_id = expr.Metric("ID").isin(ids) if len(ids) > 1 else expr.Metric("ID") == ids[0]
        runsets.append(wr.Runset(entity=entity, project=project, filters=expr.And(by_id),
                                 name="evaluation runs" if len(ids) > 1 else "evaluation run"))
    blocks: list[Any] = [wr.P(spec.description)]
    for section in spec.sections:
        blocks += [wr.H2(section.heading), wr.P(section.text)] if section.text else [wr.H2(section.heading)]
        panels = [wr.BarPlot(title=p.title, metrics=p.wandb_keys, orientation="h") for p in section.panels]
        if panels:
            blocks.append(wr.PanelGrid(runsets=runsets, panels=panels))
    blocks += [wr.H2("Ranked table"), wr.MarkdownBlock(text=markdown_table(spec)),
               wr.PanelGrid(runsets=runsets, panels=[wr.WeavePanelSummaryTable(table_name="evaluation/summary")])]
    return wr.Report(project=spec.project, entity=spec.entity or "", title=fit_title(spec.title),
                     description=spec.description, blocks=blocks)


def save_wandb_report(spec: ReportSpec) -> str:
    """Save the report under `spec.entity`, or the API's default entity (the key's user or team); its URL."""
    _evaluation_runs(spec)  # before any request
    if not spec.entity:
        import wandb

        entity = wandb.Api().default_entity
        if not entity:
            raise ReportSaveError("W&B has no default entity for this API key: pass --entity")
        spec = spec.model_copy(update={"entity": entity})
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
