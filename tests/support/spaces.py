"""Sweep YAMLs and parameter blocks the space tests share (tests/space/)."""

from __future__ import annotations

import math
from typing import Any

from metallmix_wandb.space.search_space import SearchSpace

SWEEP_YAML = """
method: bayes
metric: {name: val/acc, goal: maximize}
program: train.py
parameters:
  base_model:
    values: [resnet50, efficientnet_b0, efficientnet_b5, densenet121, inception_v3, resnet18,
             mobilenet_v2, mobilenet_v3_small]
  fine_tuning: {values: [feature_extraction, partial_10, partial_30, full]}
  dense_units: {values: [64, 128, 256, 512]}
  dropout: {min: 0.0, max: 0.6}
  optimizer: {values: [adam, sgd, rmsprop]}
  learning_rate: {distribution: log_uniform_values, min: 1e-5, max: 1e-2}
  batch_size: {values: [16, 32, 64]}
  epochs: {value: 1}
"""

GOOD = {
    "base_model": "resnet50",
    "fine_tuning": "full",
    "dense_units": 256,
    "dropout": 0.3,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 32,
    "epochs": 1,
}

# One block per W&B distribution: (block, kind, value-space min, value-space max, log).
EVERY_DISTRIBUTION: dict[str, tuple[dict[str, Any], str, float | None, float | None, bool]] = {
    "constant": ({"distribution": "constant", "value": "x"}, "constant", None, None, False),
    "categorical": ({"distribution": "categorical", "values": [1, 2]}, "categorical", None, None, False),
    "categorical_w_probabilities": (
        {"distribution": "categorical_w_probabilities", "values": ["a", "b"], "probabilities": [0.25, 0.75]},
        "categorical", None, None, False,
    ),
    "int_uniform": ({"distribution": "int_uniform", "min": 1, "max": 10}, "int", 1, 10, False),
    "uniform": ({"distribution": "uniform", "min": -1.0, "max": 1.0}, "float", -1.0, 1.0, False),
    "q_uniform": ({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25}, "float", 0.0, 1.0, False),
    "log_uniform": ({"distribution": "log_uniform", "min": -2.0, "max": 0.0}, "float", math.exp(-2), 1.0, True),
    "log_uniform_values": ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}, "float", 1e-4, 0.1, True),
    "q_log_uniform": ({"distribution": "q_log_uniform", "min": 0.0, "max": 5.0, "q": 1}, "int", 1.0, math.exp(5), True),
    "q_log_uniform_values": ({"distribution": "q_log_uniform_values", "min": 8, "max": 512, "q": 8}, "int", 8, 512, True),
    "inv_log_uniform": ({"distribution": "inv_log_uniform", "min": 0.0, "max": 3.0}, "float", math.exp(-3), 1.0, True),
    "inv_log_uniform_values": ({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1.0}, "float", 0.01, 1.0, True),
    "normal": ({"distribution": "normal", "mu": 1.0, "sigma": 2.0}, "float", None, None, False),
    "q_normal": ({"distribution": "q_normal", "mu": 10.0, "sigma": 3.0, "q": 2}, "int", None, None, False),
    "log_normal": ({"distribution": "log_normal", "mu": 0.0, "sigma": 1.0}, "float", 0.0, None, True),
    "q_log_normal": ({"distribution": "q_log_normal", "mu": 2.0, "sigma": 0.5, "q": 0.5}, "float", 0.0, None, True),
    "beta": ({"distribution": "beta", "a": 2.0, "b": 5.0}, "float", 0.0, 1.0, False),
    "q_beta": ({"distribution": "q_beta", "a": 2.0, "b": 2.0, "q": 0.1}, "float", 0.0, 1.0, False),
}


NESTED = {
    "parameters": {
        "optimizer": {
            "parameters": {
                "name": {"values": ["adam", "sgd"]},
                "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
                "betas": {"parameters": {"b1": {"value": 0.9}}},
            }
        },
        "epochs": {"value": 2},
    }
}



def space_of(**params: Any) -> SearchSpace:
    return SearchSpace.from_sweep_config({"parameters": params})
