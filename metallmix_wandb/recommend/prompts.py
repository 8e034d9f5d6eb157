"""Prompts for the recommender LLM.

The recommendation prompt follows MetaLLMiX (§2.3): a core instruction (an optimisation assistant
that keeps to the evidence), a context clarification (past configs were sampled at random, so they
are not optimal), structured inputs, and a strict output format. `zero-shot` (LLM-Cash) keeps only
the new dataset's meta-features and the search space.

Everything that comes from runs or users goes into one `<data>` block (llm/messages.py): the
instruction text depends only on the mode and K, never on the data. The answer's shape is
`llm/schemas.py::answer_schema`; the judge's prompt is `llm/judge.py`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from metallmix_wandb.knowledge.meta_learner.shap_summary import compact_digest
from metallmix_wandb.llm.messages import (
    DATA_RULE,
    Message,
    data_block,
    compact_space,
    experiment_table,
    plain_data,
    shared_table,
    sig3,
)
from metallmix_wandb.llm.schemas import answer_format_rule
from metallmix_wandb.recommend.candidates import pick_format_rule

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.artifact import Knowledge
    from metallmix_wandb.knowledge.records import Neighbour
    from metallmix_wandb.recommend.record import Candidate
    from metallmix_wandb.space.search_space import SearchSpace

PromptMode = Literal["meta-informed", "zero-shot"]

DEFAULT_TASK = "supervised learning (no task description given)"
"""The task the prompts name when neither `--task`/METALLMIX_TASK nor the sweep's `description` gives one:
neutral, so an image, tabular or text project never gets a wrong premise."""


def task_of(space: SearchSpace, task: str | None = None) -> str:
    """The project's task: `--task`/METALLMIX_TASK first, then the sweep YAML's `description`, else neutral."""
    for text in (task, space.description):
        if text and text.strip():
            return text.strip()
    return DEFAULT_TASK


def evidence_digest(knowledge: Knowledge) -> str:
    """The SHAP digest as prompts (the recommender's and the judge's) carry it: the compact form of the
    ranking model's summary (`compact_digest`), a third of the full digest's tokens; the full digest
    when there is no summary (an evaluation fold fitted without SHAP)."""
    summary = getattr(knowledge, "summary", None)
    if summary is None:
        return knowledge.digest
    metric = (summary.target or "the metric").split(" (")[0]  # "test/acc (percentile within dataset)": said once
    return compact_digest(summary, metric=metric)


PROMPT_MODES: tuple[str, ...] = ("meta-informed", "zero-shot")

# --------------------------------------------------------------------------- instruction texts

_CORE_META = (
    "You are a hyperparameter optimisation assistant for the data's \"task\". Keep to the evidence: past "
    "experiments on similar datasets and a SHAP digest (a value's mean effect on the within-dataset "
    "percentile). Do not invent results or values."
)

_CONTEXT_META = "Past configurations were sampled at random, so none is known to be optimal; closer datasets (smaller distance) count more."

_CORE_ZERO = (
    "You are a hyperparameter optimisation assistant for the machine-learning task in the data's \"task\". "
    "You recommend a configuration for a new dataset from its meta-features and the search space alone, "
    "using general machine-learning knowledge. Do not invent results."
)


def _format_rule(k: int) -> str:
    how_many = "exactly 1 configuration" if k == 1 else f"1 to {k} configurations, best first"
    return answer_format_rule(how_many, "two to four sentences on why, citing the evidence you used.")


def instruction_text(mode: PromptMode = "meta-informed", k: int = 1) -> str:
    """The system message: fixed for a (mode, K), whatever the data says."""
    if mode not in PROMPT_MODES:
        raise ValueError(f"unknown prompt mode {mode!r} (expected one of {list(PROMPT_MODES)})")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    parts = [_CORE_META, _CONTEXT_META] if mode == "meta-informed" else [_CORE_ZERO]
    return "\n\n".join([*parts, DATA_RULE, _format_rule(k)])


# --------------------------------------------------------------------------- structured inputs


def _target(space: SearchSpace, metric: str | None, goal: str | None) -> dict[str, str]:
    name = metric or (space.metric.name if space.metric else "test/acc")
    direction = goal or (space.metric.goal if space.metric and space.metric.name == name else "maximize")
    return {"name": name, "goal": direction}


def _fields(space: SearchSpace, meta_features: Mapping[str, Any], neighbours: Sequence[Neighbour] | None,
            shap_digest: str, *, metric: str | None, goal: str | None, time_metric: str,
            task: str | None = None) -> dict[str, Any]:
    """The data block's fields; the evidence (past experiments as a table, digest) unless `neighbours` is
    None. The task (`task_of`) is data: it comes from the project, so it never reaches the instruction text."""
    target = _target(space, metric, goal)
    fields: dict[str, Any] = {
        "task": plain_data(task_of(space, task)),
        "new_dataset": {"meta_features": plain_data(dict(meta_features), digits=3)},
        "target_metric": plain_data(target),
        "search_space": plain_data(compact_space(space)),
    }
    if space.constants:
        fields["fixed_parameters"] = plain_data(space.constants)
    if neighbours is not None:
        fields["past_experiments"] = experiment_table(neighbours, space, metric=target["name"],
                                                      time_metric=time_metric)
        fields["shap_digest"] = plain_data(shap_digest)
    return fields


def recommendation_messages(
    space: SearchSpace,
    meta_features: Mapping[str, Any],
    neighbours: Sequence[Neighbour] = (),
    shap_digest: str = "",
    *,
    mode: PromptMode = "meta-informed",
    k: int = 1,
    metric: str | None = None,
    goal: str | None = None,
    time_metric: str = "train_time_s",
    task: str | None = None,
) -> list[Message]:
    """System = instructions (fixed for mode and K); user = one request line and the data block."""
    fields = _fields(space, meta_features, neighbours if mode == "meta-informed" else None, shap_digest,
                     metric=metric, goal=goal, time_metric=time_metric, task=task)
    request = (
        f"Recommend {'a configuration' if k == 1 else f'up to {k} configurations'} for the new dataset "
        "described in the data block below. Reply with the JSON object only."
    )
    return [
        {"role": "system", "content": instruction_text(mode, k)},
        {"role": "user", "content": f"{request}\n\n{data_block(fields)}"},
    ]


# --------------------------------------------------------------------------- choosing inside the set

_CHOOSE = (
    'The meta-learner offers "candidates", best first: predicted percentile (1 = best), 80% interval '
    "(low-high), training time. Overlapping intervals are ties: choose the one you expect to do best."
)


def candidate_table(offered: Sequence[Candidate], space: SearchSpace) -> dict[str, Any]:
    """The candidates as one table: id, the config (values as they are), predicted percentile, its 80%
    interval and training time (3 significant digits); what every candidate shares is said once
    (`every_row`). Their SHAP reasons are the digest's numbers for their values, so the digest carries
    them once (the output still shows them per candidate)."""
    params = list(space.tunable)
    rows = []
    for c in offered:
        s = c.scored
        flat = space.flatten(s.config)
        rows.append([c.id, *(flat.get(p) for p in params), sig3(s.score), sig3(s.low), sig3(s.high),
                     sig3(s.train_time_s)])
    return shared_table(["id", *params, "percentile", "low", "high", "train_time_s"], rows,
                        keep=("id", "percentile"), min_rows=2)


def choice_messages(
    space: SearchSpace,
    meta_features: Mapping[str, Any],
    offered: Sequence[Candidate],
    neighbours: Sequence[Neighbour] = (),
    shap_digest: str = "",
    *,
    metric: str | None = None,
    goal: str | None = None,
    time_metric: str = "train_time_s",
    task: str | None = None,
    explanation: bool = True,
) -> list[Message]:
    """System = instructions (fixed for the number of candidates, and whether the explanation is in the
    JSON or asked for after in plain text); user = the evidence and the candidates."""
    rule = pick_format_rule(len(offered), explanation)
    system = "\n\n".join([_CORE_META, _CONTEXT_META, _CHOOSE, DATA_RULE, rule])
    fields = _fields(space, meta_features, neighbours, shap_digest, metric=metric, goal=goal,
                     time_metric=time_metric, task=task)
    fields["candidates"] = candidate_table(offered, space)
    request = "Choose a candidate for the new dataset. Reply with the JSON object only."
    return [{"role": "system", "content": system}, {"role": "user", "content": f"{request}\n\n{data_block(fields)}"}]
