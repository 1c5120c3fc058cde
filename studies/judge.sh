#!/usr/bin/env bash
# The judge at the field's scale (docs/validation.md): per particle, one `fastshower evaluate`
# run of every shower model against the 20k-shower test set no model has seen, beside Geant4
# against Geant4 (the first training block, the floor); per jet class, LAGAN, the jet flow, the
# jet RNN and Pythia against the 10k held-out jets. Each run reports the network and the boosted
# trees, their learning curves at 1k, 2k, 5k, 10k and 20k events per class, FPD and KPD. Needs
# studies/reference_data.sh's files; a particle whose test set is not there yet is skipped.
# CaloGAN enters where studies/calogan.sh has trained it (its last epoch); the shipped `lagan` is
# studies/lagan.sh's last epoch. Last, each jet model's W and QCD jets in one sample against both
# test sets pooled: the W/QCD taggers.
# Resumable: generated samples and finished reports are kept and not made again.
#
#   FASTSHOWER_DATA=/data/fastshower RUNS=runs bash studies/judge.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
RUNS=${RUNS:-runs}
FS=${FS:-fastshower}
OUT=$RUNS/judge
SEED=2024  # generation seed, used by nothing else
mkdir -p "$OUT"
generate() {  # model out [generate options]
  local model=$1 out=$2
  shift 2
  [ -f "$out" ] || $FS generate --model "$model" --seed "$SEED" --no-progress --out "$out" "$@"
}
for spec in pi+:piplus:3 e+:eplus:1 gamma:gamma:2; do
  IFS=: read -r p f floor <<< "$spec"
  if [ ! -f "$DATA/$f-test.h5" ] || [ ! -f "$DATA/$f-train-s$floor.h5" ]; then
    echo "skipping $p: $DATA/$f-test.h5 or $DATA/$f-train-s$floor.h5 is not made yet"
    continue
  fi
  models=(calo-flow)
  [ "$p" = e+ ] && models+=(flow-matching-eplus flow-matching-eplus-1step)
  # CaloGAN as published: its last epoch (its validation score, W1 of the layer fractions,
  # favoured the first epoch of 50 on pions: a GAN's score is noisy, and the paper kept the last)
  [ -d "$RUNS/calogan/$f/last" ] && models+=("$RUNS/calogan/$f/last")
  C=()
  for model in "${models[@]}"; do
    name=$(echo "$model" | tr / _)
    generate "$model" "$OUT/$name-$f.h5" --particle "$p" --energy 1:100 --events 20000
    C+=(--candidate "$OUT/$name-$f.h5")
  done
  [ -f "$OUT/report-$f/report.html" ] ||
    $FS evaluate --reference "$DATA/$f-test.h5" "${C[@]}" --candidate "$DATA/$f-train-s$floor.h5" \
      --max-events 20000 --out "$OUT/report-$f"
done
JET_MODELS=(lagan jet-flow jet-rnn)
for spec in w:11 qcd:12; do
  IFS=: read -r c floor <<< "$spec"
  if [ ! -f "$DATA/jets_$c-test.h5" ] || [ ! -f "$DATA/jets_$c-train-s$floor.h5" ]; then
    echo "skipping $c jets: $DATA/jets_$c-test.h5 or its training file is not made yet"
    continue
  fi
  C=()
  for model in "${JET_MODELS[@]}"; do
    name=$(echo "$model" | tr / _)
    generate "$model" "$OUT/$name-$c.h5" --class "$c" --events 10000
    C+=(--candidate "$OUT/$name-$c.h5")
  done
  [ -f "$OUT/report-jets-$c/report.html" ] ||
    $FS evaluate --reference "$DATA/jets_$c-test.h5" "${C[@]}" \
      --candidate "$DATA/jets_$c-train-s$floor.h5" --max-events 10000 --out "$OUT/report-jets-$c"
done
if [ -f "$DATA/jets_w-test.h5" ] && [ -f "$DATA/jets_qcd-test.h5" ]; then
  C=()
  for model in "${JET_MODELS[@]}"; do
    name=$(echo "$model" | tr / _)
    generate "$model" "$OUT/$name-both.h5" --class both --events 20000
    C+=(--candidate "$OUT/$name-both.h5")
  done
  [ -f "$OUT/report-jets-both/report.html" ] ||
    $FS evaluate --reference "$DATA/jets_w-test.h5" --reference "$DATA/jets_qcd-test.h5" \
      "${C[@]}" --out "$OUT/report-jets-both"
fi
