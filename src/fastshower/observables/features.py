"""What classifiers see of an event: the inputs of the classifier test and of refiners.

Features, as CaloFlow's: every cell, log-scaled, plus log10 of the incident energy and of each
layer's energy, and the incidence point (mm): the conditions, so that a classifier can judge a
shower given where and with what energy it entered. The ``normalized`` variant gives each cell as
its share of its layer's energy, so a classifier must find differences in shapes.
``high_level_features`` are the shower-shape observables and each layer's cell-energy spectrum
instead (the CaloChallenge's "high-level" classifier, with the spectra its plots show). Jet
images: the 625 log-scaled pixels. All are float32 and computed ``FEATURE_CHUNK`` events at a
time, so memory stays bounded for 100k-event samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from fastshower.detector import CALORIMETER
from fastshower.observables.calo import (
    OBSERVABLES,
    cell_energy_spectra,
    incidence_points,
    shower_observables,
)

__all__ = ["FEATURE_CHUNK", "high_level_features", "image_features", "shower_features"]

FEATURE_CHUNK = 10_000
"""Events whose features are computed at a time."""
_LOG_FLOOR_MEV = 1e-3  # cells below 1 keV are empty as far as a classifier is concerned
_LOG_FLOOR_GEV = 1e-3


def shower_features(showers: Mapping[str, np.ndarray], normalized: bool = False) -> np.ndarray:
    """(N, n_cells + 1 + n_layers + 2) float32 classifier inputs for showers in the dataset
    layout, as CaloFlow's: every cell (log10, or its share of its layer's energy), log10 of the
    incident energy and of each layer's energy; then the incidence point (mm). Computed
    ``FEATURE_CHUNK`` showers at a time."""
    for layer in CALORIMETER.layers:
        if layer.key not in showers:
            raise ValueError(f"showers have no {layer.key!r}; the classifier needs every layer")
        shape = np.shape(showers[layer.key])
        if shape[1:] != layer.shape:
            raise ValueError(
                f"{layer.key} has shape {shape}; expected (N, {layer.n_x}, {layer.n_y})"
            )
    features = _chunked(showers, lambda part: _shower_features(part, normalized))
    _check_finite(features, "shower")
    return features


def _shower_features(showers: Mapping[str, np.ndarray], normalized: bool) -> np.ndarray:
    cells, layer_energy = [], []
    for layer in CALORIMETER.layers:
        flat = np.asarray(showers[layer.key], dtype=np.float64).reshape(-1, layer.n_cells)
        flat = np.clip(flat, 0, None)
        total = flat.sum(axis=1, keepdims=True)
        layer_energy.append(total)
        if normalized:
            cells.append(np.divide(flat, total, out=np.zeros_like(flat), where=total > 0))
        else:
            cells.append(np.log10(flat + _LOG_FLOOR_MEV))
    incident = np.asarray(showers["energy"], dtype=np.float64).reshape(-1, 1)
    return np.concatenate(
        [
            *cells,
            np.log10(incident + _LOG_FLOOR_GEV),
            np.log10(np.concatenate(layer_energy, axis=1) + _LOG_FLOOR_MEV),
            incidence_points(showers),
        ],
        axis=1,
    )


def high_level_features(showers: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N, n_observables + n_layers x n_bins) float32: the shower-shape observables
    (``observables.calo``, energies in log10; the CaloChallenge's "high-level" classifier) and
    each layer's cell-energy spectrum (``observables.calo.cell_energy_spectra``). Why the
    spectra: a generator can get every moment right and still give cells energies that Geant4
    does not (a flow's pions: AUC 0.85 from the spectra alone on 4200 showers per class, 0.52
    from the cells)."""

    def features(part: Mapping[str, np.ndarray]) -> np.ndarray:
        columns = []
        for name, values in shower_observables(part).items():
            unit = OBSERVABLES[name].unit
            floor = _LOG_FLOOR_GEV if unit == "GeV" else _LOG_FLOOR_MEV
            columns.append(np.log10(values + floor) if unit in ("MeV", "GeV") else values)
        return np.column_stack([*columns, cell_energy_spectra(part)])

    out = _chunked(showers, features)
    _check_finite(out, "shower")
    return out


def _chunked(
    showers: Mapping[str, np.ndarray],
    features: Callable[[Mapping[str, np.ndarray]], np.ndarray],
) -> np.ndarray:
    """``features`` of ``FEATURE_CHUNK`` showers at a time, as one float32 array."""
    n = len(showers["energy"])
    return np.concatenate(
        [
            features({k: v[start : start + FEATURE_CHUNK] for k, v in showers.items()}).astype(
                np.float32
            )
            for start in range(0, n, FEATURE_CHUNK)
        ]
    )


def image_features(images: np.ndarray) -> np.ndarray:
    """(N, n_pixels) float32 log-scaled pixels; negative pixels (LAGAN's rotation) count as
    empty."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    features = np.log10(np.clip(flat, 0, None) + _LOG_FLOOR_GEV)
    _check_finite(features, "image")
    return features.astype(np.float32)


def _check_finite(features: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(features)
    if bad.any():
        event = int(np.argmax(bad.any(axis=1)))
        raise ValueError(f"{what} {event} gives non-finite classifier inputs (NaN or inf cells?)")
