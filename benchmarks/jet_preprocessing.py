"""The two preprocessing modes on the same jets: what LAGAN's image rotation costs in fidelity.

Every Pythia event batch is selected twice, once with ``exact`` (rotate constituents, then
pixelate) and once with ``lagan`` (pixelate, then rotate the image with cubic splines), so both
modes see identical jets. Printed per class: the share of negative pixels among non-zero ones,
the image's pT sum over the jet pT, and the mass and tau_21 computed from the image (pixels as
massless particles, as one must for generated images) against the constituents' values.

    python benchmarks/jet_preprocessing.py --jets 300
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from fastshower.observables.jets import image_observables
from fastshower.simulate.jets import JetGenerator, JetSettings, select_jets


def both_modes(process: str, n_jets: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    exact, lagan = JetSettings(process), JetSettings(process, preprocessing="lagan")
    generator = JetGenerator(exact, seed)
    found: dict[str, list[dict[str, np.ndarray]]] = {"exact": [], "lagan": []}
    while sum(len(b["jet_pt"]) for b in found["exact"]) < n_jets:
        events = generator.next_events()
        found["exact"].append(select_jets(events, exact))
        found["lagan"].append(select_jets(events, lagan))
    return {
        mode: {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
        for mode, batches in found.items()
    }


def summary(jets: dict[str, np.ndarray]) -> dict[str, float]:
    image = jets["image"].astype(np.float64)
    nonzero = image != 0
    obs = image_observables(image)
    return {
        "negative pixels / non-zero": float((image < 0).sum() / nonzero.sum()),
        "non-zero pixels / 625": float(nonzero.mean()),
        "pixel sum / jet pT": float(np.mean(image.sum(axis=(1, 2)) / jets["jet_pt"])),
        "image mass - jet mass (GeV)": float(np.mean(obs["mass"] - jets["jet_mass"])),
        "  its spread (GeV)": float(np.std(obs["mass"] - jets["jet_mass"])),
        "image tau_21 - jet tau_21": float(np.mean(obs["tau_21"] - jets["tau_21"])),
        "  its spread": float(np.std(obs["tau_21"] - jets["tau_21"])),
        "mean image tau_21": float(np.mean(obs["tau_21"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jets", type=int, default=300, help="jets per class")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for process in ("w", "qcd"):
        modes = both_modes(process, args.jets, args.seed)
        rows = {mode: summary(jets) for mode, jets in modes.items()}
        print(f"\n{process}: {len(modes['exact']['jet_pt'])} jets")
        print(f"{'':32s} {'exact':>10s} {'lagan':>10s}")
        for key in rows["exact"]:
            print(f"{key:32s} {rows['exact'][key]:10.4f} {rows['lagan'][key]:10.4f}")


if __name__ == "__main__":
    main()
