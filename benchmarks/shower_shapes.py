"""e+ shower shapes against real Geant4 (10.5, FTFP_BERT) in the same geometry.

The reference numbers are the published measurement in ../shared/physics.md (51 e+ showers,
fitted in ln E): they measure the offline physics tables, they are never used to tune them.
A file with a spread of incident energies is treated the same way as the reference (a straight
line in ln E, evaluated at 10, 50 and 100 GeV); a file at one energy is averaged.

    fastshower simulate calo --particle e+ --energy 10 --events 60 --seed 11 --out eplus_10GeV.h5
    (likewise 50 and 100 GeV)
    python benchmarks/shower_shapes.py eplus_10GeV.h5 eplus_50GeV.h5 eplus_100GeV.h5
    fastshower simulate calo --particle e+ --energy 1:100 --events 200 --seed 12 --out eplus.h5
    python benchmarks/shower_shapes.py eplus.h5
"""

from __future__ import annotations

import sys

import numpy as np

from fastshower.detector import CALORIMETER
from fastshower.io import read_showers

# Real Geant4 10.5 + FTFP_BERT, e+: value at 10 / 50 / 100 GeV, and the shower-to-shower scatter.
REFERENCE = {
    "f_0": ((0.277, 0.172, 0.126), 0.074),
    "f_1": ((0.722, 0.826, 0.871), 0.074),
    "f_2": ((0.001, 0.002, 0.002), 0.001),
    "hit fraction 0": ((0.291, 0.489, 0.574), 0.047),
    "hit fraction 1": ((0.582, 0.848, 0.962), 0.030),
    "hit fraction 2": ((0.129, 0.323, 0.407), 0.064),
    "(cells+overflow)/E": ((0.995, 0.995, 0.995), 0.003),
}
ENERGIES = (10.0, 50.0, 100.0)


def observables(path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    data = read_showers(path)
    n = len(data)
    layer_e = np.stack(
        [data[layer.key].reshape(n, -1).sum(1) for layer in CALORIMETER.layers], axis=1
    )
    total = layer_e.sum(1)
    out = {f"f_{i}": layer_e[:, i] / total for i in range(3)}
    for i, layer in enumerate(CALORIMETER.layers):
        out[f"hit fraction {i}"] = (data[layer.key].reshape(n, -1) > 0).mean(1)
    energy_mev = data["energy"][:, 0] * 1000.0
    out["(cells+overflow)/E"] = (total + data["overflow"].sum(1)) / energy_mev
    return data["energy"][:, 0], out


def fit_in_log_energy(energy: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Straight line in ln E, as the reference: values and standard errors at ENERGIES."""
    design = np.stack([np.ones_like(energy), np.log(energy)], axis=1)
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - design @ coef
    cov = np.linalg.inv(design.T @ design) * residual.var(ddof=2)
    at = np.stack([np.ones(len(ENERGIES)), np.log(ENERGIES)], axis=1)
    return at @ coef, np.sqrt(np.einsum("ij,jk,ik->i", at, cov, at))


def main(paths: list[str]) -> None:
    header = ("observable", "E/GeV", "fastshower", "Geant4 10.5", "pull/scatter")
    print("{:>20} {:>6} {:>18} {:>12} {:>12}".format(*header))
    for path in paths:
        energy, obs = observables(path)
        fitted = np.ptp(energy) > 1.0
        columns = (
            range(len(ENERGIES))
            if fitted
            else [int(np.argmin(abs(np.median(energy) - np.array(ENERGIES))))]
        )
        for column in columns:
            for name, values in obs.items():
                ref, scatter = REFERENCE[name]
                if fitted:
                    means, errs = fit_in_log_energy(energy, values)
                    mean, err = means[column], errs[column]
                else:
                    mean, err = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
                ours = f"{mean:.3f} +- {err:.3f}"
                label = f"{ENERGIES[column]:.0f}{'*' if fitted else ''}"
                pull = (mean - ref[column]) / scatter
                print(f"{name:>20} {label:>6} {ours:>18} {ref[column]:12.3f} {pull:12.2f}")
    print("(* : straight-line fit in ln E over a 1-100 GeV sample, as the reference)")


if __name__ == "__main__":
    main(sys.argv[1:])
