#!/usr/bin/env bash
# Every shower model on the same fresh Geant4 showers (studies/reference_data.sh's test sets, which
# no training learnt from), one `fastshower evaluate` run per particle: calo-flow, CaloGAN, and
# Geant4 training showers as the floor. Needs studies/calo_flow.sh and studies/calogan.sh done.
#
#   DATA=data RUNS=runs bash studies/compare.sh
set -euo pipefail
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
CALO_FLOW=${CALO_FLOW:-$RUNS/calo-flow/model/best}  # or the shipped one: CALO_FLOW=calo-flow
OUT=$RUNS/compare
mkdir -p "$OUT"
for spec in e+:eplus:eplus-test:1000 gamma:gamma:gamma-test:1000 pi+:piplus:piplus-test4000:4000; do
  IFS=: read -r p f test n <<< "$spec"
  gen() { $FS generate --model "$1" --particle "$p" --energy 1:100 --events "$n" --seed 7 \
              --workers 0 --no-progress --out "$2"; }
  gen "$CALO_FLOW" "$OUT/calo-flow-$f.h5"
  gen "$RUNS/calogan/$f/best" "$OUT/calogan-$f.h5"
  $FS holdout --data "$DATA/$f.h5" --out "$OUT/floor" --training-events "$n"
  $FS evaluate --reference "$DATA/$test.h5" --candidate "$OUT/calo-flow-$f.h5" \
      --candidate "$OUT/calogan-$f.h5" --candidate "$OUT/floor/$f-training.h5" --out "$OUT/report-$f"
done
