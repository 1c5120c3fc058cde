"""The judge's power and cost: what it finds on known cases, at each N of the learning curve.

Given two Geant4 shower files of one particle (say the test set and the first training block):

- the first against the second (the same physics: every AUC 0.5 within its error, at every N);
- the first against the second with layer 1's cells scaled by 1.1 (a distortion of the size a
  generator might make). Never a file against a distorted copy of the *same* showers: the
  network memorises training showers, and their twins in the test split then score as
  reference, which drives the AUC below 0.5;

each with the unnormalized, normalized and high-level features, the network (CaloFlow's by
default) and the boosted trees, and the wall-clock time of each judgement.

    python benchmarks/classifier_speed.py test.h5 train.h5 [--max-events 20000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json

from fastshower.evaluate.classifier import (
    PROTOCOLS,
    high_level_features,
    learning_curve,
    shower_features,
)
from fastshower.io import read_showers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", help="a shower file")
    parser.add_argument("second", help="another shower file of the same particle and spectrum")
    parser.add_argument("--max-events", type=int, default=None)
    parser.add_argument("--classifier", choices=sorted(PROTOCOLS), default="caloflow")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    first = read_showers(args.first, stop=args.max_events).arrays
    second = read_showers(args.second, stop=args.max_events).arrays
    scaled = {**second, "layer_1": second["layer_1"] * 1.1}
    cases = {"Geant4 against Geant4": second, "layer 1 x 1.1": scaled}
    variants = {
        "unnormalized": shower_features,
        "normalized": lambda s: shower_features(s, normalized=True),
        "high-level": high_level_features,
    }
    results = {}
    for variant, features in variants.items():
        reference = features(first)
        for name, candidate in cases.items():
            curve = learning_curve(reference, features(candidate), PROTOCOLS[args.classifier])
            results[f"{name}, {variant}"] = [point.summary() for point in curve]
            for point in curve:
                net, trees, verdict = point.network, point.trees, point.verdict
                print(
                    f"{name:22s} {variant:12s} N {point.n_per_class:6d}  "
                    f"network {net.auc:.3f} +- {net.auc_uncertainty:.3f} "
                    f"(epoch {net.best_epoch:2d}, {net.seconds:5.1f} s)  "
                    f"trees {trees.auc:.3f} ({trees.best_epoch:3d} trees, {trees.seconds:5.1f} s)"
                    f"  verdict {verdict.method}",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"files": [args.first, args.second], "results": results}, f, indent=2, default=float
            )


if __name__ == "__main__":
    main()
