"""Validation by incidence point: does a generated shower move with where its particle entered,
and is it as good everywhere as at the centre?

Where the reference's incidence points spread (a production with ``--position-spread``), a
report adds:

- **profiles**: each layer's centroid and width against the incidence point, x against x and y
  against y, with the reference in the same plot (``comparison_plots.plot_profile_comparison``
  with the difference candidate - reference below it). A layer's centroid is not the incidence
  point: its cells are 5-160 mm wide, so the centroid follows the particle in steps where the
  shower is narrower than a cell. A generator has to learn those steps.
  ``profile_agreement`` says, per observable, how far the candidate's means are from the
  reference's in units of the reference's own standard error, bin by bin;
- **the classifier test in position bins**: the same classifier (the verdict of the full
  sample), its held-out scores read in ``POSITION_BINS`` equal bins of x and of y
  (``binned_aucs``). The classifier sees the incidence point among its inputs, so a shower at
  the right energy but in the wrong place is told apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastshower.detector import CALORIMETER
from fastshower.evaluate.classifier import ClassifierResult
from fastshower.evaluate.metrics import profile

__all__ = [
    "AXES",
    "MIN_SPREAD_MM",
    "POSITION_BINS",
    "binned_aucs",
    "position_edges",
    "profile_agreement",
    "profile_keys",
    "spreads",
]

AXES = ("x", "y")
POSITION_BINS = 5
"""Bins of each coordinate in which the classifier test is read: about 800 held-out showers of
each class per bin at 20k showers per class (the test split is a fifth of both samples)."""
MIN_SPREAD_MM = 1.0
"""A reference whose incidence points span less than this (in x and in y) is at one point."""


def spreads(positions: np.ndarray) -> bool:
    """Whether incidence points (N, 2) spread (more than ``MIN_SPREAD_MM`` in x or in y)."""
    span = np.ptp(np.asarray(positions, dtype=np.float64), axis=0)
    return bool((span > MIN_SPREAD_MM).any())


def profile_keys(axis: str) -> list[str]:
    """The observables profiled against the incidence point's ``axis``: each layer's centroid
    and width along it."""
    return [
        f"{name}_{axis}_layer_{layer.index}"
        for name in ("centroid", "width")
        for layer in CALORIMETER.layers
    ]


def position_edges(positions: np.ndarray) -> dict[str, np.ndarray]:
    """``POSITION_BINS`` equal bins per axis over the reference's incidence points (N, 2)."""
    positions = np.asarray(positions, dtype=np.float64)
    return {
        axis: np.linspace(
            positions[:, i].min(), np.nextafter(positions[:, i].max(), np.inf), POSITION_BINS + 1
        )
        for i, axis in enumerate(AXES)
    }


def binned_aucs(result: ClassifierResult, edges: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The classifier's AUC (and its error) in each bin of each axis, from its test scores and
    the incidence points it was given as tags (``judge(..., tags=...)``)."""
    if result.reference_tags.ndim != 2:
        raise ValueError("the classifier was judged without the incidence points as tags")
    out: dict[str, Any] = {}
    for i, axis in enumerate(AXES):
        bins = []
        for low, high in zip(edges[axis][:-1], edges[axis][1:], strict=True):
            ref = (result.reference_tags[:, i] >= low) & (result.reference_tags[:, i] < high)
            cand = (result.candidate_tags[:, i] >= low) & (result.candidate_tags[:, i] < high)
            auc, error = result.auc_where(ref, cand)
            bins.append(
                {
                    "low_mm": float(low),
                    "high_mm": float(high),
                    "n_reference": int(ref.sum()),
                    "n_candidate": int(cand.sum()),
                    "auc": auc,
                    "auc_uncertainty": error,
                }
            )
        out[axis] = bins
    return out


def profile_agreement(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    keys: list[str],
    x_key: str,
    edges: np.ndarray,
) -> dict[str, Any]:
    """Per observable: the candidate's mean minus the reference's in each bin of ``x_key``, in
    units of the reference's standard error of the mean (its own uncertainty), how many bins lie
    within it, and chi2 per bin with both samples' errors (about 1 for two samples of the same
    physics; a simulated candidate of the reference's size lies within the reference's error in
    about half of the bins). Bins with fewer than two events of either sample are left out."""
    out = {}
    for key in keys:
        ref_mean, ref_error = profile(reference[x_key], reference[key], edges)
        mean, error = profile(candidate[x_key], candidate[key], edges)
        with np.errstate(divide="ignore", invalid="ignore"):
            pulls = (mean - ref_mean) / ref_error
            chi2 = (mean - ref_mean) ** 2 / (ref_error**2 + error**2)
        used = np.isfinite(pulls) & np.isfinite(chi2)
        out[key] = {
            "difference": (mean - ref_mean).tolist(),
            "reference_error": ref_error.tolist(),
            "largest_pull": float(np.abs(pulls[used]).max()) if used.any() else float("nan"),
            "bins_within_reference_error": int((np.abs(pulls[used]) <= 1).sum()),
            "chi2_per_bin": float(chi2[used].mean()) if used.any() else float("nan"),
            "bins": int(used.sum()),
        }
    return out
