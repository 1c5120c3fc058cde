#!/usr/bin/env bash
# LAGAN as published (docs/models.md): W and QCD jet images, batch 100, 50 epochs; then judged
# against the jets its training held out, W and QCD pooled (as the generator makes both), and per
# class beside Pythia training jets (the floor, Pythia against Pythia). Resumable: rerun and the
# training continues. Cost: ~10 min per epoch of 36k jets on one core.
#
#   DATA=data RUNS=runs bash studies/lagan.sh
set -euo pipefail
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
OUT=$RUNS/lagan
D=(--data "$DATA/jets_w.h5" --data "$DATA/jets_qcd.h5")
R=()
[ -f "$OUT/model/checkpoint.pt" ] && R=(--resume)
$FS train lagan "${D[@]}" --out "$OUT/model" --epochs "${EPOCHS:-50}" --no-progress "${R[@]}"
$FS holdout "${D[@]}" --out "$OUT/heldout" --training-events 2000
gen() { $FS generate --model "$OUT/model/best" --class "$1" --events "$2" --seed 11 --workers 0 \
            --no-progress --out "$OUT/gen-$1.h5"; }
gen both 4000
$FS evaluate --reference "$OUT/heldout/jets_w-heldout.h5" \
    --reference "$OUT/heldout/jets_qcd-heldout.h5" --candidate "$OUT/gen-both.h5" --out "$OUT/report"
for c in w qcd; do
  gen $c 2000
  $FS evaluate --reference "$OUT/heldout/jets_$c-heldout.h5" --candidate "$OUT/gen-$c.h5" \
      --candidate "$OUT/heldout/jets_$c-training.h5" --out "$OUT/report-$c"
done
