#!/usr/bin/env bash
# The shower RNN (docs/flows.md, "shower-rnn") on pions: the first pi+ training block (20k
# showers, 10 % held out for validation), 16 epochs at batch 64 (~300 s each on one core beside
# the reference production); model/best is the epoch with the best likelihood of the validation
# showers. Then its faint-cell map, fitted on the same training showers, as calo-flow's. Judged
# against the 20k pi+ test showers beside the shipped calo-flow and Geant4 (the floor) in one
# evaluate run. Resumable: rerun and the training continues, made files are kept.
#
#   FASTSHOWER_DATA=/data/fastshower RUNS=runs bash studies/shower_rnn.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
OUT=$RUNS/shower-rnn
SEED=2024  # generation seed, used by nothing else
R=()
[ -f "$OUT/model/checkpoint.pt" ] && R=(--resume)
$FS train shower-rnn --data "$DATA/piplus-train-s3.h5" --out "$OUT/model" \
    --epochs "${EPOCHS:-16}" "${R[@]}"
[ -d "$OUT/calibrated" ] ||
  $FS calibrate --model "$OUT/model/best" --data "$DATA/piplus-train-s3.h5" --out "$OUT/calibrated"
C=()
for spec in "$OUT/model/best:shower-rnn" "$OUT/calibrated:shower-rnn-calibrated" calo-flow:calo-flow; do
  IFS=: read -r model name <<< "$spec"
  [ -f "$OUT/$name-piplus.h5" ] || $FS generate --model "$model" --particle pi+ --energy 1:100 \
      --events 20000 --seed "$SEED" --no-progress --out "$OUT/$name-piplus.h5"
  C+=(--candidate "$OUT/$name-piplus.h5")
done
[ -f "$OUT/report-piplus/report.html" ] ||
  $FS evaluate --reference "$DATA/piplus-test.h5" "${C[@]}" --candidate "$DATA/piplus-train-s3.h5" \
    --max-events 20000 --out "$OUT/report-piplus"
