"""`recommend` and `judge`: the product's main command and its re-scoring. The bodies are
recommend/command.py and recommend/rejudge.py. Tested in tests/cli/test_recommend_cli.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from metallmix_wandb.cli.app import fail, main
from metallmix_wandb.cli.options import (
    check_dataset_choice,
    dataset_options,
    knowledge_options,
    llm_timeout_option,
    open_store,
    task_option,
)


@main.command()
@knowledge_options
@dataset_options("Meta-features as JSON, for a dataset that cannot be opened here.")
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sweep YAML of the search space (default: the space stored with the knowledge).")
@click.option("--mode", type=click.Choice(["meta-informed", "zero-shot"]), default="meta-informed", show_default=True)
@click.option("-k", "--top-k", type=click.IntRange(min=1),
              help="Similar experiments in the prompt (default 8; 5 for the embedded demo model).")
@click.option("--candidates", type=click.IntRange(1, 10), default=None,
              help="Ask the LLM to propose up to K configs; the meta-learner picks among them. Default "
              "(meta-informed): the LLM chooses among the meta-learner's --offer candidates, and its pick "
              "stands when its predicted interval overlaps the best candidate's and it is a near-tie (within "
              "0.005 predicted percentile). With --no-llm: K configs to try, in order (the meta-learner's "
              "portfolio for K evaluations: diverse configs covering the best of similar past datasets).")
@click.option("--offer", type=click.IntRange(2, 10),
              help="Diverse candidates the meta-learner offers the LLM to choose from (default 6; 4 for the "
              "embedded demo model).")
@task_option
@click.option("--model", help="LLM name on the endpoint (env METALLMIX_LLM_MODEL).")
@click.option("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama). "
              "Default: the embedded demo model.")
@click.option("--api-key", envvar="METALLMIX_LLM_API_KEY", help="Endpoint key (env; never logged).")
@llm_timeout_option
@click.option("--judge-model", help="Judge LLM (default: the same model).")
@click.option("--judge-repeats", type=click.IntRange(min=1), default=None,
              help="Judge scores averaged per criterion (default 3; 1 for the embedded demo model, whose repeats "
              "cost seconds each and say little).")
@click.option("--no-judge", is_flag=True, help="Skip the LLM judge.")
@click.option("--no-llm", is_flag=True, help="No LLM: the meta-learner's best config (the baseline path).")
@click.option("--evidence", is_flag=True, help="With --no-llm, also list the most similar past runs (reads "
              "the Qdrant knowledge base, ~0.8 s more). With an LLM they are always read: the prompt cites them.")
@click.option("--fallback", type=click.Choice(["none", "meta-learner"]), default="none", show_default=True,
              help="What to return when the LLM gives no valid config.")
@click.option("--max-repairs", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--exclude-dataset", multiple=True,
              help="Leave this dataset's runs (path or short name) out of the evidence (repeatable); the "
              "meta-learner is unchanged: `evaluate` does full leave-one-dataset-out.")
@click.option("--queue", help="Enqueue the config on this W&B Launch queue.")
@click.option("--job", help="Launch job (default ENTITY/PROJECT/metallmix-train:latest).")
@click.option("--run-local", is_flag=True, help="Train the config now, through the Launch contract.")
@click.option("--no-log", is_flag=True, help="Do not log a W&B recommendation run.")
@click.option("--json", "as_json", is_flag=True, help="Print the recommendation as JSON.")
def recommend(**opts: Any) -> None:
    """Recommend a model and hyperparameters for a new dataset, without a search.

    \b
    Examples:
      metallmix-wandb recommend --project medmnist-meta --data new.npz --no-llm
      metallmix-wandb recommend --project medmnist-meta --data new.npz --model qwen2.5-coder:7b \\
          --base-url http://localhost:11434/v1 --candidates 3 --queue gpu-queue
    """
    from metallmix_wandb.recommend.command import run_recommend

    check_dataset_choice(opts)
    if opts["no_llm"] and (opts["candidates"] or 1) > 1 and (opts["queue"] or opts["run_local"]):
        fail(f"--no-llm --candidates {opts['candidates']} returns {opts['candidates']} configs to try; --queue and "
             f"--run-local launch one. To train them, run `metallmix-wandb tune --no-llm --budget "
             f"{opts['candidates']}` (its first trials are this portfolio, the rest refit on the results), "
             "or drop --candidates. Nothing was computed or enqueued.")
    run_recommend(opts, open_store)


@main.command()
@click.argument("run_ref")
@knowledge_options
@click.option("--model", help="Judge LLM on the endpoint (default: the recommendation's judge/LLM model).")
@click.option("--base-url", help="OpenAI-compatible endpoint (default: the embedded demo model).")
@click.option("--api-key", envvar="METALLMIX_LLM_API_KEY", help="Endpoint key (env; never logged).")
@llm_timeout_option
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--space", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sweep YAML (default: the space stored with the project's knowledge).")
def judge(run_ref: str, project: str | None, entity: str | None, qdrant_path: Path | None,
          qdrant_url: str | None, model: str | None, base_url: str | None, api_key: str | None,
          llm_timeout: float | None, repeats: int, space: Path | None) -> None:
    """Re-judge a logged recommendation: RUN_REF is an offline run folder or ENTITY/PROJECT/RUN_ID.

    \b
    Example:
      metallmix-wandb judge wandb/offline-run-20261122_120000-abc123 --project medmnist-meta
    """
    from metallmix_wandb.recommend.rejudge import run_rejudge

    run_rejudge(run_ref, project=project, entity=entity, qdrant_path=qdrant_path, qdrant_url=qdrant_url,
                model=model, base_url=base_url, api_key=api_key, llm_timeout=llm_timeout, repeats=repeats,
                space=space)
