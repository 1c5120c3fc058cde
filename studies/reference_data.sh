#!/usr/bin/env bash
# The reference datasets (docs/datasets.md): Geant4 training showers, fresh Geant4 test showers that
# no model learns from, and Pythia jet images. Resumable: rerun and every production continues
# where it stopped. Cost on one 2017-class core: e+ and gamma ~1 s per shower, pi+ ~0.3 s, a jet
# ~0.1 s; WORKERS=N runs N Geant4 (or Pythia) processes on Dask.
#
#   DATA=data WORKERS=2 bash studies/reference_data.sh
set -euo pipefail
DATA=${DATA:-data}
FS=${FS:-fastshower}
mkdir -p "$DATA"
calo() {  # particle seed events file
  $FS simulate calo --particle "$1" --energy 1:100 --seed "$2" --events "$3" --chunk-size 100 \
      --workers "${WORKERS:-1}" --no-progress --out "$DATA/$4"
}
# training sets: 10k showers per particle, uniform 1-100 GeV, at the calorimeter's centre (what
# CaloGAN learns from, one model per particle)
calo e+ 1 10000 eplus.h5
calo pi+ 3 10000 piplus.h5
calo gamma 2 10000 gamma.h5
# the pions the shipped calo-flow learnt from: chunk seeds depend only on the seed and the chunk
# index, so piplus3000.h5 repeats piplus.h5's first 3000 showers; the others are new ones
calo pi+ 3 3000 piplus3000.h5
calo pi+ 4 6000 piplus6000s4.h5
calo pi+ 5 6000 piplus6000s5.h5
calo pi+ 6 10000 piplus10000s6.h5
calo pi+ 7 10000 piplus10000s7.h5
# test sets, seeds no training file uses
calo e+ 101 1000 eplus-test.h5
calo gamma 105 1000 gamma-test.h5
calo pi+ 103 4000 piplus-test4000.h5
# jet images: 20k boosted W and 20k QCD jets with 60 < m < 100 GeV
for spec in w:11 qcd:12; do
  $FS simulate jets --process "${spec%:*}" --mass-window 60:100 --events 20000 --seed "${spec#*:}" \
      --chunk-size 200 --workers "${WORKERS:-1}" --no-progress --out "$DATA/jets_${spec%:*}.h5"
done
