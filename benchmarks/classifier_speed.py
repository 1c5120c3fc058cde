"""The classifier test at full size: how long it takes, and what it finds on known cases.

On a reference shower file (e.g. the 10k e+ reference set):

- its two halves against each other (the same physics: the AUC should be 0.5 within errors);
- the file against itself with layer 1's cells scaled by 1.1 (2 x N showers: the timing the
  issue asks for, and a distortion of the size a generator might make);

each with the unnormalized and the normalized features and the default configuration
(3 x 512, 30 epochs, CaloFlow's). Wall-clock time of the whole test (features, training, scores).

    python benchmarks/classifier_speed.py /work/data/eplus.h5 [--json classifier.json]
"""

from __future__ import annotations

import argparse
import json

from fastshower.evaluate.classifier import ClassifierConfig, classifier_test, shower_features
from fastshower.io import read_showers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", help="a shower file")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    showers = read_showers(args.reference).arrays
    n = len(showers["energy"])
    half = {k: v[: n // 2] for k, v in showers.items()}
    other = {k: v[n // 2 :] for k, v in showers.items()}
    scaled = {**showers, "layer_1": showers["layer_1"] * 1.1}
    config = ClassifierConfig(epochs=args.epochs)
    cases = {
        f"halves ({n // 2} vs {n - n // 2})": (half, other),
        f"layer 1 x 1.1 ({n} vs {n})": (showers, scaled),
    }
    results = {}
    for name, (a, b) in cases.items():
        for normalized in (False, True):
            variant = "normalized" if normalized else "unnormalized"
            r = classifier_test(shower_features(a, normalized), shower_features(b, normalized),
                                config)  # fmt: skip
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
