"""The analysis agent's prompt for the next trial of `tune`: Trajectory Context Summarizer output +
knowledge-base evidence + SHAP digest + the configs already tried -> up to K new configs.

Same rules as `recommend/prompts.py`: the instruction text depends only on the objective and K; every
value that comes from runs (configs, curves, names, errors, the digest) goes into one `<data>` block,
JSON-encoded with `<`, `>` and `&` escaped, so nothing in a run can read as an instruction. The
answer format is recommend's (`answer_schema`), so the same parser and repair loop validate it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from metallmix_wandb.llm.messages import DATA_RULE, Message, data_block, describe_space  # one data rule for every prompt
from metallmix_wandb.llm.schemas import answer_format_rule
from metallmix_wandb.knowledge.trajectory import describe
from metallmix_wandb.recommend.prompts import task_of
from metallmix_wandb.tune.digest import TrialsDigest

if TYPE_CHECKING:
    from metallmix_wandb.recommend.record import Evidence
    from metallmix_wandb.space.search_space import SearchSpace
    from metallmix_wandb.tune.records import TuneTrial

MAX_DIGEST_CHARS = 1500  # the SHAP digest is cut for small local models' context windows
MAX_ERROR_CHARS = 200
MAX_EVIDENCE = 4
MAX_PAIRS = 12
MAX_EFFECTS = 16

_CORE = (
    "You are the analysis agent of a few-trial hyperparameter tuner for the machine-learning task "
    "described in the data's \"task\". Some configurations have already been trained on the new dataset. The data block "
    "summarises each trial's training curve (best epoch, final value, train-validation gap, trend over "
    "the last epochs, volatility, time per epoch, crashed or diverged), the best result so far, what "
    "changing a single parameter did, averages per parameter value (confounded: several parameters "
    "changed at once), experiments on similar datasets from the knowledge base, and a SHAP digest of "
    "what drives performance. Propose the next configurations to train."
)
_RULES = (
    "Reasoning rules: build on the best trial and on changes that helped; move away from changes that "
    "hurt or crashed; a diverged or crashed run usually means the learning rate was too high for that "
    "optimizer; a large positive train_val_gap means overfitting (more dropout, fewer trainable layers); "
    "an improving trend at the last epoch means the run was still learning. Never propose a "
    "configuration listed in configs_tried."
)
_OBJECTIVE = {
    "accuracy": "Objective: the best target metric.",
    "time": ("Objective: a good target metric at a low training time. Prefer a faster configuration "
             "(smaller backbone, fewer trainable layers, larger batch) when it costs little of the metric."),
}
_TIME_CAP = "Configurations expected to train longer than objective.max_train_time_s are discarded."


def _format_rule(k: int) -> str:
    how_many = "exactly 1 configuration" if k == 1 else f"1 to {k} different configurations, best first"
    return answer_format_rule(how_many, "two or three sentences naming the trial results you built on.",
                              each="Each")


def tune_instruction_text(objective: str = "accuracy", k: int = 3, time_cap: bool = False) -> str:
    """The system message: fixed for (objective, K, whether a time cap is set), whatever the data says."""
    if objective not in _OBJECTIVE:
        raise ValueError(f"unknown objective {objective!r} (expected one of {sorted(_OBJECTIVE)})")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    objective_text = _OBJECTIVE[objective] + (" " + _TIME_CAP if time_cap else "")
    return "\n\n".join([_CORE, _RULES, objective_text, DATA_RULE, _format_rule(k)])


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else float(f"{x:.{digits}g}")


def tunable_config(config: Mapping[str, Any], space: SearchSpace) -> dict[str, Any]:
    """Only the parameters the agent chooses (constants are filled in by the validator)."""
    flat = space.flatten(config)
    return {k: flat[k] for k in space.tunable if k in flat}


def trial_record(trial: TuneTrial, space: SearchSpace) -> dict[str, Any]:
    res = trial.result
    rec: dict[str, Any] = {"trial": trial.number, "config": tunable_config(res.config, space),
                           "status": res.status, "metric": _r(res.metric), "train_time_s": _r(res.train_time_s, 3),
                           "curve": describe(trial.curve), "chosen_by": trial.proposal.source}
    if res.error:
        rec["error"] = res.error[:MAX_ERROR_CHARS]
    return {k: v for k, v in rec.items() if v is not None}


def evidence_record(e: Evidence, rank: int, space: SearchSpace) -> dict[str, Any]:
    return {"similarity_rank": rank, "distance": _r(e.distance, 3), "dataset": e.dataset,
            "config": tunable_config(e.config, space), "metric": _r(e.metric), "train_time_s": _r(e.train_time_s, 3)}


def _digest_fields(digest: TrialsDigest) -> dict[str, Any]:
    pairs = [{"parameter": c.parameter, "from": c.before, "to": c.after,
              "trials": [c.before_trial, c.after_trial], "delta": _r(c.delta), "outcome": c.outcome}
             for c in digest.one_change[-MAX_PAIRS:]]
    effects = sorted(digest.value_effects, key=lambda e: -abs(e.delta))[:MAX_EFFECTS]
    averages = [{"parameter": e.parameter, "value": e.value, "trials": e.trials, "mean": _r(e.mean),
                 "delta_vs_others": _r(e.delta)} for e in effects]
    return {"one_change_comparisons": pairs, "value_averages": averages,
            "crashed_trials": digest.crashed, "diverged_trials": digest.diverged}


def tune_messages(
    space: SearchSpace,
    meta_features: Mapping[str, Any],
    trials: Sequence[TuneTrial],
    digest: TrialsDigest,
    *,
    evidence: Sequence[Evidence] = (),
    shap_digest: str = "",
    metric: str = "test/acc",
    goal: str = "maximize",
    objective: str = "accuracy",
    max_train_time_s: float | None = None,
    budget: int | None = None,
    k: int = 3,
    task: str | None = None,
) -> list[Message]:
    """System = instructions; user = one fixed request line and the data block (the task is data, as in
    recommend: `task_of`)."""
    best = next((t for t in trials if t.number == digest.best_trial), None)
    fields: dict[str, Any] = {
        "task": task_of(space, task),
        "new_dataset": {"meta_features": {k_: (_r(v) if isinstance(v, float) else v)
                                          for k_, v in meta_features.items()}},
        "target_metric": {"name": metric, "goal": goal},
        "objective": {"optimise": objective, "max_train_time_s": max_train_time_s},
        "search_space": describe_space(space),
        "next_trial": {"number": len(trials) + 1, "budget": budget},
        "trials": [trial_record(t, space) for t in trials],
        "best_so_far": ({"trial": best.number, "metric": _r(best.result.metric),
                         "config": tunable_config(best.result.config, space)} if best else None),
        **_digest_fields(digest),
        "configs_tried": [tunable_config(t.result.config, space) for t in trials],
        "past_experiments": [evidence_record(e, i, space) for i, e in enumerate(evidence[:MAX_EVIDENCE], 1)],
        "shap_digest": shap_digest if len(shap_digest) <= MAX_DIGEST_CHARS
        else shap_digest[:MAX_DIGEST_CHARS] + "...[cut]",
    }
    if space.constants:
        fields["fixed_parameters"] = space.constants
    request = ("Propose the next configurations to train on the new dataset, using the trials and evidence "
               "in the data block below. Reply with the JSON object only.")
    return [
        {"role": "system", "content": tune_instruction_text(objective, k, max_train_time_s is not None)},
        {"role": "user", "content": f"{request}\n\n{data_block(fields)}"},
    ]
