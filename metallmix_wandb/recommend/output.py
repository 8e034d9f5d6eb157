"""After a recommendation exists: log it, launch it, show it. Only validated configs get here.

rich is imported by the functions that print (~50 ms): `recommend --json` prints JSON only.

Tested through the command (tests/cli/test_recommend_cli.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from metallmix_wandb.numbers import fixed
from metallmix_wandb.recommend.advice import Advice, advise
from metallmix_wandb.recommend.record import Recommendation
from metallmix_wandb.safe_text import terminal_safe
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from rich.console import Console

    from metallmix_wandb.knowledge.meta_learner.artifact import Knowledge


def advice_for(rec: Recommendation, space: SearchSpace, settings: Any, opts: dict[str, Any],
               knowledge: Knowledge) -> Advice:
    """recommend/advice.py's advice, with the dataset, queue and job this command was given."""
    from metallmix_wandb.recommend.pipeline import recommendable_space

    data = str(Path(opts["data"]).resolve()) if opts.get("data") else None
    return advise(rec, knowledge.quality, knowledge.summary, recommendable_space(space), project=settings.project,
                  entity=settings.entity, data=data, artifact=opts.get("dataset_artifact"), queue=opts.get("queue"),
                  job=opts.get("job"))


def deliver(rec: Recommendation, space: SearchSpace, settings: Any, opts: dict[str, Any], err: Console,
            knowledge: Knowledge | None = None) -> None:
    out: dict[str, Any] = {"recommendation": rec.model_dump(mode="json")}
    advice = advice_for(rec, space, settings, opts, knowledge) if knowledge is not None else None
    if advice is not None:
        out["advice"] = advice.model_dump(mode="json")
    out["evidence_read"] = not opts.get("no_llm") or bool(opts.get("evidence"))
    logged = None
    if not opts.get("no_log"):
        from metallmix_wandb.recommend.log import log_recommendation

        try:
            logged = log_recommendation(rec, project=settings.project, entity=settings.entity)
            out["wandb_run"] = logged.model_dump()
        except Exception as exc:  # logging must not lose the answer: say so and go on
            from rich.text import Text

            err.print(Text(f"W&B run not logged: {type(exc).__name__}: {exc}", style="yellow"))
    if opts.get("queue") or opts.get("run_local"):
        out["launch"] = _launch(rec, space, settings, opts, logged, err)
    if opts.get("as_json"):
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        from rich.console import Console

        shown = Recommendation.model_validate(terminal_safe(rec.model_dump()))  # LLM and run text, printable
        safe_advice = Advice.model_validate(terminal_safe(advice.model_dump())) if advice is not None else None
        show(shown, Console(), logged.run_path if logged else None, safe_advice, evidence_read=out["evidence_read"])
    if out.get("launch", {}).get("failed"):
        sys.exit(out["launch"].get("exit_code") or 3)


def _launch(rec: Recommendation, space: SearchSpace, settings: Any, opts: dict[str, Any], logged: Any,
            err: Console) -> dict[str, Any]:
    from rich.text import Text

    from metallmix_wandb.training.launch import LaunchError, enqueue, run_local, write_spec
    from metallmix_wandb.training.launch_spec import build_launch_spec
    from metallmix_wandb.recommend.pipeline import recommendable_space

    group = f"recommendation-{logged.run_id}" if logged else "recommendation"
    dataset = opts.get("dataset_artifact") or (str(Path(opts["data"]).resolve()) if opts.get("data") else None)
    spec = build_launch_spec(rec.config, recommendable_space(space), dataset=dataset, project=settings.project,
                             entity=settings.entity, job=opts.get("job"), queue=opts.get("queue"), group=group,
                             tags=["metallmix-recommendation", rec.source],
                             notes=f"metallmix-wandb recommendation ({rec.source})"
                                   + (f", logged as {logged.run_path}" if logged else ""))
    folder = Path(logged.run_dir) if logged else settings.cache_dir / "launch"
    spec_path = write_spec(spec, folder, f"{group}")
    result: dict[str, Any] = {"spec": str(spec_path)}
    if opts.get("queue"):
        try:
            result["queued"] = enqueue(spec, spec_path)
            err.print(Text(f"enqueued on {spec.queue}: {result['queued']}"))
        except LaunchError as exc:
            err.print(Text(f"not enqueued: {exc}", style="yellow"))
            result.update(failed=True, error=str(exc), exit_code=3)
    if opts.get("run_local"):
        if dataset is None:
            err.print(Text("--run-local needs --data (the images to train on)", style="yellow"))
            return {**result, "failed": True, "exit_code": 2}
        with err.status("training the recommended config locally (Launch contract)"):
            local = run_local(spec_path, spec)
        result["local"] = local.model_dump()
        if local.exit_code != 0:
            err.print(Text(f"local training failed (exit {local.exit_code}):\n{local.log_tail}", style="red"))
            result.update(failed=True, exit_code=local.exit_code)
        else:
            err.print(Text(f"trained locally in group {group} (spec {spec_path})"))
    return result


def show(rec: Recommendation, console: Console, run_path: str | None, advice: Advice | None = None,
         evidence_read: bool = True) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    cfg = Table.grid(padding=(0, 2))
    for k, v in rec.config.items():
        cfg.add_row(Text(k, style="bold"), Text(str(v)))
    p = rec.predicted
    head = Text(f"source: {rec.source}" + (f" ({rec.llm_model})" if rec.llm_model else ""))
    console.print(Panel(cfg, title="recommended config", subtitle=head))
    if advice is not None:
        show_verdict(advice, console)
    if rec.choice_set is not None:
        show_choice_set(rec, console)
    elif rec.source == "meta-learner" and len(rec.candidates) > 1:
        show_portfolio(rec, console)
    elif rec.llm_first_choice and rec.llm_first_choice != rec.config:
        console.print(Text(f"LLM's first choice (ranked lower by the meta-learner): {rec.llm_first_choice}"))
    console.print(Text(f"predicted: percentile {p.score:.0%} (80% interval {p.low:.0%}-{p.high:.0%}), "
                       f"{rec.metric} ~ {p.raw_metric:.3f}, training ~ {p.train_time_s:.0f} s"))
    console.print(Panel(Text(rec.explanation or "(no explanation)"), title="explanation"))
    if rec.evidence:
        ev = Table("#", "dataset", "distance", rec.metric, "train s", title="evidence (similar experiments)")
        for i, e in enumerate(rec.evidence, 1):
            ev.add_row(str(i), Text(e.dataset), f"{e.distance:.3f}", fixed(e.metric), fixed(e.train_time_s, ".0f"))
        console.print(ev)
    elif not evidence_read:
        console.print(Text("similar past runs not read (add --evidence to list them)", style="dim"))
    if advice is not None:
        show_commands(advice, console)
    if rec.judge_scores:
        console.print(Text("judge (0-4): " + ", ".join(
            f"{k} {v:.2f}" for k, v in rec.judge_scores.items() if v is not None)
            + (f"; format (code) {rec.format_score_code}" if rec.format_score_code is not None else "")))
    console.print(Text("timings: " + ", ".join(f"{k} {v:.2f}" for k, v in rec.timings.items() if k not in SPEED)))
    speed = speed_line(rec)
    if speed:
        console.print(Text(speed))
    for w in rec.warnings:
        console.print(Text(f"warning: {w}", style="yellow"))
    if run_path:
        console.print(Text(f"logged: {run_path}", style="dim"))


SPEED = ("prompt_tok_s", "completion_tok_s", "prompt_evaluated", "generated")
"""Timings that are speeds and the token counts behind them (the embedded server's, from its log), shown
on their own line."""


def speed_line(rec: Recommendation) -> str | None:
    """`LLM speed: prompt 512 tok/s, completion 48 tok/s; server read 1,874 prompt tokens (the rest came
    from its prompt cache), wrote 233; tokens: prompt 1,480, ...`, when measured."""
    speeds = [f"{k.split('_')[0]} {rec.timings[k]:.0f} tok/s" for k in SPEED[:2] if k in rec.timings]
    if not speeds:
        return None
    line = "LLM speed: " + ", ".join(speeds)
    if "prompt_evaluated" in rec.timings and "generated" in rec.timings:
        line += (f"; server read {rec.timings['prompt_evaluated']:,.0f} prompt tokens (the rest came from its "
                 f"prompt cache), wrote {rec.timings['generated']:,.0f}")
    tokens = ", ".join(f"{k} {v:,}" for k, v in rec.tokens.items())
    return line + (f"; tokens: {tokens}" if tokens else "")


def show_portfolio(rec: Recommendation, console: Console) -> None:
    """`--no-llm --candidates N`: the N configs to try, in order; the first is the recommended one."""
    from rich.table import Table
    from rich.text import Text

    table = Table("#", "percentile", "80% interval", "train s", "config",
                  title=f"{len(rec.candidates)} configs to try, in order (the meta-learner's portfolio: diverse "
                  "configs covering the best of similar past datasets)")
    for i, s in enumerate(rec.candidates, 1):
        table.add_row(str(i), f"{s.score:.0%}", f"{s.low:.0%}-{s.high:.0%}", f"{s.train_time_s:.0f}",
                      Text(", ".join(f"{k}={v}" for k, v in s.config.items())))
    console.print(table)


def show_choice_set(rec: Recommendation, console: Console) -> None:
    """The candidates the meta-learner offered, which one the LLM picked, and whether it stood."""
    from rich.table import Table
    from rich.text import Text

    cs = rec.choice_set
    assert cs is not None
    table = Table("#", "percentile", "80% interval", "train s", "config", "SHAP", title="candidates offered")
    for c in cs.offered:
        s = c.scored
        mark = " <- LLM" if cs.pick == c.id else ""
        table.add_row(f"{c.id}{mark}", f"{s.score:.0%}", f"{s.low:.0%}-{s.high:.0%}", f"{s.train_time_s:.0f}",
                      Text(", ".join(f"{k}={v}" for k, v in s.config.items())), Text("; ".join(c.reasons)))
    console.print(table)
    verdict = "overruled" if cs.overruled else ("stands" if cs.pick is not None else "no usable answer")
    pick = "-" if cs.pick is None else ("its own config" if cs.pick == 0 else f"#{cs.pick}")
    console.print(Text(f"LLM's pick: {pick} ({verdict}): {cs.reason}",
                       style="yellow" if cs.overruled or cs.pick is None else ""))


def show_verdict(advice: Advice, console: Console) -> None:
    """How good the pick is likely to be, plainly, and the three SHAP reasons for it."""
    from rich.table import Table
    from rich.text import Text

    console.print(Text(advice.headline, style="bold green" if advice.confident else "bold yellow"))
    if advice.quality:
        console.print(Text(f"meta-learner: {advice.quality}", style="dim"))
    if advice.reasons:
        console.print(Text(f"why (SHAP over {advice.runs} past runs):"))
        why = Table.grid(padding=(0, 1))
        for i, reason in enumerate(advice.reasons, 1):
            why.add_row(f"  {i}.", Text(reason))
        console.print(why)


def show_commands(advice: Advice, console: Console) -> None:
    """The exact commands to train the config here or enqueue it, unwrapped so they copy whole."""
    from rich.text import Text

    labels = {"train_here": "train it here", "own_trainer": "its config, for your own trainer",
              "log_dataset": "for a queue, log the dataset once",
              "enqueue": "enqueue it on W&B Launch"}
    console.print(Text("next:", style="bold"))
    for key, label in labels.items():
        if key in advice.commands:
            console.print(Text(f"  {label}:"))
            console.print(Text(f"    {advice.commands[key]}"), soft_wrap=True)
    if advice.note:
        console.print(Text(f"  {advice.note}", style="dim"))
