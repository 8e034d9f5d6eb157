#!/usr/bin/env bash
# Register the training entrypoint as a W&B Launch job, ENTITY/PROJECT/metallmix-train (see launch/README.md).
#
#   bash launch/create_job.sh code  ENTITY PROJECT            # a code job: uploads only the package + requirements
#   bash launch/create_job.sh image ENTITY PROJECT IMAGE:TAG  # an image job from launch/Dockerfile (docker build + push)
#   bash launch/create_job.sh stage DIR                       # only write the code job's folder (what `code` uploads)
#
# Both jobs run `python -m metallmix_wandb.train`, which reads every hyperparameter from wandb.config.
# Environment: METALLMIX_REQUIREMENT names the package for the code job instead of shipping its source
# (e.g. "metallmix-wandb==0.1.0" or "metallmix-wandb @ git+https://github.com/ORG/metallmix-wandb@v0.1.0");
# TORCH_INDEX_URL is passed to the image build (default: CPU wheels; a CUDA index for GPU nodes);
# WANDB overrides the wandb command (default: wandb); JOB_NAME the job name (default: metallmix-train).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WANDB=${WANDB:-wandb}
JOB_NAME=${JOB_NAME:-metallmix-train}
ENTRYPOINT="python -m metallmix_wandb.train"
usage() { sed -n '4,6p' "$0" | sed 's/^# */usage: /' >&2; exit 2; }

# The code job's folder: the package source (no caches, no tests, no .venv) and a requirements.txt that
# installs its dependencies; or, with METALLMIX_REQUIREMENT, only a requirements.txt naming the package.
stage() {
  local dir=$1
  mkdir -p "$dir"
  if [ -n "${METALLMIX_REQUIREMENT:-}" ]; then
    printf '%s\n' "$METALLMIX_REQUIREMENT" > "$dir/requirements.txt"
    return
  fi
  (cd "$ROOT" && find metallmix_wandb -type f \( -name '*.py' -o -name '*.yaml' \) -not -path '*/__pycache__/*' \
     -print0 | xargs -0 -I{} cp --parents {} "$dir/")
  "${PYTHON:-python3}" - "$ROOT/pyproject.toml" > "$dir/requirements.txt" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
PY
}

cmd=${1:-}; shift || true
case "$cmd" in
  stage)
    [ $# -eq 1 ] || usage
    stage "$1"
    ;;
  code)
    [ $# -eq 2 ] || usage
    dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
    stage "$dir"
    $WANDB job create code "$dir" --entity "$1" --project "$2" --name "$JOB_NAME" \
      --entry-point "$ENTRYPOINT" --runtime 3.11
    ;;
  image)
    [ $# -eq 3 ] || usage
    docker build -f "$ROOT/launch/Dockerfile" --build-arg "TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" \
      -t "$3" "$ROOT"
    docker push "$3"
    $WANDB job create image "$3" --entity "$1" --project "$2" --name "$JOB_NAME"
    ;;
  *) usage ;;
esac
