#!/usr/bin/env bash
# Register the training entrypoint as a W&B Launch code job: ENTITY/PROJECT/metallmix-train.
# A code job needs a requirements.txt in its folder; ours installs this package itself (`.`).
# (Written against `wandb job create --help` of wandb 0.31; no W&B server could be reached to run it here.)
set -euo pipefail
ENTITY=${1:?usage: create_job.sh ENTITY PROJECT}
PROJECT=${2:?usage: create_job.sh ENTITY PROJECT}
cd "$(dirname "$0")/.."
created=0
if [ ! -f requirements.txt ]; then echo "." > requirements.txt; created=1; fi
trap '[ "$created" = 1 ] && rm -f requirements.txt' EXIT
wandb job create code . --entity "$ENTITY" --project "$PROJECT" --name metallmix-train \
  --entry-point "python metallmix_wandb/train.py" --runtime 3.11
