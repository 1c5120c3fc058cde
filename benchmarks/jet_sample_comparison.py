"""Are two jet samples the same physics? Side by side: jet pT, eta, mass, Delta R, tau_21, images.

Made to show that the QCD parton-level veto does not bias the kept jets: compare a sample made
as LAGAN did (pT-hat 100-500 GeV, no veto) with one made with the veto. For each observable it
prints both means with their errors and the two-sample Kolmogorov-Smirnov p-value; for the
images, the chi^2 per pixel of the two average images (pixels whose average is above 1e-3 of
the peak, with each pixel's standard error). A mass window can be applied to both first.

    python benchmarks/jet_sample_comparison.py lagan.h5 vetoed.h5 --plots comparison
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fastshower.io import JET_SCHEMA, read_dataset

OBSERVABLES = ("jet_pt", "jet_eta", "jet_mass", "jet_delta_R", "tau_21", "tau_32")


def ks_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov test, asymptotic p-value (Numerical Recipes' form)."""
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    d = np.abs(cdf_a - cdf_b).max()
    n = np.sqrt(len(a) * len(b) / (len(a) + len(b)))
    lam = (n + 0.12 + 0.11 / n) * d
    k = np.arange(1, 101)
    return float(np.clip(2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * k**2 * lam**2)), 0, 1))


def image_chi2(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """chi^2 and number of pixels compared, for the average images of two samples."""
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    err2 = a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b)
    used = (np.maximum(mean_a, mean_b) > 1e-3 * max(mean_a.max(), mean_b.max())) & (err2 > 0)
    return float((((mean_a - mean_b) ** 2)[used] / err2[used]).sum()), int(used.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", help="jet-image file made the reference way")
    parser.add_argument("test", help="jet-image file made the new way")
    parser.add_argument("--mass-window", help="LOW:HIGH GeV, applied to both")
    parser.add_argument("--plots", help="prefix for PNG plots of both samples")
    args = parser.parse_args()

    samples = {}
    for label, path in (("reference", args.reference), ("test", args.test)):
        arrays = read_dataset(path, JET_SCHEMA).arrays
        if args.mass_window:
            lo, hi = (float(v) for v in args.mass_window.split(":"))
            keep = (arrays["jet_mass"] > lo) & (arrays["jet_mass"] < hi)
            arrays = {k: v[keep] for k, v in arrays.items()}
        samples[label] = arrays
    ref, test = samples["reference"], samples["test"]
    print(f"jets: reference {len(ref['jet_pt'])}, test {len(test['jet_pt'])}")
    print(f"{'observable':12s} {'reference':>18s} {'test':>18s} {'KS p-value':>11s}")
    for key in OBSERVABLES:
        a, b = ref[key].astype(np.float64), test[key].astype(np.float64)
        cells = [f"{x.mean():9.4f} +- {x.std(ddof=1) / np.sqrt(len(x)):6.4f}" for x in (a, b)]
        print(f"{key:12s} {cells[0]:>18s} {cells[1]:>18s} {ks_pvalue(a, b):11.3f}")
    chi2, n = image_chi2(ref["image"].astype(np.float64), test["image"].astype(np.float64))
    print(f"average images: chi2 = {chi2:.1f} for {n} pixels ({chi2 / max(n, 1):.2f} per pixel)")
    if args.plots:
        from fastshower.evaluate.jet_plots import plot_average_jet_images, plot_jet_observables

        named = {
            f"{label}: {Path(path).name}": samples[label]
            for label, path in (("reference", args.reference), ("test", args.test))
        }
        print(plot_average_jet_images(named, f"{args.plots}-images.png"))
        print(plot_jet_observables(named, f"{args.plots}-observables.png"))


if __name__ == "__main__":
    main()
