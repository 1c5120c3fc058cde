#!/usr/bin/env bash
# The shipped `calo-flow` (docs/flows.md): one full-size CaloFlow for e+, gamma and pi+, with
# each layer's hit count and hottest cell learnt in flow I (--layer-hits --layer-peaks), trained
# for 30 epochs, then judged against the showers its training held out, with the Geant4 training
# showers beside it as the floor (Geant4 against Geant4). Needs studies/reference_data.sh's files.
# Resumable: rerun and the training continues. Cost: ~40 min for 30 epochs of 30k showers on
# one core.
#
#   DATA=data RUNS=runs bash studies/calo_flow.sh
set -euo pipefail
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
FILES=${FILES:-eplus gamma piplus}
OUT=$RUNS/calo-flow
D=()
for f in $FILES; do D+=(--data "$DATA/$f.h5"); done
R=()
[ -f "$OUT/model/checkpoint.pt" ] && R=(--resume)
$FS train calo-flow "${D[@]}" --out "$OUT/model" --epochs "${EPOCHS:-30}" --layer-hits \
    --layer-peaks --no-progress "${R[@]}"
$FS holdout "${D[@]}" --out "$OUT/heldout" --training-events 1000
for spec in e+:eplus gamma:gamma pi+:piplus; do
  p=${spec%:*} f=${spec#*:}
  $FS generate --model "$OUT/model/best" --particle "$p" --energy 1:100 --events 1000 --seed 5 \
      --workers 0 --no-progress --out "$OUT/gen-$f.h5"
  $FS evaluate --reference "$OUT/heldout/$f-heldout.h5" --candidate "$OUT/gen-$f.h5" \
      --candidate "$OUT/heldout/$f-training.h5" --out "$OUT/report-$f"
done
