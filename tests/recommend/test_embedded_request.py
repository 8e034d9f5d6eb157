"""What `recommend` sends the embedded SmolLM2 demo model (issue 13 item 4: seconds, not minutes): fewer
candidates and experiments in its prompt, one judge call, a capped explanation; the user's own numbers
win; a model the user brings (--base-url) keeps the defaults (tests/cli/test_recommend_cli.py)."""

from __future__ import annotations

from metallmix_wandb.recommend.pipeline import (
    EMBEDDED_EXPLANATION_CHARS, EMBEDDED_OFFER, EMBEDDED_TOP_K, RecommendRequest, for_embedded_model,
)


def test_the_embedded_model_reads_a_shorter_prompt_and_is_judged_once() -> None:
    default = RecommendRequest()
    req = for_embedded_model(default)
    assert (default.offer, default.top_k, default.judge_repeats) == (6, 8, 3)
    assert (req.offer, req.top_k, req.judge_repeats) == (EMBEDDED_OFFER, EMBEDDED_TOP_K, 1) == (4, 5, 1)
    assert req.explanation_max_chars == EMBEDDED_EXPLANATION_CHARS
    assert req.chooses and req.tie == default.tie  # the same confidence-set guard, fewer rows to read


def test_the_users_own_numbers_win() -> None:
    req = for_embedded_model(RecommendRequest(top_k=8), 3, offer=6, top_k=8)
    assert (req.offer, req.top_k, req.judge_repeats) == (6, 8, 3)
    assert for_embedded_model(RecommendRequest(top_k=3)).top_k == 3  # a smaller setting (METALLMIX_TOP_K) stays
