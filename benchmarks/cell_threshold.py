"""How much of the judge's verdict comes from the faintest cells: the boosted trees' AUC (cells,
and observables with cell spectra) when every cell below a threshold is set to 0 in both samples.

Geant4 keeps deposits down to fractions of a keV, below any read-out threshold; a generator that
does not make them is told apart by them alone. If the AUC falls far when they are cut, the
generator misses little else; if it stays, the difference is in the showers themselves.

    python benchmarks/cell_threshold.py reference.h5 candidate.h5 [--max-events 10000] \
        [--thresholds-kev 0,1,10,100]
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


def below_zeroed(showers: dict[str, np.ndarray], threshold_mev: float) -> dict[str, np.ndarray]:
    """The showers with every cell below ``threshold_mev`` set to 0."""
    layers = {layer.key for layer in CALORIMETER.layers}
    return {
        key: np.where(values < threshold_mev, 0, values) if key in layers else values
        for key, values in showers.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", help="a Geant4 shower file")
    parser.add_argument("candidate", help="a shower file to judge against it")
    parser.add_argument("--max-events", type=int, default=10_000)
    parser.add_argument("--thresholds-kev", default="0,1,10,100")
    args = parser.parse_args()

    reference = read_showers(args.reference, stop=args.max_events).arrays
    candidate = read_showers(args.candidate, stop=args.max_events).arrays
    config = ClassifierConfig(epochs=1)  # the trees are the point; one network epoch is cheap
    for kev in (float(t) for t in args.thresholds_kev.split(",")):
        ref, cand = below_zeroed(reference, kev / 1000), below_zeroed(candidate, kev / 1000)
        aucs = []
        for name, features in (("cells", shower_features), ("observables", high_level_features)):
            trees = judge(features(ref), features(cand), config).trees
            assert trees is not None
            aucs.append(f"{name} {trees.auc:.3f} +- {trees.auc_uncertainty:.3f}")
        n = min(len(reference["energy"]), len(candidate["energy"]))
        print(f"cells below {kev:g} keV zeroed, {n} per class, trees: {'  '.join(aucs)}")


if __name__ == "__main__":
    main()
