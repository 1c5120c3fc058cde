"""Shower-shape observables of calorimeter showers (the CaloGAN analysis), as pure array functions.

Generated showers are judged by comparing the distributions of a few physics observables with
Geant4's: the energy in each read-out layer and its fraction of the total, the depth of the shower
(energy-weighted mean layer index) and its spread, the lateral centroid and width in each layer,
E_ratio of the two hottest cells, the fraction of cells hit and the hottest cell's energy
(Paganini, de Oliveira, Nachman, arXiv:1705.02355 and 1712.10321). One is ours: the share of a
layer's hit cells that have no hit among their eight neighbours. Why: a shower is contiguous, and
a generator that decides each cell's emptiness nearly on its own scatters hits (a CaloFlow with
fully connected couplings gave pions 1.5x Geant4's isolated hits in layer 0), which no CaloGAN
observable shows. Everything here is driven by
``fastshower.detector.CALORIMETER``: layer keys, cell grids and cell-centre coordinates come from
it, so nothing in this module knows a shape or a length of its own.

Input is a mapping in the dataset layout (``fastshower.io.SHOWER_SCHEMA``): ``layer_<i>`` cell
energies (MeV) of shape ``(N, n_x, n_y)`` and, for ``shower_observables``, ``energy`` of shape
``(N, 1)`` (incident energy, GeV) and, where the file has it, ``position`` ``(N, 2)`` (the
incidence point, mm; the centre where absent). ``overflow`` is ignored: as in CaloGAN, layer and
total energies are sums over the cells only. Cell arrays are indexed
``[event, ix, iy]``; "x" is the first cell axis (array axis 1) and "y" the second (array axis 2),
with cell centres ``ReadoutLayer.x_centres_mm`` and ``y_centres_mm``.

Degenerate showers never give NaN. Where a weight is zero the observable takes the value 0:

- a layer with no energy has centroid 0 mm, width 0 mm and E_ratio 0 (and sparsity 0, isolated
  hits 0, hottest cell 0 MeV);
- a shower with no energy in any cell has fractions 0, depth 0 and depth width 0.

Inputs are checked (``check_showers``): a missing layer key, a wrong shape, showers of different
counts, NaN or infinite values, and negative cell energies (which no energy-weighted moment can
use, and which the dataset schema forbids) raise ``ValueError``. Computations run in float64.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from fastshower.detector import CALORIMETER

__all__ = [
    "OBSERVABLES",
    "SPECTRUM_EDGES_LOG10_MEV",
    "Observable",
    "cell_energy_spectra",
    "centroids",
    "check_showers",
    "depth_width",
    "e_ratios",
    "energy_fractions",
    "incidence_points",
    "isolated_hit_shares",
    "layer_energies",
    "max_cell_energies",
    "shower_depth",
    "shower_observables",
    "sparsities",
    "total_energy",
    "widths",
]

Direction = Literal["x", "y"]
Cells = tuple[np.ndarray, ...]

_ENERGY_KEY = "energy"
_ENERGY_SHAPE = (1,)  # per event, as in SHOWER_SCHEMA


@dataclass(frozen=True)
class Observable:
    """How to show one observable: a human-readable ``label`` and its ``unit`` ("" if none)."""

    label: str
    unit: str = ""

    @property
    def axis_label(self) -> str:
        """``label [unit]``, or the label alone for a dimensionless observable."""
        return f"{self.label} [{self.unit}]" if self.unit else self.label


def _observable_table() -> dict[str, Observable]:
    per_layer = {
        "energy_layer_{i}": Observable("energy in layer {i}", "MeV"),
        "fraction_layer_{i}": Observable("energy fraction of layer {i}"),
        "centroid_x_layer_{i}": Observable("x centroid in layer {i}", "mm"),
        "centroid_y_layer_{i}": Observable("y centroid in layer {i}", "mm"),
        "width_x_layer_{i}": Observable("x width in layer {i}", "mm"),
        "width_y_layer_{i}": Observable("y width in layer {i}", "mm"),
        "e_ratio_layer_{i}": Observable("E_ratio in layer {i}"),
        "sparsity_layer_{i}": Observable("fraction of cells hit in layer {i}"),
        "isolated_layer_{i}": Observable("share of hits with no hit neighbour in layer {i}"),
        "max_cell_layer_{i}": Observable("hottest cell energy in layer {i}", "MeV"),
    }
    table: dict[str, Observable] = {}
    for name, obs in per_layer.items():
        for layer in CALORIMETER.layers:
            label = obs.label.format(i=layer.index)
            table[name.format(i=layer.index)] = Observable(label, obs.unit)
    table["total_energy"] = Observable("total energy in the cells", "MeV")
    table["depth"] = Observable("shower depth (mean layer index)", "layer")
    table["depth_width"] = Observable("shower depth width (std of layer index)", "layer")
    table["incident_energy"] = Observable("incident energy", "GeV")
    table["incidence_x"] = Observable("incidence point x", "mm")
    table["incidence_y"] = Observable("incidence point y", "mm")
    return table


OBSERVABLES: dict[str, Observable] = _observable_table()
"""Label and unit of every name ``shower_observables`` returns, in the same order."""


def check_showers(showers: Mapping[str, ArrayLike], *, require_energy: bool = False) -> Cells:
    """The cell arrays of every read-out layer as float64, after checking them.

    Raises ``ValueError`` for a missing layer key, a shape other than ``(N, n_x, n_y)`` (the
    message names the key, the shape found and the shape expected), NaN or infinite cells and
    negative cells. With ``require_energy`` the ``energy`` key must also be there, of shape
    ``(N, 1)`` and finite.
    """
    cells: list[np.ndarray] = []
    n_events: int | None = None
    for layer in CALORIMETER.layers:
        array = _get(showers, layer.key)
        if n_events is None and array.ndim >= 1:
            n_events = array.shape[0]
        _check_shape(layer.key, array, n_events, layer.shape)
        _check_finite(layer.key, array)
        negative = np.count_nonzero((array < 0).any(axis=(1, 2)))
        if negative:
            raise ValueError(
                f"showers[{layer.key!r}] has negative cell energies in {negative} shower(s)"
            )
        cells.append(array)
    if require_energy:
        energy = _get(showers, _ENERGY_KEY)
        _check_shape(_ENERGY_KEY, energy, n_events, _ENERGY_SHAPE)
        _check_finite(_ENERGY_KEY, energy)
    return tuple(cells)


def layer_energies(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """Energy E_i of each read-out layer (MeV), shape (N, n_layers)."""
    return _layer_energies(check_showers(showers))


def total_energy(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """Energy in all cells, E_tot = sum_i E_i (MeV), shape (N,)."""
    return _layer_energies(check_showers(showers)).sum(axis=1)


def energy_fractions(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """f_i = E_i / E_tot, shape (N, n_layers); all 0 for a shower with no energy."""
    return _fractions(_layer_energies(check_showers(showers)))


def shower_depth(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """d = sum_i i * E_i / E_tot (layer index units), shape (N,); 0 for no energy."""
    return _depth(_layer_energies(check_showers(showers)))[0]


def depth_width(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """Energy-weighted std of the layer index, shape (N,); 0 for no energy."""
    return _depth(_layer_energies(check_showers(showers)))[1]


def centroids(showers: Mapping[str, ArrayLike], direction: Direction) -> np.ndarray:
    """Energy-weighted mean cell-centre coordinate (mm) along ``direction`` in each layer.

    ``"x"`` is the first cell axis, ``"y"`` the second. Shape (N, n_layers); 0 for an empty layer.
    """
    return _lateral(check_showers(showers), direction)[0]


def widths(showers: Mapping[str, ArrayLike], direction: Direction) -> np.ndarray:
    """Energy-weighted std of the cell-centre coordinate (mm) along ``direction`` in each layer.

    Shape (N, n_layers); 0 for an empty layer (and for a layer with a single hit cell).
    """
    return _lateral(check_showers(showers), direction)[1]


def e_ratios(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """(E_max1 - E_max2) / (E_max1 + E_max2) of the two hottest cells of each layer.

    Shape (N, n_layers); 1 for a single hit cell, 0 for an empty layer.
    """
    return _e_ratios(check_showers(showers))


def sparsities(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """Fraction of the cells of each layer with a non-zero deposit, shape (N, n_layers)."""
    return _sparsities(check_showers(showers))


def isolated_hit_shares(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """Share of each layer's hit cells (non-zero) with no hit among their eight neighbours, shape
    (N, n_layers); 0 for a layer with no hit."""
    return _isolated_shares(check_showers(showers))


def max_cell_energies(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """Energy of the hottest cell of each layer (MeV), shape (N, n_layers)."""
    return _max_cells(check_showers(showers))


SPECTRUM_EDGES_LOG10_MEV = np.linspace(-3.0, 4.0, 29)
"""Bin edges of ``cell_energy_spectra``: log10 of the cell energy in MeV, 1 keV to 10 GeV in
quarter decades (a layer-2 pion cell can hold more than 10 GeV: it goes into the last bin)."""


def cell_energy_spectra(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """How many of each layer's hit cells fall in each bin of ``SPECTRUM_EDGES_LOG10_MEV``,
    shape (N, n_layers x n_bins), layer 0's bins first; cells below the first edge are left out
    and cells above the last go into the last bin. The CaloChallenge's voxel-energy histogram,
    per shower: where a generator gives cells energies that Geant4 does not (a MIP's deposit
    smeared, say), every moment of the shower can still agree."""
    cells = check_showers(showers)
    n_bins = len(SPECTRUM_EDGES_LOG10_MEV) - 1
    out = []
    for layer_cells in cells:
        flat = layer_cells.reshape(len(layer_cells), -1)
        events, index = np.nonzero(flat >= 10 ** SPECTRUM_EDGES_LOG10_MEV[0])
        bins = np.searchsorted(SPECTRUM_EDGES_LOG10_MEV, np.log10(flat[events, index]), "right")
        bins = np.clip(bins - 1, 0, n_bins - 1)
        counts = np.bincount(events * n_bins + bins, minlength=len(flat) * n_bins)
        out.append(counts.reshape(len(flat), n_bins))
    return np.concatenate(out, axis=1).astype(np.float64)


def shower_observables(showers: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    """Every observable as a named 1-D float64 array of length N (names and order: OBSERVABLES).

    Needs the layer keys and ``energy`` (incident energy, GeV, shape (N, 1)).
    """
    cells = check_showers(showers, require_energy=True)
    energies = _layer_energies(cells)
    depth, width = _depth(energies)
    centroid_x, width_x = _lateral(cells, "x")
    centroid_y, width_y = _lateral(cells, "y")
    per_layer = {
        "energy_layer_{i}": energies,
        "fraction_layer_{i}": _fractions(energies),
        "centroid_x_layer_{i}": centroid_x,
        "centroid_y_layer_{i}": centroid_y,
        "width_x_layer_{i}": width_x,
        "width_y_layer_{i}": width_y,
        "e_ratio_layer_{i}": _e_ratios(cells),
        "sparsity_layer_{i}": _sparsities(cells),
        "isolated_layer_{i}": _isolated_shares(cells),
        "max_cell_layer_{i}": _max_cells(cells),
    }
    out: dict[str, np.ndarray] = {}
    for name, values in per_layer.items():
        for column, layer in enumerate(CALORIMETER.layers):
            out[name.format(i=layer.index)] = values[:, column]
    out["total_energy"] = energies.sum(axis=1)
    out["depth"] = depth
    out["depth_width"] = width
    out["incident_energy"] = np.asarray(showers[_ENERGY_KEY], dtype=np.float64).reshape(-1)
    out["incidence_x"], out["incidence_y"] = incidence_points(showers).T
    return {name: out[name] for name in OBSERVABLES}


def incidence_points(showers: Mapping[str, ArrayLike]) -> np.ndarray:
    """(N, 2) float64 incidence points (mm): the ``position`` key, or the centre without one
    (the format of files that never left it)."""
    n = len(np.asarray(showers[_ENERGY_KEY]))
    if "position" not in showers:
        return np.zeros((n, 2))
    position = np.asarray(showers["position"], dtype=np.float64)
    _check_shape("position", position, n, (2,))
    _check_finite("position", position)
    return position


def _get(showers: Mapping[str, ArrayLike], key: str) -> np.ndarray:
    if key not in showers:
        raise ValueError(f"showers lack the key {key!r} (have {sorted(showers)})")
    return np.asarray(showers[key], dtype=np.float64)


def _check_shape(key: str, array: np.ndarray, n_events: int | None, shape: tuple[int, ...]) -> None:
    if array.ndim != 1 + len(shape) or array.shape[1:] != shape or array.shape[0] != n_events:
        n = "N" if n_events is None else str(n_events)
        expected = f"({', '.join([n, *map(str, shape)])})"
        raise ValueError(f"showers[{key!r}] has shape {array.shape}, expected {expected}")


def _check_finite(key: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array).all(axis=tuple(range(1, array.ndim)))
    if bad.any():
        raise ValueError(
            f"showers[{key!r}] holds NaN or infinite values in {np.count_nonzero(bad)} shower(s)"
        )


def _weighted_mean_std(weights: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of ``values`` (k,) under ``weights`` (N, k); both 0 where the weights are."""
    total = weights.sum(axis=1)
    some = total > 0
    mean = np.zeros(len(weights))
    np.divide(weights @ values, total, out=mean, where=some)
    spread = (weights * (values[None, :] - mean[:, None]) ** 2).sum(axis=1)
    variance = np.zeros(len(weights))
    np.divide(spread, total, out=variance, where=some)
    return mean, np.sqrt(variance)


def _layer_energies(cells: Cells) -> np.ndarray:
    return np.stack([c.sum(axis=(1, 2)) for c in cells], axis=1)


def _fractions(energies: np.ndarray) -> np.ndarray:
    total = energies.sum(axis=1, keepdims=True)
    out = np.zeros_like(energies)
    np.divide(energies, total, out=out, where=total > 0)
    return out


def _depth(energies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    index = np.array([layer.index for layer in CALORIMETER.layers], dtype=np.float64)
    return _weighted_mean_std(energies, index)


def _lateral(cells: Cells, direction: Direction) -> tuple[np.ndarray, np.ndarray]:
    if direction not in ("x", "y"):
        raise ValueError(f"direction must be 'x' or 'y', got {direction!r}")
    means, stds = [], []
    for layer, c in zip(CALORIMETER.layers, cells, strict=True):
        if direction == "x":
            profile, coords = c.sum(axis=2), layer.x_centres_mm
        else:
            profile, coords = c.sum(axis=1), layer.y_centres_mm
        mean, std = _weighted_mean_std(profile, coords)
        means.append(mean)
        stds.append(std)
    return np.stack(means, axis=1), np.stack(stds, axis=1)


def _flat(c: np.ndarray) -> np.ndarray:
    """(N, n_x, n_y) -> (N, n_x * n_y), also for N = 0."""
    return c.reshape(c.shape[0], c.shape[1] * c.shape[2])


def _two_hottest(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = _flat(c)
    if flat.shape[1] < 2:
        return flat.max(axis=1, initial=0.0), np.zeros(len(flat))
    top = np.partition(flat, flat.shape[1] - 2, axis=1)[:, -2:]
    return top[:, 1], top[:, 0]


def _e_ratios(cells: Cells) -> np.ndarray:
    out = []
    for c in cells:
        first, second = _two_hottest(c)
        ratio = np.zeros(len(c))
        np.divide(first - second, first + second, out=ratio, where=first + second > 0)
        out.append(ratio)
    return np.stack(out, axis=1)


def _sparsities(cells: Cells) -> np.ndarray:
    return np.stack([(c != 0).mean(axis=(1, 2)) for c in cells], axis=1)


def _isolated_shares(cells: Cells) -> np.ndarray:
    out = []
    for c in cells:
        hit = c != 0
        padded = np.pad(hit, ((0, 0), (1, 1), (1, 1))).astype(np.uint8)  # 8 neighbours at most
        n_x, n_y = hit.shape[1:]
        neighbours = sum(
            padded[:, 1 + dx : 1 + dx + n_x, 1 + dy : 1 + dy + n_y]
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            if (dx, dy) != (0, 0)
        )
        isolated = (hit & (neighbours == 0)).sum(axis=(1, 2))
        n_hits = hit.sum(axis=(1, 2))
        share = np.zeros(len(c))
        np.divide(isolated, n_hits, out=share, where=n_hits > 0)
        out.append(share)
    return np.stack(out, axis=1)


def _max_cells(cells: Cells) -> np.ndarray:
    return np.stack([_flat(c).max(axis=1, initial=0.0) for c in cells], axis=1)
