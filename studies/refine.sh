#!/usr/bin/env bash
# Refining the shipped models towards their reference (docs/refinement.md). Per particle, the
# shipped calo-flow: a refiner trained on one sample of the model (seed 2025) against the first
# Geant4 training block, then a new sample (seed 2024, the judge's) weighted by it and judged
# against the test set beside the unrefined one and the Geant4 floor, with the amplification of
# each. Then each shipped jet model (lagan, jet-flow, jet-rnn) the same way, W and QCD
# jets in one sample against the first Pythia training block of each class (weights scaled per
# class), judged against both test sets pooled, taggers included. Whatever lacks its files
# (studies/reference_data.sh) is skipped.
# Resumable: finished files are kept.
#
#   FASTSHOWER_DATA=/data/fastshower RUNS=runs bash studies/refine.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
OUT=$RUNS/refine
mkdir -p "$OUT"
for spec in pi+:piplus:3 e+:eplus:1 gamma:gamma:2; do
  IFS=: read -r p f block <<< "$spec"
  if [ ! -f "$DATA/$f-test.h5" ] || [ ! -f "$DATA/$f-train-s$block.h5" ]; then
    echo "skipping $p: $DATA/$f-test.h5 or $DATA/$f-train-s$block.h5 is not made yet"
    continue
  fi
  gen=(--model calo-flow --particle "$p" --energy 1:100 --events 20000 --no-progress)
  [ -f "$OUT/calo-flow-$f-s2025.h5" ] || $FS generate "${gen[@]}" --seed 2025 --out "$OUT/calo-flow-$f-s2025.h5"
  [ -f "$OUT/refiner-$f/config.json" ] ||
    $FS refine --generated "$OUT/calo-flow-$f-s2025.h5" --reference "$DATA/$f-train-s$block.h5" \
        --out "$OUT/refiner-$f"
  [ -f "$OUT/calo-flow-$f.h5" ] || $FS generate "${gen[@]}" --seed 2024 --out "$OUT/calo-flow-$f.h5"
  [ -f "$OUT/calo-flow-$f-refined.h5" ] ||
    $FS generate "${gen[@]}" --seed 2024 --refine "$OUT/refiner-$f" --out "$OUT/calo-flow-$f-refined.h5"
  [ -f "$OUT/report-$f/report.html" ] ||
    $FS evaluate --reference "$DATA/$f-test.h5" --candidate "$OUT/calo-flow-$f.h5" \
        --candidate "$OUT/calo-flow-$f-refined.h5" --candidate "$DATA/$f-train-s$block.h5" \
        --amplification --out "$OUT/report-$f"
done
if [ ! -f "$DATA/jets_w-train-s11.h5" ] || [ ! -f "$DATA/jets_qcd-train-s12.h5" ]; then
  echo "skipping jets: the first training blocks are not made yet"
  exit 0
fi
for model in lagan jet-flow jet-rnn; do
  gen=(--model "$model" --class both --events 20000 --no-progress)
  [ -f "$OUT/$model-s2025.h5" ] || $FS generate "${gen[@]}" --seed 2025 --out "$OUT/$model-s2025.h5"
  [ -f "$OUT/refiner-$model/config.json" ] ||
    $FS refine --generated "$OUT/$model-s2025.h5" --reference "$DATA/jets_w-train-s11.h5" \
        --reference "$DATA/jets_qcd-train-s12.h5" --out "$OUT/refiner-$model"
  [ -f "$OUT/$model.h5" ] || $FS generate "${gen[@]}" --seed 2024 --out "$OUT/$model.h5"
  [ -f "$OUT/$model-refined.h5" ] ||
    $FS generate "${gen[@]}" --seed 2024 --refine "$OUT/refiner-$model" --out "$OUT/$model-refined.h5"
  [ -f "$OUT/report-jets-$model/report.html" ] ||
    $FS evaluate --reference "$DATA/jets_w-test.h5" --reference "$DATA/jets_qcd-test.h5" \
        --candidate "$OUT/$model.h5" --candidate "$OUT/$model-refined.h5" --amplification \
        --out "$OUT/report-jets-$model"
done
