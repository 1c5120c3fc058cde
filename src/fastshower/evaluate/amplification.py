"""How many Geant4 events is a generated sample worth? (GANplification, Butter et al.,
arXiv:2008.06545; for showers arXiv:2202.07352.)

For one observable: half of the reference sets the truth, the observable's shares p_k in
``n_bins`` quantile bins of that half. A sample's error is the summed squared difference of its
shares from the truth's. A simulated sample of n events, independent of the truth half (of m
events), has the expected error c (1 / n + 1 / m) with c = 1 - sum p_k^2: multinomial noise,
its own and the truth's. A generated sample with error e is therefore worth c / (e - c / m)
simulated events; one whose error is not above c / m, the truth's own noise, is worth more than
the measurement resolves. The error is averaged over ``splits`` random halvings of the
reference; subsamples of the other half, at growing n, check the law (they are the curve the
report draws). With 50 bins a worth is known to about 20 % (the error of 50 shares fluctuates
so); a generator worth more events than it was trained on amplifies its training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AMPLIFICATION_BINS", "Amplification", "amplification"]

AMPLIFICATION_BINS = 50
"""Quantile bins of the truth half: with 50, a worth is known to about 20 %."""


@dataclass
class Amplification:
    """One observable's amplification measurement (module docstring)."""

    observable: str
    n_candidate: int
    candidate_error: float
    sizes: list[int]
    """Subsample sizes of the reference's second half ..."""
    errors: list[float]
    """... and their mean errors."""
    slope: float
    """c: a simulated sample of n events has the error c (1 / n + 1 / m)."""
    floor: float
    """c / m: the truth half's own noise, below which nothing is resolved."""
    equivalent_events: float | None
    """Simulated events with the candidate's error; None: beyond the resolution."""

    def summary(self) -> dict[str, object]:
        return {
            "observable": self.observable,
            "n_candidate": self.n_candidate,
            "candidate_error": self.candidate_error,
            "equivalent_events": self.equivalent_events,
            "resolution_floor": self.floor,
            "sizes": self.sizes,
            "errors": self.errors,
        }


def amplification(
    observable: str,
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    n_bins: int = AMPLIFICATION_BINS,
    splits: int = 5,
    repeats: int = 10,
    seed: int = 0,
) -> Amplification:
    """The worth of ``candidate`` (weighted by ``weights``, if given) in simulated events, for
    one observable, against the ``reference`` sample of it (module docstring)."""
    reference = np.asarray(reference, dtype=np.float64).reshape(-1)
    candidate = np.asarray(candidate, dtype=np.float64).reshape(-1)
    if len(reference) < 4 * n_bins or len(candidate) < 2:
        raise ValueError(
            f"amplification in {n_bins} bins needs at least {4 * n_bins} reference events and 2 "
            f"candidate events; got {len(reference)} and {len(candidate)}"
        )
    rng = np.random.default_rng(seed)
    m = len(reference) // 2
    sizes = sorted({int(s) for s in np.geomspace(n_bins, len(reference) - m, 8)})
    candidate_errors, curves, slopes = [], [], []
    for _ in range(splits):
        shuffled = reference[rng.permutation(len(reference))]
        truth_half, pool = shuffled[:m], shuffled[m:]
        inner = np.unique(np.quantile(truth_half, np.linspace(0, 1, n_bins + 1)[1:-1]))
        edges = np.concatenate([[-np.inf], inner, [np.inf]])
        truth = _shares(truth_half, edges)
        slopes.append(1.0 - float((truth**2).sum()))
        candidate_errors.append(_error(candidate, edges, truth, weights))
        curves.append(
            [
                np.mean(
                    [
                        _error(pool[rng.choice(len(pool), n, replace=False)], edges, truth)
                        for _ in range(repeats)
                    ]
                )
                for n in sizes
            ]
        )
    slope, error = float(np.mean(slopes)), float(np.mean(candidate_errors))
    floor = slope / m
    return Amplification(
        observable,
        len(candidate),
        error,
        sizes,
        [float(e) for e in np.mean(curves, axis=0)],
        slope,
        floor,
        slope / (error - floor) if error > floor else None,
    )


def _error(
    values: np.ndarray, edges: np.ndarray, truth: np.ndarray, weights: np.ndarray | None = None
) -> float:
    return float(((_shares(values, edges, weights) - truth) ** 2).sum())


def _shares(values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    counts, _ = np.histogram(values, bins=edges, weights=weights)
    return counts / max(float(counts.sum()), 1e-300)
