#!/usr/bin/env bash
# The shipped `calo-flow` (docs/flows.md): one CaloFlow for e+, gamma and pi+. Flow I learns the
# layer energies as shares of the incident energy (--layer-energies shares), each layer's hit count
# and hottest cell (--layer-hits --layer-peaks); flow II's couplings see each cell's neighbours
# (--coupling grid). 30 epochs, then judged on the fresh test sets (no training saw them). Needs
# studies/reference_data.sh's files. Resumable: rerun and the training continues. Cost: ~170 s
# per epoch of 55k showers on 2 cores (86 min for 30 epochs).
#
#   DATA=data RUNS=runs bash studies/calo_flow.sh
set -euo pipefail
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
FILES=${FILES:-eplus gamma piplus3000 piplus6000s4 piplus6000s5 piplus10000s6 piplus10000s7}
OUT=$RUNS/calo-flow
D=()
for f in $FILES; do D+=(--data "$DATA/$f.h5"); done
R=()
[ -f "$OUT/model/checkpoint.pt" ] && R=(--resume)
$FS train calo-flow "${D[@]}" --out "$OUT/model" --epochs "${EPOCHS:-30}" --coupling grid \
    --layer-energies shares --layer-hits --layer-peaks --no-progress "${R[@]}"
# noise draws: the spread between draws of one model (0.01-0.02 in AUC) is as large as the
# differences between models, so five pion samples and three e+ and gamma, one evaluate run each
for spec in "e+:eplus-test:1000:5 17 29" "gamma:gamma-test:1000:5 17 29" \
            "pi+:piplus-test4000:4000:9 21 33 45 57"; do
  IFS=: read -r p test n seeds <<< "$spec"
  C=()
  for seed in $seeds; do
    $FS generate --model "$OUT/model/best" --particle "$p" --energy 1:100 --events "$n" \
        --seed "$seed" --workers 0 --no-progress --out "$OUT/gen-$p-$seed.h5"
    C+=(--candidate "$OUT/gen-$p-$seed.h5")
  done
  $FS evaluate --reference "$DATA/$test.h5" "${C[@]}" --max-events "$n" --out "$OUT/report-$p"
done
