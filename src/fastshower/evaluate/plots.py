"""Shower plots with hist + mplhep, on plain arrays in the dataset layout.

The input is a mapping of arrays as ``fastshower.io.read_showers(...).arrays`` returns them:
``layer_0`` (N, 3, 96), ``layer_1`` (N, 12, 12), ``layer_2`` (N, 12, 6) cell energies in MeV,
``energy`` (N, 1) incident energy in GeV and, optionally, ``overflow`` (N, 3) in MeV. Plotting
arrays rather than files lets Geant4 samples and generated samples go through the same code.
Cell positions (mm) come from ``fastshower.detector.CALORIMETER``, the one source of geometry.

Figures are ``matplotlib.figure.Figure`` objects, never pyplot state: saving renders with Agg
whatever backend the caller uses, no window opens on a headless machine, and a figure is freed
as soon as the function returns (pyplot's registry never holds it, so nothing has to be closed
and loops over many samples do not grow in memory). The mplhep ROOT style is applied inside a
style context for each plot, so importing this module changes no global setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import hist
import mplhep
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from fastshower.detector import CALORIMETER
from fastshower.evaluate.figures import REFERENCE_COLOUR
from fastshower.evaluate.figures import save as _save
from fastshower.evaluate.figures import style as _style
from fastshower.evaluate.metrics import profile, profile_edges

__all__ = [
    "plot_average_shower",
    "plot_layer_energy_vs_incident",
    "plot_position_scan",
    "plot_shower_observables",
]

_LOG_DECADES = 6  # colour range of the average shower: the tails, not the noise floor


def _layer_cells(arrays: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Every read-out layer's cells (MeV, float64), checked against the detector's shapes."""
    cells = []
    for layer in CALORIMETER.layers:
        if layer.key not in arrays:
            raise KeyError(f"no {layer.key!r} in the arrays; shower plots need {_layer_keys()}")
        values = np.asarray(arrays[layer.key], dtype=np.float64)
        if values.ndim != 3 or values.shape[1:] != layer.shape or len(values) == 0:
            raise ValueError(
                f"{layer.key} has shape {values.shape}; expected (N >= 1, {layer.n_x}, {layer.n_y})"
            )
        cells.append(values)
    if len({len(c) for c in cells}) != 1:
        raise ValueError(f"the layers hold different numbers of showers: {[len(c) for c in cells]}")
    return cells


def _layer_keys() -> list[str]:
    return [layer.key for layer in CALORIMETER.layers]


def _incident_gev(arrays: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    if "energy" not in arrays:
        raise KeyError("no 'energy' (incident energy, GeV) in the arrays")
    energy = np.asarray(arrays["energy"], dtype=np.float64).reshape(-1)
    if len(energy) != n:
        raise ValueError(f"'energy' holds {len(energy)} values for {n} showers")
    if not np.all(np.isfinite(energy) & (energy > 0)):
        raise ValueError("incident energies must be finite and > 0 GeV")
    return energy


def plot_average_shower(
    arrays: Mapping[str, np.ndarray], path: str | os.PathLike[str], *, label: str = "Geant4"
) -> Path:
    """The mean cell energy of every layer, seen from the beam, one panel per layer.

    Why: the average image shows at a glance where a sample puts its energy (core, tails,
    longitudinal sharing). Panels are drawn in mm on the same 480 mm square with equal aspect, so
    the 3x96 strip layer and the 12x6 layer are compared in space rather than in cell indices
    (x = first index, y = second). One log colour scale (MeV) is shared by all layers, so a
    nearly empty layer looks nearly empty; cells with no energy at all are left white.
    """
    layers = _layer_cells(arrays)
    means = [cells.mean(axis=0) for cells in layers]
    positive = np.concatenate([m[m > 0] for m in means])
    vmax = float(positive.max()) if positive.size else 1.0
    vmin = max(float(positive.min()), vmax * 10.0**-_LOG_DECADES) if positive.size else vmax / 10
    norm = LogNorm(vmin=vmin, vmax=vmax)
    cmap = colormaps["viridis"].with_extremes(bad="white")
    with _style():
        fig = Figure(figsize=(15.5, 6.2), layout="constrained")
        axes = fig.subplots(1, len(layers), sharey=True)
        for ax, spec, mean in zip(axes, CALORIMETER.layers, means, strict=True):
            mesh = ax.pcolormesh(
                spec.x_edges_mm,
                spec.y_edges_mm,
                np.ma.masked_less_equal(mean, 0).T,  # pcolormesh wants [iy, ix]
                norm=norm,
                cmap=cmap,
            )
            ax.set_aspect("equal")
            dx, dy = spec.cell_size_mm
            ax.set_title(
                f"Layer {spec.index}: {spec.n_x}×{spec.n_y} cells of {dx:g}×{dy:g} mm\n"
                f"z {spec.z_min_mm:g} to {spec.z_max_mm:g} mm, "
                f"mean layer energy {mean.sum() / 1000:.3g} GeV",
                fontsize="small",
            )
            ax.set_xlabel("x [mm]")
        axes[0].set_ylabel("y [mm]")
        fig.colorbar(
            mesh, ax=list(axes), label="Mean cell energy [MeV]", extend="min", shrink=0.85, pad=0.01
        )
        fig.suptitle(f"{label}: average of {len(layers[0])} showers")
        return _save(fig, path)


def plot_position_scan(
    arrays: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    *,
    label: str = "",
    margin_mm: float = 100.0,
) -> Path:
    """Showers made from one latent vector at a row of incidence points (``generate.
    position_scan``): one column per point, one row per layer, each shower's cells in mm with
    the cell grid drawn and the incidence point marked (+). A model that learnt where particles
    enter moves the shower with the point; across a cell boundary the energy passes from one
    cell to its neighbour. Each layer has one log colour scale (MeV) over the scan; the panels
    show the scanned points +- ``margin_mm``."""
    layers = _layer_cells(arrays)
    points = np.asarray(arrays["position"], dtype=np.float64)
    energy = np.asarray(arrays["energy"], dtype=np.float64).reshape(-1)
    half = CALORIMETER.layers[0].half_width_mm
    x_lim = (max(points[:, 0].min() - margin_mm, -half), min(points[:, 0].max() + margin_mm, half))
    y_lim = (max(points[:, 1].min() - margin_mm, -half), min(points[:, 1].max() + margin_mm, half))
    cmap = colormaps["viridis"].with_extremes(bad="white")
    n_points = len(points)
    with _style():
        fig = Figure(figsize=(2.6 * n_points + 1.5, 2.8 * len(layers)), layout="constrained")
        axes = fig.subplots(len(layers), n_points, squeeze=False, sharex=True, sharey=True)
        for row, spec, cells in zip(axes, CALORIMETER.layers, layers, strict=True):
            positive = cells[cells > 0]
            vmax = float(positive.max()) if positive.size else 1.0
            norm = LogNorm(vmin=max(vmax * 10.0**-_LOG_DECADES, 1e-3), vmax=vmax)
            for ax, shower, (x, y) in zip(row, cells, points, strict=True):
                mesh = ax.pcolormesh(
                    spec.x_edges_mm,
                    spec.y_edges_mm,
                    np.ma.masked_less_equal(shower, 0).T,
                    norm=norm,
                    cmap=cmap,
                    edgecolors="0.8",
                    linewidth=0.3,
                )
                ax.plot([x], [y], marker="+", color="tab:red", ms=12, mew=2)
                ax.set(xlim=x_lim, ylim=y_lim, aspect="equal")
            row[0].set_ylabel(f"Layer {spec.index}\ny [mm]", fontsize="small")
            fig.colorbar(mesh, ax=list(row), label="Cell energy [MeV]", shrink=0.9, pad=0.01)
        for ax, (x, y) in zip(axes[0], points, strict=True):
            ax.set_title(f"x {x:g}, y {y:g} mm", fontsize="small")
        for ax in axes[-1]:
            ax.set_xlabel("x [mm]", fontsize="small")
        fig.suptitle(
            f"{label + ': ' if label else ''}one latent vector, {energy[0]:g} GeV, the incidence "
            "point (+) moved"
        )
        return _save(fig, path)


def plot_layer_energy_vs_incident(
    arrays: Mapping[str, np.ndarray], path: str | os.PathLike[str], *, label: str = "Geant4"
) -> Path:
    """Energy deposited in each layer, and in total, against the incident energy.

    Why: the response must scale with the incident energy, layer by layer, and the total
    (cells + overflow, when the arrays have it) must stay close to y = x, the incident energy,
    short of leakage. Each panel shows every shower (grey) and the mean with its standard error
    in bins of incident energy (black): the profile a model has to reproduce. Under the total, a
    ratio panel (deposited / incident) shows the few-percent leakage and the resolution that the
    y = x panel is too coarse to show.
    """
    layers = _layer_cells(arrays)
    incident = _incident_gev(arrays, len(layers[0]))
    per_layer = [cells.sum(axis=(1, 2)) / 1000 for cells in layers]
    total = np.sum(per_layer, axis=0)
    total_label = "Total deposited, cells"
    if "overflow" in arrays:
        overflow = np.asarray(arrays["overflow"], np.float64).reshape(len(total), -1)
        total = total + overflow.sum(axis=1) / 1000
        total_label += " + overflow"
    panels = [(f"Energy in layer {i} [GeV]", e) for i, e in enumerate(per_layer)]
    edges = profile_edges(incident)
    n_cols = 2
    n_rows = -(-(len(panels) + 1) // n_cols)
    with _style():
        fig = Figure(figsize=(13, 5.5 * n_rows), layout="constrained")
        grid = fig.add_gridspec(n_rows, n_cols)
        cells = [grid[k // n_cols, k % n_cols] for k in range(len(panels) + 1)]
        for k, (ylabel, deposited) in enumerate(panels):
            ax = fig.add_subplot(cells[k])
            _scatter_with_profile(ax, incident, deposited, edges, label)
            ax.set(xlabel="Incident energy [GeV]", ylabel=ylabel, xlim=(0, None), ylim=(0, None))
            if k == 0:
                ax.legend(loc="upper left", fontsize="small")
        split = cells[-1].subgridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
        top, bottom = split[0], split[1]
        total_ax = fig.add_subplot(top)
        ratio_ax = fig.add_subplot(bottom, sharex=total_ax)
        _scatter_with_profile(total_ax, incident, total, edges, label)
        total_ax.axline((0, 0), slope=1, color="tab:red", ls="--", lw=1.5, label="y = x")
        total_ax.set(ylabel=f"{total_label} [GeV]", xlim=(0, None), ylim=(0, None))
        total_ax.tick_params(labelbottom=False)
        total_ax.legend(loc="upper left", fontsize="small")
        _scatter_with_profile(ratio_ax, incident, total / incident, edges, label)
        ratio_ax.axhline(1.0, color="tab:red", ls="--", lw=1.5)
        lo, hi = ratio_ax.get_ylim()
        ratio_ax.set_ylim(lo, max(hi, 1.0 + 0.1 * (1.0 - lo)))  # keep the y = x line in view
        ratio_ax.set(xlabel="Incident energy [GeV]", ylabel="Total / incident")
        fig.suptitle(f"{label}: deposited vs incident energy, {len(incident)} showers")
        return _save(fig, path)


def _scatter_with_profile(
    ax: Axes, x: np.ndarray, y: np.ndarray, edges: np.ndarray, label: str
) -> None:
    ax.scatter(x, y, s=10, color="0.65", linewidths=0, label=f"{label} showers")
    means, errors = profile(x, y, edges)
    ok = np.isfinite(means)
    ax.errorbar(
        (0.5 * (edges[1:] + edges[:-1]))[ok],
        means[ok],
        yerr=errors[ok],
        xerr=(0.5 * np.diff(edges))[ok],
        fmt="o",
        ms=5,
        color=REFERENCE_COLOUR,
        label="mean per bin ± s.e.",
    )


def plot_shower_observables(
    arrays: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    *,
    label: str = "Geant4",
    threshold_mev: float = 0.0,
) -> Path:
    """Distributions of each layer's energy fraction and of its fraction of hit cells.

    Why: these are the CaloGAN paper's first checks of a generator. The energy fractions
    E_i / E_cells show the longitudinal development, which an average image hides; the hit-cell
    fraction (cells above ``threshold_mev``) shows the sparsity, which generators often get
    wrong. Histograms are ``hist.Hist`` objects weighted to fractions of showers (with their
    statistical errors) and drawn with ``mplhep.histplot`` as black steps, the reference look.
    Showers with no energy at all have no fractions and are left out of the top row.
    """
    layers = _layer_cells(arrays)
    energies = np.stack([cells.sum(axis=(1, 2)) for cells in layers], axis=1)
    total = energies.sum(axis=1)
    fractions = energies[total > 0] / total[total > 0, None]
    hit = np.stack([(cells > threshold_mev).mean(axis=(1, 2)) for cells in layers], axis=1)
    rows = [
        (fractions, "Energy fraction in layer {i}, $E_{i}/E_{{cells}}$"),
        (hit, f"Hit-cell fraction in layer {{i}} (E > {threshold_mev:g} MeV)"),
    ]
    with _style():
        fig = Figure(figsize=(17, 10), layout="constrained")
        axes = fig.subplots(len(rows), len(layers), squeeze=False)
        for row, (values, xlabel) in zip(axes, rows, strict=True):
            for i, ax in enumerate(row):
                _step_histogram(ax, values[:, i], xlabel.format(i=i), label)
        axes[0, 0].legend(loc="upper right", fontsize="small")
        fig.suptitle(f"{label}: shower observables, {len(layers[0])} showers")
        return _save(fig, path)


def _step_histogram(ax: Axes, values: np.ndarray, xlabel: str, label: str) -> None:
    """A black step histogram of ``values`` in [0, 1], bins over the range the values span."""
    n_bins = int(np.clip(2 * round(np.sqrt(max(len(values), 1))), 5, 50))
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    pad = 0.05 * (hi - lo) if hi > lo else 0.01
    lo, hi = max(0.0, lo - pad), min(1.0 + 1e-9, hi + pad)  # 1.0 itself stays inside the range
    h = hist.Hist(hist.axis.Regular(n_bins, lo, hi), storage=hist.storage.Weight())
    h.fill(values, weight=1.0 / max(len(values), 1))
    mplhep.histplot(
        h, ax=ax, histtype="step", yerr=True, color=REFERENCE_COLOUR, flow="none", label=label
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Fraction of showers")
    ax.set_ylim(bottom=0)
