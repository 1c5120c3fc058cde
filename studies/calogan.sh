#!/usr/bin/env bash
# CaloGAN as published (docs/models.md): one model per particle, batch 256, 50 epochs, Adam 2e-4
# (G) / 2e-5 (D). Resumable: rerun and each training continues where it stopped; a killed run
# keeps best/ (the best validation score so far). Cost: ~2.5 min per epoch of 9000 showers on one
# core, so ~2 h per particle.
#
#   DATA=data RUNS=runs bash studies/calogan.sh
set -euo pipefail
DATA=${DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
for f in ${FILES:-eplus gamma piplus}; do
  R=()
  [ -f "$RUNS/calogan/$f/checkpoint.pt" ] && R=(--resume)
  $FS train calogan --data "$DATA/$f.h5" --out "$RUNS/calogan/$f" --epochs "${EPOCHS:-50}" \
      --no-progress "${R[@]}"
done
