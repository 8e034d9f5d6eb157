"""`evaluate`: leave-one-dataset-out evaluation of the recommenders against search and meta-learning
baselines, in lookup mode (every config's result is known) or train mode (every choice is trained).
The body is evaluate/command.py; the baseline names come from the methods registry (no numpy).
Tested through tests/evaluate/test_pipeline.py and tests/evaluate/test_command.py (the command end to end)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.cli.options import knowledge_options, llm_timeout_option, open_store
from metallmix_wandb.evaluate.methods import BASELINES


@main.command()
@knowledge_options
@click.option("--lookup", "lookup", is_flag=False, flag_value="store", default=None, metavar="[TABLE]",
              help="Lookup mode. Alone: the knowledge base's runs are the table (they must cover every config "
              "of the space). With TABLE (CSV/JSONL/Parquet in the `import` format): score against it. "
              "Without --lookup: train mode (every choice is trained here through the Launch contract).")
@click.option("--method", "protocol", type=click.Choice(["recommend", "tune"]), default="recommend", show_default=True,
              help="recommend: every method chooses one config. tune: every method gets --budget trials (lookup "
              "mode; `tune` with and without the LLM against random search and BO at the same budget and seeds), "
              "reported as the best-so-far percentile after 1, 3, 5, 10 and --budget trials.")
@click.option("--train-timeout", type=click.IntRange(min=1), help="Train mode: seconds allowed per training run.")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sweep YAML of the space (default: the knowledge's space, else inferred from the runs).")
@click.option("--metric", help="Target metric, higher is better (default test/acc).")
@click.option("--models", help="Comma-separated LLM names on --base-url (default: the embedded demo model).")
@click.option("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama).")
@click.option("--api-key", envvar="METALLMIX_LLM_API_KEY", help="Endpoint key (env; never logged).")
@llm_timeout_option
@click.option("--judge-model", help="Judge LLM for every model (default: each model judges itself).")
@click.option("--baselines", default=",".join(BASELINES), show_default=True,
              help="Comma-separated baselines, or none (`tune` runs with --method tune only).")
@click.option("--no-llm", is_flag=True,
              help="Baselines only (no LLM method: zero-shot, llm-candidates, meta-informed).")
@click.option("--budget", type=click.IntRange(min=1), default=20, show_default=True,
              help="Evaluations per random-search / BO run (and trials per tune with --method tune).")
@click.option("--seeds", default="3", show_default=True, help="Seeds for RS/BO: a count, or a list like 0,1,2.")
@click.option("--datasets", help="Comma-separated datasets to hold out (default: all).")
@click.option("--llm-datasets", type=click.IntRange(min=0), help="Run the LLM methods on the first N datasets only.")
@click.option("--judge-repeats", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--max-repairs", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--explanation-max-chars", type=click.IntRange(min=50),
              help="Cap the LLM's explanation (llama.cpp enforces it; default 400 for the embedded model).")
@click.option("--no-judge", is_flag=True, help="Skip the LLM judge.")
@click.option("--offline", is_flag=True, help="Log the evaluation run offline (also when WANDB_MODE=offline).")
@click.option("--no-log", is_flag=True, help="Do not log a W&B evaluation run.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results JSON here.")
@click.option("--per-dataset/--no-per-dataset", default=True, show_default=True, help="Print a table per dataset.")
def evaluate(**opts: Any) -> None:
    """Leave-one-dataset-out: hide each dataset's runs, let every method choose a config for it, score
    the choice (metric, regret, percentile among all configs, response and training time, judge
    scores, raw validity of LLM answers), and rank the methods.

    \b
    Examples:
      metallmix-wandb evaluate --project nb201 --lookup full_grid.parquet --metric val/acc --no-llm
      metallmix-wandb evaluate --project medmnist-meta --lookup --models gemma3:4b,qwen2.5-coder:7b \\
          --base-url http://localhost:11434/v1 --budget 20 --seeds 3
      metallmix-wandb evaluate --project nb201 --lookup full_grid.parquet --method tune --budget 10 --no-llm
    """
    from metallmix_wandb.evaluate.command import EvaluateOptions, run_evaluate
    from metallmix_wandb.evaluate.request import EvaluationError

    try:
        run_evaluate(EvaluateOptions(**opts), open_store)
    except EvaluationError as exc:
        fail(str(exc))
