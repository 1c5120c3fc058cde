"""A refiner: a classifier between a generator's events and the reference's, turned into
per-event weights that bring the generated sample towards the reference.

If a classifier, trained on equal numbers of reference (label 1) and generated (label 0)
events, gives an event the calibrated probability p of being the reference's, then
w = p / (1 - p) is the ratio of the two densities there (the likelihood-ratio trick): weighting
generated events by w makes their distribution the reference's, as far as the classifier could
see (DCTR, Andreassen et al., arXiv:2009.03796). The network sees one of the classifier test's
feature sets (``observables.features``); its scores are calibrated by an isotonic fit stored
here as a piecewise-linear table, so a refiner file, like a model file, needs no pickle. Weights
are clipped at ``clip``: an event the generator almost never makes would otherwise carry the
sample (the effective sample size, (sum w)^2 / sum w^2, says how much the weights cost).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from fastshower.observables.features import (
    high_level_features,
    image_features,
    shower_features,
)

__all__ = [
    "CONDITION_BINS",
    "FEATURE_SETS",
    "REFINER",
    "Refiner",
    "condition_groups",
    "effective_sample_size",
    "refiner_features",
]

REFINER = "refiner"
"""The name refiner folders record as their model."""
FEATURE_SETS = ("high-level", "cells", "pixels")
"""What a refiner can look at: the shower observables and cell spectra, every cell (both as
the classifier test sees them) or a jet image's pixels."""


def refiner_features(arrays: Mapping[str, np.ndarray], features: str) -> np.ndarray:
    """The (N, d) float32 inputs of a refiner that looks at ``features``."""
    if features not in FEATURE_SETS:
        raise ValueError(f"features must be one of {FEATURE_SETS}, got {features!r}")
    if (features == "pixels") != ("image" in arrays):
        kind = "jet images" if "image" in arrays else "showers"
        raise ValueError(f"a refiner on {features!r} cannot weigh {kind}")
    if features == "high-level":
        return high_level_features(arrays)
    if features == "cells":
        return shower_features(arrays)
    return image_features(arrays["image"])


def effective_sample_size(weights: np.ndarray) -> float:
    """(sum w)^2 / sum w^2: how many unweighted events the weighted sample is worth."""
    w = np.asarray(weights, dtype=np.float64)
    total = float((w * w).sum())
    return float(w.sum() ** 2 / total) if total > 0 else 0.0


CONDITION_BINS = 10
"""Quantile bins of the incident energy within which a sample's weights average 1."""


def condition_groups(arrays: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Boolean row masks of the events generated under about the same condition: per jet class,
    or per ``CONDITION_BINS`` quantile bins of the incident energy (and per particle)."""
    if "signal" in arrays:
        signal = np.asarray(arrays["signal"]).reshape(-1)
        return [signal == c for c in np.unique(signal)]
    energy = np.asarray(arrays["energy"], dtype=np.float64).reshape(-1)
    particle = np.asarray(arrays.get("particle", np.zeros(len(energy)))).reshape(-1)
    groups = []
    for p in np.unique(particle):
        mine = particle == p
        edges = np.quantile(energy[mine], np.linspace(0, 1, CONDITION_BINS + 1)[1:-1])
        bins = np.searchsorted(edges, energy, side="right")
        groups += [mine & (bins == b) for b in np.unique(bins[mine])]
    return groups


class Refiner(nn.Module):
    """Features -> the classifier's logit; ``weights`` turns arrays into per-event weights."""

    mean: torch.Tensor
    std: torch.Tensor
    calibration_x: torch.Tensor
    calibration_y: torch.Tensor

    def __init__(
        self,
        features: str = "high-level",
        n_features: int = 1,
        hidden: Sequence[int] = (256, 256, 256),
        n_calibration: int = 2,
        clip: float = 20.0,
    ) -> None:
        super().__init__()
        if features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {FEATURE_SETS}, got {features!r}")
        if n_features < 1 or not hidden or min(hidden) < 1 or n_calibration < 2 or clip <= 1:
            raise ValueError(
                "need n_features >= 1, positive hidden sizes, n_calibration >= 2 and clip > 1"
            )
        self.features, self.clip = features, float(clip)
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.network = nn.Sequential(*layers, nn.Linear(width, 1))
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("calibration_x", torch.linspace(0.0, 1.0, n_calibration))
        self.register_buffer("calibration_y", torch.linspace(0.0, 1.0, n_calibration))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Raw features (N, d) -> logits (N,) of being the reference's."""
        return self.network((features - self.mean) / self.std).squeeze(1)

    @torch.no_grad()
    def probabilities(self, features: np.ndarray, batch_size: int = 10_000) -> np.ndarray:
        """Calibrated probabilities (N,) that events with these features are the reference's."""
        self.eval()
        x = torch.from_numpy(np.asarray(features, dtype=np.float32))
        scores = torch.cat([torch.sigmoid(self(part)) for part in x.split(batch_size)])
        return np.interp(
            scores.numpy().astype(np.float64),
            self.calibration_x.numpy().astype(np.float64),
            self.calibration_y.numpy().astype(np.float64),
        )

    def weights(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-event weights (N,) float32 of events in the dataset layout: p / (1 - p), clipped
        to [0, ``clip``], then scaled to average 1 within each condition (``condition_groups``).
        Why: the generator was asked for those incident energies (jet classes); the weights
        must reshape the events at each, not move events between them, which a finite sample's
        weights otherwise do."""
        p = self.probabilities(refiner_features(arrays, self.features))
        odds = np.divide(p, 1.0 - p, out=np.full_like(p, self.clip), where=p < 1.0)
        weights = np.clip(odds, 0.0, self.clip).astype(np.float32)
        for rows in condition_groups(arrays):
            total = weights[rows].sum()
            if total > 0:
                weights[rows] *= rows.sum() / total
        return weights

    def config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this refiner (saved beside its weights)."""
        hidden = [m.out_features for m in self.network if isinstance(m, nn.Linear)][:-1]
        return {
            "features": self.features,
            "n_features": int(self.mean.numel()),
            "hidden": hidden,
            "n_calibration": int(self.calibration_x.numel()),
            "clip": self.clip,
        }
