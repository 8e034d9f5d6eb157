"""A faithful and a contradicting explanation of the same recommendation, with the evidence both are
judged against (issue 13 item 5): used by the slow judge test and benchmarks/judge_bench.py."""

from __future__ import annotations

import json
from typing import Any

from metallmix_wandb.llm.chat import ChatJSON
from metallmix_wandb.llm.judge import judge, judge_messages, judge_schema, parse_judge_scores
from metallmix_wandb.llm.output import LLMOutputError
from tests.support.llm_data import GOOD, META, neighbour, space

DIGEST = "\n".join([
    "test/acc percentile within each dataset; SHAP in those units; most influential first:",
    "learning_rate: best 0.001 (+0.309), worst 1e-05 (-0.392)",
    "base_model: best resnet18 (+0.116), worst mobilenet_v2 (-0.180)",
    "fine_tuning: best full (+0.034), worst feature_extraction (-0.051)",
])
FAITHFUL = ("resnet18 with full fine-tuning and a learning rate of 0.001 is chosen: the SHAP digest finds a "
            "learning rate of 0.001 helps most (+0.309) and resnet18 is the best backbone (+0.116), and the "
            "closest past run with this configuration reached a test accuracy of 0.81.")
CONTRADICTING = ("resnet18 with full fine-tuning and a learning rate of 0.001 is chosen: the SHAP digest finds a "
                 "learning rate of 0.001 hurts most (-0.392) and resnet18 is the worst backbone (-0.180), and the "
                 "closest past run with this configuration reached a test accuracy of 0.99.")
"""Same length, same values named, every claim about the evidence reversed or invented."""


def messages(explanation: str) -> list[dict[str, str]]:
    """The judge's messages: the evidence first (shared by both explanations, so cached), then the answer."""
    reply = json.dumps({"candidate": 1, "config": None})
    neighbours = [neighbour("run a", "breast", acc=0.81, distance=0.12), neighbour("run b", "chest", acc=0.62,
                  distance=0.31, config={**GOOD, "base_model": "mobilenet_v2", "learning_rate": 1e-5})]
    return judge_messages(space(), META, [GOOD], explanation, reply, neighbours, DIGEST, metric="test/acc",
                          task="Binary classification of ultrasound images.")


def accuracy_scores(client: ChatJSON, repeats: int = 3) -> dict[str, dict[str, Any]]:
    """Each explanation judged `repeats` times (seeds 0.., temperature 0.7): the accuracy of each call
    (None when a reply held no score) and the averaged scores."""
    out: dict[str, dict[str, Any]] = {}
    for name, text in (("faithful", FAITHFUL), ("contradicting", CONTRADICTING)):
        verdict = judge(client, messages(text), repeats=repeats, schema=judge_schema(100))
        accuracy = []
        for call in verdict.calls:
            try:
                accuracy.append(parse_judge_scores(call.text).accuracy)
            except LLMOutputError:
                accuracy.append(None)
        out[name] = {"accuracy": accuracy, "mean": verdict.scores.by_criterion(),
                     "seconds": round(verdict.latency_s, 1), "tokens": verdict.tokens}
    return out
