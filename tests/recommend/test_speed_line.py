"""The output's speed line (recommend/output.py::speed_line): the embedded server's tokens per second."""

from __future__ import annotations

from metallmix_wandb.recommend.output import speed_line
from metallmix_wandb.recommend.record import Recommendation, ScoredConfig

PREDICTED = ScoredConfig(config={}, score=0.9, low=0.8, high=1.0, raw_metric=0.8, train_time_s=10.0)


def _rec(**kw: object) -> Recommendation:
    return Recommendation(config={"lr": 0.001}, explanation="x", source="llm", mode="meta-informed",
                          meta_features={}, predicted=PREDICTED, **kw)


def test_the_speed_line_reports_prompt_and_completion_tokens_per_second() -> None:
    rec = _rec(timings={"llm_s": 3.0, "prompt_tok_s": 512.4, "completion_tok_s": 47.6},
               tokens={"prompt": 1480, "completion": 60, "judge": 1700})
    assert speed_line(rec) == ("LLM speed: prompt 512 tok/s, completion 48 tok/s; "
                               "tokens: prompt 1,480, completion 60, judge 1,700")
    assert speed_line(_rec(timings={"llm_s": 3.0})) is None  # not measured (not the embedded server)


def test_the_speed_line_says_how_many_tokens_the_server_read_and_wrote() -> None:
    rec = _rec(timings={"prompt_tok_s": 140.2, "completion_tok_s": 30.1, "prompt_evaluated": 1874.0,
                        "generated": 233.0}, tokens={"prompt": 5000})
    assert speed_line(rec) == ("LLM speed: prompt 140 tok/s, completion 30 tok/s; server read 1,874 prompt tokens "
                               "(the rest came from its prompt cache), wrote 233; tokens: prompt 5,000")
