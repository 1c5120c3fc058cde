#!/usr/bin/env bash
# The jet transformer (docs/models.md): W and QCD jet images, on the first training block of
# each class (20k jets each, 10 % held out for validation as LAGAN's), 30 epochs at batch 64
# (~170 s each on one core beside other work).
# Resumable: rerun and the training continues. Judged by studies/judge.sh against the held-out
# jets.
#
#   FASTSHOWER_DATA=/data/fastshower RUNS=runs bash studies/jet_transformer.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
OUT=$RUNS/jet-transformer
R=()
[ -f "$OUT/model/checkpoint.pt" ] && R=(--resume)
$FS train jet-transformer --data "$DATA/jets_w-train-s11.h5" --data "$DATA/jets_qcd-train-s12.h5" \
    --out "$OUT/model" --epochs "${EPOCHS:-30}" "${R[@]}"
