"""What `recommend` tells a user to act on: how good the pick is likely to be, in words (with a plain
warning when the interval is too wide to rely on, or the meta-learner has not ranked held-out datasets
better than chance); the three reasons from the SHAP summary the digest is written from; and the exact
commands that train the config here or enqueue it on W&B Launch. recommend/output.py prints it, and
`--json` carries it as "advice". Pure: the records, the space and the Launch spec only.
Tested in tests/recommend/test_advice.py.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.meta_learner.quality import LodoQuality
from metallmix_wandb.knowledge.meta_learner.shap_summary import ShapSummary
from metallmix_wandb.numbers import short
from metallmix_wandb.recommend.candidates import top_params, value_effect
from metallmix_wandb.recommend.record import Recommendation, ScoredConfig
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.training.launch_spec import DEFAULT_JOB_NAME, TRAINER_PARAMS, build_launch_spec

WIDE = 0.5
"""An ~80% interval wider than half the percentile scale says little about where the config will land."""
MIN_DATASETS = 5
"""Leave-one-dataset-out over fewer datasets measures little: 2 folds can show Spearman 0.94 by luck."""
REASONS = 3
DATA_PLACEHOLDER = "PATH/TO/DATA"


class Advice(BaseModel):
    headline: str = Field(description="the predicted percentile and its interval in words, with any caveat")
    top_percent: int = Field(description="predicted to be in the top N% of configs for a dataset like this")
    interval_top_percent: tuple[int, int] = Field(description="the ~80% interval, as top N% (best end first)")
    confident: bool = Field(description="narrow interval and a meta-learner that ranked held-out datasets well")
    caveat: str | None = Field(None, description="why not to rely on the prediction, in one sentence")
    runs: int = Field(description="past runs the meta-learner learned from")
    datasets: int
    quality: str = Field("", description="the meta-learner's leave-one-dataset-out quality, in one line")
    reasons: list[str] = Field(description="the top SHAP parameters: the chosen value's effect in past runs")
    commands: dict[str, str] = Field(description="train_here, enqueue (and log_dataset when a queue needs it)")
    note: str = ""


def top_percent(percentile: float) -> int:
    """A percentile within the dataset (1 = its best config) as 'top N%', N at least 1."""
    return max(1, math.ceil(round((1.0 - percentile) * 100, 6)))


def _span(a: int, b: int) -> str:
    return f"top {a}%" if a == b else f"top {a}–{b}%"


def caveat_of(predicted: ScoredConfig, quality: LodoQuality) -> str | None:
    """One plain sentence when the prediction should not be relied on; None when it can."""
    counts = f"{quality.runs} runs over {quality.datasets} dataset{'s' if quality.datasets != 1 else ''}"
    if not quality.measured:
        return f"too few runs to be confident: {counts}, so how well the meta-learner carries over to a new " \
               "dataset could not be measured"
    if quality.spearman is not None and quality.spearman <= 0:
        return f"not reliable yet: on held-out datasets the meta-learner ranked configs no better than chance " \
               f"(Spearman {quality.spearman:+.2f}; {counts})"
    if quality.datasets < MIN_DATASETS:
        return f"too few runs to be confident: {counts}, so its held-out quality rests on {quality.datasets} " \
               f"dataset{'s' if quality.datasets != 1 else ''}"
    if predicted.high - predicted.low > WIDE:
        return f"too few runs to be confident: {counts}"
    return None


def headline(predicted: ScoredConfig, caveat: str | None) -> str:
    top = top_percent(predicted.score)
    span = _span(top_percent(predicted.high), top_percent(predicted.low))
    if caveat is None:
        return f"likely in the top {top}% of configs for a dataset like this; 80% interval {span}"
    return f"predicted in the top {top}% of configs for a dataset like this (80% interval {span}); {caveat}"


def reasons(config: Mapping[str, Any], summary: ShapSummary | None, tunable: list[str], n: int = REASONS) -> list[str]:
    """For the `n` most influential parameters (mean |SHAP|): what the chosen value did in past runs."""
    out = []
    for p in top_params(summary, tunable, n):
        feature = summary.feature(p) if summary else None
        effect = value_effect(feature, config.get(p)) if feature else None
        value = short(config.get(p))
        if effect is None:
            out.append(f"{p} = {value}: no past run had this value, so SHAP has no evidence on it")
            continue
        line = (f"{p} = {value}: {effect.mean_shap * 100:+.0f} percentile points in past runs with this value "
                f"(mean SHAP, {effect.count} run{'s' if effect.count != 1 else ''})")
        if feature is not None and feature.best is not None and feature.best not in (effect.value, value):
            line += f"; best value seen: {feature.best}"
        out.append(line)
    return out


def ours(config: Mapping[str, Any]) -> bool:
    """Whether `metallmix-wandb train` reads every key of the config (else it came from another trainer)."""
    return set(config) <= TRAINER_PARAMS


def commands(config: Mapping[str, Any], space: SearchSpace, *, project: str, entity: str | None,
             data: str | None, artifact: str | None, queue: str | None, job: str | None) -> dict[str, str]:
    """Copy-paste commands: train the config here (the training entrypoint, as a W&B run of the project)
    and enqueue it (`wandb launch` with exactly the overrides `recommend --queue` pushes)."""
    env = f"WANDB_PROJECT={shlex.quote(project)}" + (f" WANDB_ENTITY={shlex.quote(entity)}" if entity else "")
    dataset = data or artifact or DATA_PLACEHOLDER
    args = " ".join(shlex.quote(f"--{k}={v}") for k, v in config.items())
    if ours(config):
        out = {"train_here": f"{env} metallmix-wandb train {shlex.quote('--dataset=' + dataset)} {args}"}
    else:  # our trainer would ignore these keys: hand over the config itself
        out = {"own_trainer": json.dumps(dict(config), default=str)}
    remote = artifact or f"wandb-artifact://{entity or 'ENTITY'}/{project}/DATASET:latest"
    spec = build_launch_spec(config, space, dataset=remote, project=project, entity=entity, job=job, queue=queue)
    job = spec.job or f"ENTITY/{project}/{DEFAULT_JOB_NAME if ours(config) else 'YOUR_TRAINER_JOB'}:latest"
    out["enqueue"] = " ".join([
        "wandb launch", "-p", shlex.quote(project), *(["-e", shlex.quote(entity)] if entity else []),
        "-q", shlex.quote(queue or "QUEUE"), "-j", shlex.quote(job),
        "-c", shlex.quote(json.dumps({"overrides": spec.overrides}, separators=(",", ":"))),
    ])
    if artifact is None:
        # a queue's machine reads the dataset from W&B, not from this disk: log it once first
        where = f"--project {shlex.quote(project)}" + (f" --entity {shlex.quote(entity)}" if entity else "")
        path = shlex.quote(data or DATA_PLACEHOLDER)
        out["log_dataset"] = f"metallmix-wandb dataset log {path} --name DATASET {where}"
    return out


def advise(rec: Recommendation, quality: LodoQuality, summary: ShapSummary | None, space: SearchSpace, *,
           project: str, entity: str | None = None, data: str | None = None, artifact: str | None = None,
           queue: str | None = None, job: str | None = None) -> Advice:
    """The advice for a recommendation; `space` is the recommendable space (no `dataset` parameter)."""
    p = rec.predicted
    caveat = caveat_of(p, quality)
    return Advice(
        headline=headline(p, caveat), top_percent=top_percent(p.score),
        interval_top_percent=(top_percent(p.high), top_percent(p.low)), confident=caveat is None, caveat=caveat,
        runs=quality.runs, datasets=quality.datasets, quality=quality.line(),
        reasons=reasons(rec.config, summary, [n for n in space.tunable if n in rec.config]),
        commands=commands(rec.config, space, project=project, entity=entity, data=data, artifact=artifact,
                          queue=queue, job=job),
        note=("or let `recommend` do it: add --run-local --data PATH (trains here through the Launch contract), "
              "or --queue QUEUE --dataset-artifact REF") if ours(rec.config) else
             ("its parameters are not those of `metallmix-wandb train`: run it with your own trainer, or "
              "enqueue your trainer's Launch job with --job"),
    )
