"""The meta-informed default of `recommend`: the LLM chooses inside the meta-learner's confidence set.

The meta-learner ranks the space; a short diverse list is offered (recommend/candidates.py) with the
retrieved experiments and the digest as evidence; the LLM answers with an id (or a config of its own);
an unusable answer is sent back for repair at most `max_repairs` times, then the best candidate stands
with a warning (never an exception). Tested through recommend (tests/recommend/test_choose.py) and the
evaluation (tests/evaluate/test_hostile_llm.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from metallmix_wandb.knowledge.records import MetaValue, Neighbour
from metallmix_wandb.llm.ask import repair_messages
from metallmix_wandb.recommend.candidates import (
    OFFER, TIE, PickAnswer, chosen, decide_answer, offer, pick_schema, read_pick, top_params, value_effect,
)
from metallmix_wandb.recommend.explain_text import ChatText, ExplanationMode, Reason, ask_explanation
from metallmix_wandb.recommend.prompts import choice_messages, evidence_digest
from metallmix_wandb.recommend.record import Choice, ScoredConfig, meta_learner_explanation
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.artifact import Knowledge
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.llm.chat import ChatJSON, ChatResult

RANKED = 200
"""Configs of the meta-learner's ranking the diverse set is picked from."""


def scored_configs(learner: MetaLearner, meta: Mapping[str, MetaValue],
                   configs: Sequence[Mapping[str, Any]]) -> list[ScoredConfig]:
    """Configs with the meta-learner's predictions."""
    return [ScoredConfig(config=dict(c), **p.model_dump())
            for c, p in zip(configs, learner.predict(meta, configs), strict=True)]


def shap_effects(config: Mapping[str, Any], knowledge: Knowledge, tunable: Sequence[str]) -> list[Reason]:
    """The SHAP digest's effect of the config's value of each of the most influential parameters (those
    the summary has an entry for): the reasons the explanation is asked to give."""
    summary = getattr(knowledge, "summary", None)
    out = []
    for p in top_params(summary, tunable):
        feature = summary.feature(p) if summary else None
        effect = value_effect(feature, config.get(p)) if feature else None
        if effect is not None:
            out.append(Reason(p, config.get(p), effect.mean_shap))
    return out


def choose_in_set(llm: ChatJSON, learner: MetaLearner, meta: Mapping[str, MetaValue], space: SearchSpace,
                  neighbours: Sequence[Neighbour], knowledge: Knowledge, *, n: int = OFFER, metric: str,
                  time_metric: str, max_repairs: int = 2, explanation_max_chars: int | None = None,
                  seed: int = 0, tie: float = TIE, task: str | None = None,
                  explanation: ExplanationMode = "text", exclusive: bool = False) -> Choice:
    """Offer, ask (and repair), decide: a Choice whose `choice_set` records the candidates offered, the
    LLM's pick and whether it was overruled. `explanation`: "text" asks for it in a plain-text call
    after the JSON choice, when the pick stands (a client without `chat_text` gets "json"); "json" has
    it in the choice's JSON. `exclusive`: `pick_schema`'s two-shape answer (llama.cpp's grammar only).
    LLM client errors (server unreachable) propagate."""
    in_text = explanation == "text" and isinstance(llm, ChatText)
    ranked = [ScoredConfig(config=c, **p.model_dump())
              for c, p in learner.ranked_configs(meta, space, n=RANKED, seed=seed)]
    offered = offer(ranked, knowledge.summary, list(space.tunable), n)
    messages = choice_messages(space, meta, offered, neighbours, evidence_digest(knowledge), metric=metric,
                               time_metric=time_metric, task=task, explanation=not in_text)
    schema = pick_schema(space, len(offered), explanation_max_chars, explanation=not in_text, exclusive=exclusive)
    chats: list[ChatResult] = []
    answers: list[PickAnswer] = []
    answers_text: list[str] = []
    convo = list(messages)
    for _ in range(max_repairs + 1):
        chat = llm.chat_json(convo, schema, name="choice")
        answer = read_pick(chat.text, len(offered), space)
        chats.append(chat)
        answers.append(answer)
        answers_text.append(chat.text)
        if answer.ok:
            break
        convo = repair_messages(messages, chat.text, answer.problems)
    decision = decide_answer(answers[-1], offered, lambda cs: scored_configs(learner, meta, cs), tie)
    final = chosen(decision)
    said = answers[-1].explanation
    if in_text and decision.pick is not None and not decision.overruled:
        reasons = shap_effects(final.config, knowledge, list(space.tunable))
        chats.append(ask_explanation(llm, convo, decision.pick, final.config, explanation_max_chars, reasons))
        said = chats[-1].text
    asked: dict[str, Any] = {
        "tokens": {"prompt": sum(c.prompt_tokens for c in chats), "completion": sum(c.completion_tokens for c in chats)},
        "raw_valid": answers[0].ok, "repairs": len(answers) - 1, "raw_reply": answers_text[-1],
        "candidates": [c.scored for c in offered], "choice_set": decision,
        "llm_first_choice": decision.pick_scored.config if decision.pick_scored else None,
        "prompt": messages,
    }
    if decision.pick is not None and not decision.overruled:
        return Choice(source="llm", config=final.config, explanation=said, predicted=final,
                      **asked)
    explanation = meta_learner_explanation(final.config, final, knowledge.digest, metric)
    if decision.overruled:
        warning = f"LLM's pick overruled: {decision.reason}"
        explanation = f"The LLM's pick was overruled: {decision.reason}.\n\n{explanation}"
    else:
        warning = f"LLM fallback: {decision.reason}"
        explanation = f"The LLM gave no usable choice; this is the meta-learner's best candidate.\n\n{explanation}"
    return Choice(source="meta-learner-fallback", config=final.config, explanation=explanation, predicted=final,
                  warnings=[warning], **asked)
