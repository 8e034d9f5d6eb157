#!/usr/bin/env bash
# The main job on embedded defaults, with no W&B server and no network:
#   1. an offline W&B sweep (W&B's own sweep engine) trains tiny models on two real image datasets,
#   2. `sync` reads the offline runs into the embedded Qdrant knowledge base (+ meta-learner, SHAP),
#   3. `similar` finds the experiments closest to a new dataset.
# Everything lands under .metallmix/demo (override with METALLMIX_DEMO_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATA_DIR=${METALLMIX_DEMO_DATA_DIR:-../shared/data}
DEMO=${METALLMIX_DEMO_DIR:-.metallmix/demo}
PROJECT=${METALLMIX_DEMO_PROJECT:-metallmix-demo}
COUNT=${METALLMIX_DEMO_COUNT:-3}
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
echo "== experiments most similar to a new ultrasound dataset"
$BIN/metallmix-wandb similar --project "$PROJECT" --data "$DATA_DIR/breastmnist_28.npz" -k 4
