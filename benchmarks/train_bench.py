"""Training cost of one meta-dataset run on the CPU: wall time of `python -m metallmix_wandb.train`
(process start, imports, data, W&B offline run) and the run's own `train_time_s`, per backbone.
Run by hand: `.venv/bin/python benchmarks/train_bench.py [--images 400] [--size 32] [--epochs 1]`."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "breastmnist_28.npz"
BACKBONES = ("mobilenet_v3_small", "resnet18", "mobilenet_v2")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--backbones", default=",".join(BACKBONES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": tmp, "WANDB_SILENT": "true"}
        print(f"{DATA.name}, {args.images} training images, {args.size} px, {args.epochs} epoch(s), "
              f"torch threads {os.environ.get('METALLMIX_TORCH_THREADS', '1')}")
        for backbone in args.backbones.split(","):
            result = Path(tmp) / f"{backbone}.json"
            cmd = [sys.executable, "-m", "metallmix_wandb.train", f"--dataset={DATA}", f"--base_model={backbone}",
                   f"--image_size={args.size}", f"--epochs={args.epochs}", f"--max_train_samples={args.images}",
                   "--fine_tuning=full"]
            t = time.perf_counter()
            proc = subprocess.run(cmd, env={**env, "METALLMIX_RESULT_PATH": str(result)}, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if proc.returncode != 0:
                print(f"{backbone}: failed ({proc.returncode}) {proc.stderr[-300:]}")
                continue
            summary = json.loads(result.read_text())["summary"]
            print(f"{backbone:>20}: wall {wall:5.1f} s, train_time_s {summary['train_time_s']:5.1f} s, "
                  f"test/acc {summary['test/acc']:.3f}")


if __name__ == "__main__":
    main()
