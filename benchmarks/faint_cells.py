"""How much of the judge's verdict is the spectrum of the faintest cells: the boosted trees' AUC
on a few summaries of each layer (its smallest hit, its energy, its number of hits), then on the
cells and on the observables with cell spectra before and after the candidate's cells below a
threshold are moved onto Geant4's spectrum of such cells.

The move is a quantile map, one per layer and incident-energy bin, of log(cell) for the cells
between 0 and the threshold: fitted on a second sample of the same generator against Geant4
*training* showers, applied to the candidate, which is then judged against the test showers. It
changes no cell's rank within its layer and no cell above the threshold. If the AUC falls far,
the generator's faint cells are what the judge sees; a generator that learnt them would not
need the map.

    python benchmarks/faint_cells.py test.h5 candidate.h5 --fit-candidate other-seed.h5 \
        --fit-reference train.h5 [--max-events 10000] [--thresholds-mev 0.1,1]
"""

from __future__ import annotations

import argparse

import numpy as np

from fastshower.detector import CALORIMETER
from fastshower.evaluate.classifier import (
    ClassifierConfig,
    high_level_features,
    judge,
    shower_features,
)
from fastshower.io import read_showers

ENERGY_EDGES_GEV = np.geomspace(1.0, 100.0, 6)
QUANTILES = np.linspace(0.0, 1.0, 1001)


def _energy_bins(showers: dict[str, np.ndarray]) -> np.ndarray:
    energy = showers["energy"].reshape(-1)
    return np.clip(np.searchsorted(ENERGY_EDGES_GEV, energy, side="right") - 1, 0, 4)


def _faint_logs(cells: np.ndarray, threshold_mev: float) -> np.ndarray:
    faint = cells[(cells > 0) & (cells < threshold_mev)]
    return np.log(faint.astype(np.float64))


def fit_map(
    generated: dict[str, np.ndarray], geant4: dict[str, np.ndarray], threshold_mev: float
) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """(layer, energy bin) -> the quantiles of log(faint cell), generated and Geant4."""
    maps = {}
    gen_bins, g4_bins = _energy_bins(generated), _energy_bins(geant4)
    for layer in CALORIMETER.layers:
        for b in range(len(ENERGY_EDGES_GEV) - 1):
            gen = _faint_logs(generated[layer.key][gen_bins == b], threshold_mev)
            ref = _faint_logs(geant4[layer.key][g4_bins == b], threshold_mev)
            if len(gen) and len(ref):
                maps[layer.key, b] = (np.quantile(gen, QUANTILES), np.quantile(ref, QUANTILES))
    return maps


def apply_map(
    showers: dict[str, np.ndarray],
    maps: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]],
    threshold_mev: float,
) -> dict[str, np.ndarray]:
    """The showers with each faint cell moved to Geant4's value at its quantile."""
    out = dict(showers)
    bins = _energy_bins(showers)
    for layer in CALORIMETER.layers:
        cells = showers[layer.key].astype(np.float64)  # a copy
        for (key, b), (gen, ref) in maps.items():
            if key != layer.key:
                continue
            rows = cells[bins == b]
            faint = (rows > 0) & (rows < threshold_mev)
            rows[faint] = np.exp(np.interp(np.log(rows[faint]), gen, ref))
            cells[bins == b] = rows
        out[layer.key] = cells.astype(showers[layer.key].dtype)
    return out


def layer_summaries(showers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per layer, beside log10 of the incident energy: three views of the showers a classifier
    can be given alone, to see which of them it tells apart."""
    energy = np.log10(showers["energy"].reshape(-1, 1))
    cells = [showers[layer.key].reshape(len(energy), -1) for layer in CALORIMETER.layers]
    smallest = [np.where(c > 0, c, np.inf).min(1, keepdims=True).clip(1e-12, 1e12) for c in cells]
    views = {
        "smallest hit per layer": [np.log10(s) for s in smallest],
        "energy per layer": [np.log10(c.sum(1, keepdims=True) + 1e-7) for c in cells],
        "hits per layer": [(c > 0).sum(1, keepdims=True) for c in cells],
    }
    return {name: np.hstack([energy, *v]).astype(np.float32) for name, v in views.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", help="Geant4 test showers")
    parser.add_argument("candidate", help="generated showers to judge against them")
    parser.add_argument("--fit-candidate", required=True, help="another sample of the generator")
    parser.add_argument("--fit-reference", required=True, help="Geant4 training showers")
    parser.add_argument("--max-events", type=int, default=10_000)
    parser.add_argument("--thresholds-mev", default="0.1,1")
    args = parser.parse_args()

    def read(path: str) -> dict[str, np.ndarray]:
        return read_showers(path, stop=args.max_events).arrays

    reference, candidate = read(args.reference), read(args.candidate)
    fit_candidate, fit_reference = read(args.fit_candidate), read(args.fit_reference)
    config = ClassifierConfig(epochs=1)  # the trees are the point; one network epoch is cheap
    n = min(len(reference["energy"]), len(candidate["energy"]))
    ref_views, cand_views = layer_summaries(reference), layer_summaries(candidate)
    for name in ref_views:
        trees = judge(ref_views[name], cand_views[name], config).trees
        assert trees is not None
        print(f"{name} alone, {n} per class, trees: {trees.auc:.3f} +- {trees.auc_uncertainty:.3f}")
    samples = [("as generated", candidate)]
    for mev in (float(t) for t in args.thresholds_mev.split(",")):
        maps = fit_map(fit_candidate, fit_reference, mev)
        samples.append((f"cells below {mev:g} MeV mapped", apply_map(candidate, maps, mev)))
    for label, sample in samples:
        aucs = []
        for name, features in (("cells", shower_features), ("observables", high_level_features)):
            trees = judge(features(reference), features(sample), config).trees
            assert trees is not None
            aucs.append(f"{name} {trees.auc:.3f} +- {trees.auc_uncertainty:.3f}")
        print(f"{label}, {n} per class, trees: {'  '.join(aucs)}", flush=True)


if __name__ == "__main__":
    main()
