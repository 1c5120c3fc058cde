#!/usr/bin/env bash
# The shipped `calo-flow` (docs/flows.md): one CaloFlow for e+, gamma and pi+. Flow I learns the
# layer energies as shares of the incident energy, each layer's hit count and hottest cell; flow
# II's couplings see each cell's neighbours (the defaults of `fastshower train calo-flow`). 30
# epochs on the files it learnt from, made here first: 10k e+ and photons and 35k pions, the
# first showers of the training blocks of seeds 1-7 (studies/reference_data.sh), none in a test
# set. Then the faint-cell map (docs/flows.md), fitted on the first training block of each
# particle; the shipped model is calibrated/. Judged by studies/judge.sh. Resumable: rerun and
# productions and the training continue.
# Cost: ~3 CPU-hours of Geant4, then ~170 s per epoch of 55k showers on 2 cores (86 min), then
# ~6 CPU-hours of Geant4 for the calibration's blocks and 100 s to fit.
#
#   FASTSHOWER_DATA=/data/fastshower RUNS=runs WORKERS=2 bash studies/calo_flow.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
OUT=$RUNS/calo-flow
D=()
for spec in e+:1:10000:eplus gamma:2:10000:gamma pi+:3:3000:piplus3000 pi+:4:6000:piplus6000s4 \
            pi+:5:6000:piplus6000s5 pi+:6:10000:piplus10000s6 pi+:7:10000:piplus10000s7; do
  IFS=: read -r p seed n f <<< "$spec"
  $FS simulate calo --particle "$p" --energy 1:100 --seed "$seed" --events "$n" --chunk-size 100 \
      --workers "${WORKERS:-1}" --no-progress --out "$DATA/$f.h5"
  D+=(--data "$DATA/$f.h5")
done
R=()
[ -f "$OUT/model/checkpoint.pt" ] && R=(--resume)
$FS train calo-flow "${D[@]}" --out "$OUT/model" --epochs "${EPOCHS:-30}" --no-progress "${R[@]}"
# the faint-cell map, on the first training block of each particle (studies/reference_data.sh's
# files: the same command makes or finishes them)
C=()
for spec in e+:1:eplus gamma:2:gamma pi+:3:piplus; do
  IFS=: read -r p seed f <<< "$spec"
  $FS simulate calo --particle "$p" --energy 1:100 --seed "$seed" --events 20000 --chunk-size 100 \
      --workers "${WORKERS:-1}" --no-progress --out "$DATA/$f-train-s$seed.h5"
  C+=(--data "$DATA/$f-train-s$seed.h5")
done
[ -f "$OUT/calibrated/config.json" ] ||
  $FS calibrate --model "$OUT/model/best" "${C[@]}" --out "$OUT/calibrated" --no-progress
