#!/usr/bin/env bash
# CaloGAN as published (docs/models.md): one model per particle, batch 256, 50 epochs, Adam 2e-4
# (G) / 2e-5 (D), on the first training block of each particle (20k showers). Resumable: rerun and
# each training continues where it stopped; a killed run keeps best/ (the best validation score so
# far). Judged by studies/judge.sh. Cost: ~3.3 min per epoch of 18k showers on one core with
# bfloat16 matrix units (docs/models.md), so ~3 h per particle; ~4.3 min per epoch in float32.
#
#   FASTSHOWER_DATA=/data/fastshower RUNS=runs bash studies/calogan.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
for spec in ${FILES:-eplus:1 gamma:2 piplus:3}; do
  f=${spec%:*}
  R=()
  [ -f "$RUNS/calogan/$f/checkpoint.pt" ] && R=(--resume)
  $FS train calogan --data "$DATA/$f-train-s${spec#*:}.h5" --out "$RUNS/calogan/$f" \
      --epochs "${EPOCHS:-50}" --no-progress "${R[@]}"
done
