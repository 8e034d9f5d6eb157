"""The body of `judge`: re-score a logged recommendation with an LLM judge, from the record alone.

The evidence is re-created from the record's own copy of it, so re-judging needs no Qdrant access.
Tested through the command (tests/cli/test_recommend_cli.py::test_judge_rescoring_a_logged_recommendation).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from pydantic import BaseModel

from metallmix_wandb.cli.app import fail
from metallmix_wandb.knowledge.records import Experiment, Neighbour
from metallmix_wandb.recommend.record import Recommendation


class Rejudged(BaseModel):
    """What `judge` prints."""

    run: str
    judge_model: str | None
    scores: dict[str, float | None]
    format_score_code: int | None
    errors: list[str]


def evidence_neighbours(rec: Recommendation) -> list[Neighbour]:
    """The record's evidence as the retrieved experiments the judge's prompt shows."""
    return [Neighbour(distance=e.distance, experiment=Experiment(
        run_path=e.run_path, run_id=e.run_path.rsplit("/", 1)[-1], dataset=e.dataset, config=e.config,
        meta_features={}, summary={rec.metric: e.metric} if e.metric is not None else {},
        train_time_s=e.train_time_s)) for e in rec.evidence]


def run_rejudge(run_ref: str, *, project: str | None, entity: str | None, qdrant_path: Path | None,
                qdrant_url: str | None, model: str | None, base_url: str | None, api_key: str | None,
                repeats: int, space: Path | None, llm_timeout: float | None = None) -> None:
    """Re-judge the recommendation at RUN_REF (an offline run folder or ENTITY/PROJECT/RUN_ID) and print
    the scores as JSON."""
    from rich.console import Console

    from metallmix_wandb.knowledge.meta_learner.artifact import KnowledgeError, load_knowledge
    from metallmix_wandb.llm.client import LLMError
    from metallmix_wandb.llm.factory import EMBEDDED_NOTICE, open_endpoint
    from metallmix_wandb.llm.judge import judge, judge_messages
    from metallmix_wandb.llm.output import format_score_of
    from metallmix_wandb.recommend.log import read_recommendation
    from metallmix_wandb.recommend.pipeline import recommendable_space
    from metallmix_wandb.recommend.prompts import candidate_table, evidence_digest, task_of
    from metallmix_wandb.settings import load_settings
    from metallmix_wandb.space.search_space import SearchSpace

    settings = load_settings(project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                             llm_model=model, llm_base_url=base_url, llm_api_key=api_key, llm_timeout_s=llm_timeout)
    try:
        rec = read_recommendation(run_ref)
        knowledge = load_knowledge(settings.project or "", settings.cache_dir, settings.entity)
        sp = recommendable_space(SearchSpace.from_yaml(space) if space else knowledge.space)
    except (OSError, ValueError, KnowledgeError) as exc:
        fail(str(exc))
    if not settings.llm_model and rec.judge_model and settings.llm_base_url:
        settings = settings.model_copy(update={"llm_model": rec.judge_model})
    err = Console(stderr=True)
    said = rec.llm_explanation or rec.explanation  # the judge scores the LLM's words, not the digest's
    messages = judge_messages(sp, rec.meta_features, [rec.config], said, rec.raw_reply or
                              json.dumps({"configs": [rec.config], "explanation": said}),
                              evidence_neighbours(rec), evidence_digest(knowledge), metric=rec.metric,
                              candidates=candidate_table(rec.choice_set.offered, sp) if rec.choice_set else None,
                              task=task_of(sp))
    code = format_score_of(rec.raw_reply, sp) if rec.raw_reply else None
    try:
        with open_endpoint(settings, lambda: err.print(EMBEDDED_NOTICE)) as endpoint:
            judge_model = endpoint.default_model
            verdict = judge(endpoint.client(), messages, repeats=repeats, format_score_code=code)
    except LLMError as exc:
        fail(str(exc))
    out = Rejudged(run=run_ref, judge_model=judge_model, scores=verdict.scores.by_criterion(),
                   format_score_code=code, errors=verdict.errors)
    click.echo(json.dumps(out.model_dump(), indent=2))
