#!/usr/bin/env bash
# The shipped jet-rnn (docs/models.md): W and QCD jet images, on the first training block of
# each class (20k jets each, 10 % held out for validation as LAGAN's), 20 epochs at batch 64
# (~55 s each on 2 cores beside other work). model/best is the epoch with the best likelihood of
# the validation jets; the shipped model was the last (model/last), which had it.
# Resumable: rerun and the training continues. Judged by studies/judge.sh against the held-out
# jets.
#
#   FASTSHOWER_DATA=/data/fastshower RUNS=runs bash studies/jet_rnn.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
OUT=$RUNS/jet-rnn
R=()
[ -f "$OUT/model/checkpoint.pt" ] && R=(--resume)
$FS train jet-rnn --data "$DATA/jets_w-train-s11.h5" --data "$DATA/jets_qcd-train-s12.h5" \
    --out "$OUT/model" --epochs "${EPOCHS:-20}" "${R[@]}"
