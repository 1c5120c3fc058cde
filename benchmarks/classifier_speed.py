"""The classifier test at full size: how long it takes, and what it finds on known cases.

On a reference shower file (e.g. the 10k e+ reference set):

- its two halves against each other (the same physics: the AUC should be 0.5 within errors);
- the first half against the second with layer 1's cells scaled by 1.1 (a distortion of the
  size a generator might make). Never a file against a distorted copy of the *same* showers:
  the network memorises training showers, and their twins in the test split then score as
  reference, which drives the AUC below 0.5 (0.42 +- 0.01 on 2 x 9000 e+ showers);

each with the unnormalized, normalized and high-level features and the default configuration
(3 x 512, 30 epochs, CaloFlow's). Wall-clock time of the whole test (features, training, scores).

    python benchmarks/classifier_speed.py /work/data/eplus.h5 [--json classifier.json]
"""

from __future__ import annotations

import argparse
import json

from fastshower.evaluate.classifier import (
    ClassifierConfig,
    classifier_test,
    high_level_features,
    shower_features,
)
from fastshower.io import read_showers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", help="a shower file")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    showers = read_showers(args.reference).arrays
    n = len(showers["energy"])
    half = {k: v[: n // 2] for k, v in showers.items()}
    other = {k: v[n // 2 :] for k, v in showers.items()}
    scaled = {**other, "layer_1": other["layer_1"] * 1.1}
    config = ClassifierConfig(epochs=args.epochs, batch_size=args.batch_size)
    cases = {
        f"halves ({n // 2} vs {n - n // 2})": (half, other),
        "layer 1 x 1.1": (half, scaled),
    }
    results = {}
    for name, (a, b) in cases.items():
        variants = {
            "unnormalized": lambda s: shower_features(s),
            "normalized": lambda s: shower_features(s, normalized=True),
            "high-level": high_level_features,
        }
        for variant, features in variants.items():
            r = classifier_test(features(a), features(b), config)
            results[f"{name}, {variant}"] = r.summary()
            print(f"{name:28s} {variant:12s} AUC {r.auc:.3f} +- {r.auc_uncertainty:.3f}  "
                  f"JSD {r.jsd:.3f}  best epoch {r.best_epoch:2d}  {r.seconds:6.1f} s",
                  flush=True)  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"file": args.reference, "n_showers": int(n), "results": results}, f,
                      indent=2, default=float)  # fmt: skip


if __name__ == "__main__":
    main()
