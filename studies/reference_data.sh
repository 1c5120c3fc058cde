#!/usr/bin/env bash
# The reference datasets (docs/datasets.md), at the scale of the published ones: per particle a
# test set of 20k showers that no model trains, validates or is selected on, and training blocks
# (pi+ 80k, e+ and gamma 30k each; the first block of 20k, the floor of the judge: Geant4 against
# Geant4 at the test set's size), uniform 1-100 GeV at the calorimeter's centre; W and QCD jet
# images with 60 < m < 100 GeV, 10k per class held out and 40k per class to train on. Last, the
# same particles entering anywhere in +-50 mm around the centre (the "off-centre" sets: a 20k
# test set and 30k to train on per particle), for models conditioned on the incidence point.
#
# The split is by file and seed: test files use seeds 201-233, which no training file uses. Chunk
# seeds depend only on a file's seed and the chunk index, so every file is recreated bit for bit
# (its events: `fastshower checksum --check studies/reference_data.sha256 --data "$DATA"`), and
# the training blocks of seeds 1-7 begin with the showers of the earlier 10k-shower training
# files of the same seeds.
#
# Resumable: rerun and every production continues where it stopped (finished chunks are kept in
# <file>.parts/). Ordered by what the judge needs first, then by what the models most need.
# Cost on one core: e+ and gamma ~0.9 s per shower, pi+ ~0.33 s, a W jet ~0.14 s, a QCD jet
# ~0.5 s; WORKERS=N runs N processes on Dask.
#
#   FASTSHOWER_DATA=/data/fastshower WORKERS=2 bash studies/reference_data.sh
set -euo pipefail
DATA=${FASTSHOWER_DATA:-data}
FS=${FS:-fastshower}
mkdir -p "$DATA"
calo() {  # particle seed events file [simulate options]
  local particle=$1 seed=$2 events=$3 file=$4
  shift 4
  $FS simulate calo --particle "$particle" --energy 1:100 --seed "$seed" --events "$events" \
      --chunk-size 100 --workers "${WORKERS:-1}" --no-progress --out "$DATA/$file" "$@"
}
jets() {  # process seed events file
  $FS simulate jets --process "$1" --mass-window 60:100 --seed "$2" --events "$3" \
      --chunk-size 200 --workers "${WORKERS:-1}" --no-progress --out "$DATA/$4"
}
# pions first: the hardest particle to model, and the cheapest to simulate
calo pi+ 203 20000 piplus-test.h5
calo pi+ 3 20000 piplus-train-s3.h5
# jets: the held-out sets, then training (cheap, and the jet models train on a CPU)
jets w 213 10000 jets_w-test.h5
jets qcd 214 10000 jets_qcd-test.h5
jets w 11 20000 jets_w-train-s11.h5
jets qcd 12 20000 jets_qcd-train-s12.h5
calo e+ 201 20000 eplus-test.h5
calo gamma 202 20000 gamma-test.h5
# the judge's Geant4-against-Geant4 floors for e+ and gamma (the first training block of each),
# on which the published CaloGAN recipe trains too; then the rest of the pions' training (the
# particle the models are furthest from, and where more showers helped most), then the jets'
calo e+ 1 20000 eplus-train-s1.h5
calo gamma 2 20000 gamma-train-s2.h5
for seed in 4 5 6 7 8 9; do calo pi+ "$seed" 10000 "piplus-train-s$seed.h5"; done
jets w 21 20000 jets_w-train-s21.h5
jets qcd 22 20000 jets_qcd-train-s22.h5
calo e+ 11 10000 eplus-train-s11.h5
calo gamma 12 10000 gamma-train-s12.h5
# off the centre: incidence points uniform in the square of +-50 mm
for spec in e+:eplus:231:31 pi+:piplus:233:33 gamma:gamma:232:32; do
  IFS=: read -r p f test train <<< "$spec"
  calo "$p" "$test" 20000 "$f-offcentre-test.h5" --position-spread 50
  calo "$p" "$train" 30000 "$f-offcentre-train-s$train.h5" --position-spread 50
done
