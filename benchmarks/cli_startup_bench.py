"""Cold-start wall and CPU time of the `metallmix-wandb` command, each run a fresh process as a user runs it:
`--help`, `recommend --help`, and `recommend --no-llm` (without the W&B recommendation run, with the
similar runs read from Qdrant too, and with the offline W&B run). Targets (issue 15): `--help` under 0.3 s,
`recommend --no-llm --no-log` under 1 s of wall time on an idle 2-core machine. Run by hand:
`.venv/bin/python benchmarks/cli_startup_bench.py [-n 5] [--keep DIR] [--src DIR] [--targets] [--importtime]`
(`--targets`: only the two commands with a target). On a busy shared machine the CPU time (user + sys)
is the steadier number: wall time then mostly measures the wait for a core.

The knowledge base is built the way the tests build it (tests/support/recommend_kb.py): 24 real
offline W&B runs written by the SDK (tests/support/synthetic.py, 4 datasets x 6 configs), then
`sync --no-explain` and `explain --no-wandb` through the CLI, under a temp folder with
WANDB_MODE=offline and METALLMIX_QDRANT_PATH / METALLMIX_CACHE_DIR pointing into it. `--keep DIR`
builds it in DIR (or reuses the one already there) instead of a temp folder.

`--src DIR` (repeatable) times the package in DIR as well (on PYTHONPATH, e.g. a `git archive` of an
older commit), interleaved run by run with the working tree, so a busy machine's noise hits both alike.

`--importtime` adds where the start-up of `recommend --no-llm --no-log` goes, per package (from
`python -X importtime -m metallmix_wandb.cli ...`, which shows it module by module).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("metallmix-wandb"))
MF = {"n_instances": 3000, "n_classes": 4, "modality": "CT", "imbalance_ratio": 2.0}


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "METALLMIX_"))}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(root / "rec_runs"),
               WANDB_DATA_DIR=str(root / "rec_runs" / "data"), WANDB_CACHE_DIR=str(root / "rec_runs" / "cache"),
               WANDB_CONFIG_DIR=str(root / "rec_runs" / "config"), METALLMIX_CACHE_DIR=str(root / "cache"),
               METALLMIX_QDRANT_PATH=str(root / "qdrant"))
    for sub in ("data", "cache", "config"):
        (root / "rec_runs" / sub).mkdir(parents=True, exist_ok=True)
    return env


def build(root: Path) -> dict[str, str]:
    """Offline runs -> sync -> explain, as the `kb` test fixture does; returns the command's env."""
    env = _env(root)
    if (root / "mf.json").is_file():
        return env
    # The runs are written by a child process so this one stays free of wandb's global state.
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import pytest
from pathlib import Path
from tests.support.synthetic import EXPLAIN_PROJECT, SPACE_YAML, experiments
from tests.support.wandb_runs import offline_env, write_run
root = Path({str(root)!r})
with pytest.MonkeyPatch.context() as mp:
    offline_env(root / "runs", mp)
    for e in experiments(n_datasets=4, runs_per_dataset=6, seed=3).experiments:
        config = {{"dataset": e.dataset, "dataset_name": e.dataset_name, **e.config,
                  **{{f"meta/{{k}}": v for k, v in e.meta_features.items()}}}}
        write_run(EXPLAIN_PROJECT, config, [{{"epoch": 0, "val/acc": e.summary["test/acc"] - 0.02}}],
                  e.summary, name=e.run_id)
(root / "space.yaml").write_text(SPACE_YAML)
print(EXPLAIN_PROJECT)
"""
    t = time.perf_counter()
    project = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True, cwd=ROOT).stdout.strip()
    space = str(root / "space.yaml")
    subprocess.run([CLI, "sync", "--project", project, "--offline-dir", str(root / "runs" / "wandb"),
                    "--space", space, "--no-explain"], env=env, capture_output=True, check=True)
    subprocess.run([CLI, "explain", "--project", project, "--space", space, "--no-wandb"], env=env,
                   capture_output=True, check=True)
    (root / "project").write_text(project)
    (root / "mf.json").write_text(json.dumps(MF))
    print(f"knowledge base built in {time.perf_counter() - t:.1f} s under {root}")
    return env


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], envs: dict[str, dict[str, str]], n: int) -> dict[str, tuple[list[float], list[float]]]:
    """(wall times, CPU times) per variant; the variants take turns, run by run. CPU time (user + sys
    of the command and the children it waited for) moves less than wall time on a busy machine.
    A variant whose command fails (an older tree without an option) is left out."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in envs}
    failed: set[str] = set()
    for _ in range(n):
        for name, env in envs.items():
            if name in failed:
                continue
            t, c = time.perf_counter(), _cpu()
            done = subprocess.run(cmd, env=env, capture_output=True, cwd=tempfile.gettempdir())
            if done.returncode != 0:
                failed.add(name)
                continue
            times[name][0].append(time.perf_counter() - t)
            times[name][1].append(_cpu() - c)
    return {name: t for name, t in times.items() if name not in failed}


def import_breakdown(args: list[str], env: dict[str, str], top: int = 12) -> str:
    """Where one run's imports go, from `python -X importtime`: the self time summed per top-level
    package (every module counted once, so the parts add up to the total)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "metallmix_wandb.cli", *args], env=env,
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        return f"failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    per: dict[str, int] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and line.startswith("import time:") and parts[1].strip().isdigit():
            name = parts[2].strip().split(".")[0]
            per[name] = per.get(name, 0) + int(parts[0].split(":")[1])
    ranked = sorted(per.items(), key=lambda kv: -kv[1])
    rest = sum(us for _, us in ranked[top:])
    shown = [f"{name} {us / 1e6:.2f}" for name, us in ranked[:top]] + [f"other {rest / 1e6:.2f}"]
    return f"imports {sum(per.values()) / 1e6:.2f} s: " + ", ".join(shown)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5, help="runs per command (default 5)")
    ap.add_argument("--keep", type=Path, help="build the knowledge base here and keep it (reused if present)")
    ap.add_argument("--src", type=Path, action="append", default=[],
                    help="also time the metallmix_wandb package in this folder (repeatable)")
    ap.add_argument("--targets", action="store_true",
                    help="only the two commands with a target: --help and recommend --no-llm --no-log")
    ap.add_argument("--importtime", action="store_true",
                    help="also print where `recommend --no-llm --no-log` spends its import time, per package")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = args.keep.resolve() if args.keep else Path(d)
        env = build(root)
        envs = {"working tree": {**env, "PYTHONPATH": str(ROOT)}} | {
            str(src): {**env, "PYTHONPATH": str(src.resolve())} for src in args.src}
        rec = [CLI, "recommend", "--project", (root / "project").read_text(), "--meta-features",
               str(root / "mf.json"), "--json", "--no-llm"]
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; median (min-max) of {args.n} fresh "
              f"processes{'; Python bytecode caching is off' if env.get('PYTHONDONTWRITEBYTECODE') else ''}")
        rows = (("--help", [CLI, "--help"]), ("recommend --help", [CLI, "recommend", "--help"]),
                ("recommend --no-llm --no-log", rec + ["--no-log"]),
                ("recommend --no-llm --no-log --evidence", rec + ["--no-log", "--evidence"]),
                ("recommend --no-llm (logged offline)", rec))
        for label, cmd in (rows[0], rows[2]) if args.targets else rows:
            for name, (walls, cpus) in timed(cmd, envs, args.n).items():
                tag = f" [{name}]" if len(envs) > 1 else ""
                print(f"{label + tag:52s} wall {statistics.median(walls):6.2f} s ({min(walls):.2f}-{max(walls):.2f})"
                      f"   CPU {statistics.median(cpus):6.2f} s")
        if args.importtime:
            for name, e in envs.items():
                print(f"recommend --no-llm --no-log [{name}]: {import_breakdown(rec[1:] + ['--no-log'], e)}")


if __name__ == "__main__":
    main()
