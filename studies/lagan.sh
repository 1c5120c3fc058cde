#!/usr/bin/env bash
# LAGAN as published (docs/models.md): W and QCD jet images, batch 100, 50 epochs, on the first
# training block of each class (20k jets each). Resumable: rerun and the training continues.
# Judged by studies/judge.sh against the held-out jets. Cost: ~4 min per epoch of 36k jets on
# one core (docs/models.md), so ~3 h.
#
#   FASTSHOWER_DATA=/data/fastshower RUNS=runs bash studies/lagan.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
OUT=$RUNS/lagan
R=()
[ -f "$OUT/model/checkpoint.pt" ] && R=(--resume)
$FS train lagan --data "$DATA/jets_w-train-s11.h5" --data "$DATA/jets_qcd-train-s12.h5" \
    --out "$OUT/model" --epochs "${EPOCHS:-50}" --no-progress "${R[@]}"
