"""The analysis agent's LLM way to choose the next trial: the Trajectory Context Summarizer's view of
the trials, the evidence and the SHAP digest go into the tune prompt; the LLM's valid, untried
candidates are ranked by the refitted surrogate. No valid candidate, or an unreachable LLM, falls back
to the surrogate's choice with a warning (an unreachable LLM is not asked again in this tune: each
retry would cost its full timeout). Tested in tests/tune/test_loop.py (a scripted LLM server).
"""

from __future__ import annotations

from collections.abc import Sequence

from metallmix_wandb.llm.ask import ask_for_configs
from metallmix_wandb.llm.schemas import answer_schema
from metallmix_wandb.tune.digest import digest_trials
from metallmix_wandb.tune.prompts import tune_messages
from metallmix_wandb.tune.proposers.base import ProposerContext
from metallmix_wandb.tune.proposers.surrogate import SurrogateProposer, SurrogateStep
from metallmix_wandb.tune.records import Proposal, TuneTrial, config_key
from metallmix_wandb.tune.surrogate import score_configs


class LLMProposer:
    """The LLM's candidates, ranked by the refitted surrogate; else the surrogate's own choice."""

    def __init__(self, context: ProposerContext) -> None:
        self.context = context
        self.llm = context.llm
        self.surrogate = SurrogateProposer(context)
        self.timings = self.surrogate.timings

    def __call__(self, trials: Sequence[TuneTrial]) -> Proposal | None:
        step = self.surrogate.step(trials)
        warnings: list[str] = []
        proposal = self._ask(step, trials, warnings) if self.llm is not None else None
        return self.surrogate.finish(step, proposal, trials, warnings)

    def _ask(self, step: SurrogateStep, trials: Sequence[TuneTrial], warnings: list[str]) -> Proposal | None:
        from metallmix_wandb.llm.client import LLMError

        c = self.context
        assert self.llm is not None
        digest = digest_trials(trials, c.goal, params=list(c.space.tunable))
        messages = tune_messages(c.space, c.meta, trials, digest, evidence=c.evidence,
                                 shap_digest=c.shap_digest, metric=c.metric, goal=c.goal,
                                 objective=c.policy.objective, max_train_time_s=c.policy.max_train_time_s,
                                 budget=c.budget, k=c.k, task=c.task)
        schema = answer_schema(c.space, c.k, explanation_max_chars=c.explanation_max_chars)
        try:
            outcome = ask_for_configs(self.llm, messages, c.space, k=c.k, max_repairs=c.max_repairs, schema=schema)
        except LLMError as exc:
            warnings.append(f"LLM unreachable ({exc}); the surrogate chooses this and every later trial")
            self.llm = None
            return None
        tokens = {"prompt": outcome.prompt_tokens, "completion": outcome.completion_tokens}
        if not outcome.ok or outcome.answer is None:
            warnings.append(f"LLM gave no valid config ({outcome.failure}); the surrogate's choice instead")
            return None
        fresh, seen = [], set(step.tried)
        for cfg in outcome.answer.configs:
            if config_key(cfg) not in seen:
                fresh.append(cfg)
                seen.add(config_key(cfg))
        if c.allowed is not None:
            fresh = [cfg for cfg in fresh if config_key(cfg) in c.allowed]
        if not fresh:
            what = "already tried" if c.allowed is None else "already tried or not in the table"
            warnings.append(f"every LLM candidate was {what}; the surrogate's choice instead")
            return None
        cands = score_configs(step.learner, c.meta, fresh, c.policy, step.scale)
        inside = [cand for cand in cands if not cand.over_time_cap]
        if not inside:
            warnings.append("every LLM candidate is predicted over --max-train-time; the surrogate's choice instead")
            return None
        chosen = max(inside, key=lambda cand: cand.utility)  # the first of equals: the LLM's order
        rank = cands.index(chosen) + 1
        p = chosen.prediction
        note = (f"[{len(cands)} new LLM candidate(s); the surrogate ranked the LLM's #{rank} first: percentile "
                f"{p.score:.0%}, {c.metric} ~ {p.raw_metric:.3f}, ~{p.train_time_s:.0f} s]")
        return Proposal(config=chosen.config, source="llm", reasoning=f"{outcome.answer.explanation}\n\n{note}",
                        predicted=chosen.scored(), utility=chosen.utility,
                        candidates=[cand.scored() for cand in cands], llm_s=outcome.latency_s, tokens=tokens)
