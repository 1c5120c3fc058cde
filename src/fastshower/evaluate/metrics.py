"""Distances between a reference sample (Geant4, Pythia) and a candidate sample (a generator) of
physics observables, JetNet style: every number comes with an uncertainty.

A classifier's AUC says *whether* two samples differ; these say *by how much*, observable by
observable, in the observable's own unit (Wasserstein-1), over the whole observable set
(Frechet distance, "FPD" in JetNet's papers, Kansal et al. arXiv:2106.11535 and 2211.10295) and
as a shape-only, unit-free number per histogram (the separation power of the CaloChallenge).
A distance measured on finite samples is never exactly zero, even between two samples of the
same generator; the bootstrap spread is what tells a real difference from that noise floor.

Uncertainties come from the bootstrap: ``n_bootstrap`` times, draw events *with replacement*
from both samples and recompute the distance. Two conventions, chosen by ``batch_size``:

* ``batch_size=None`` (default): each resample has its own sample's size; the value is the
  distance between the full samples and the uncertainty the standard deviation over resamples
  (the usual bootstrap standard error). Identical inputs give 0 (up to rounding).
* ``batch_size=n``: JetNet's ``w1m``/``w1p`` convention, ``n`` events from each sample per
  batch (its ``num_eval_samples``); value and uncertainty are the mean and standard deviation
  over the batches. The mean over resamples is the distance expected between two samples of
  ``n`` events, finite-sample noise floor included, so identical inputs give a positive value
  a few times its uncertainty. (JetNet's FPD extrapolates that bias away to infinite size; this
  module does not.)

Standard deviations use ``ddof=1`` (JetNet's ``np.std`` is ``ddof=0``). Even the full-sample
value between two independent samples of one generator is positive (a distance cannot
fluctuate below 0): compare a candidate's numbers with those of a second reference sample.

``fpd`` and ``kpd`` are JetNet's Frechet and kernel physics distances (Kansal et al.,
arXiv:2211.10295), which the CaloChallenge quotes: the Frechet distance extrapolated to infinite
sample size, and the unbiased maximum mean discrepancy with a quartic polynomial kernel, both on
features divided by the reference's largest absolute value. Implemented here to JetNet's
definitions (``jetnet`` itself pulls in coffea and energyflow); its default sample sizes shrink to
what the samples hold.

A weighted candidate (a refined sample's events with their ``weights``) is measured as its
weighted distribution: weighted W1 and histograms, weighted means and covariances, and the
batches of FPD and KPD drawn with probabilities proportional to the weights. Bootstraps resample
its events and keep each event's weight.

Randomness comes only from the ``seed`` argument (an int, or a ``np.random.Generator`` that is
advanced): the same seed gives the same numbers. numpy and scipy only: no torch, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypedDict

import numpy as np

__all__ = [
    "beyond_reference",
    "fpd",
    "frechet_distance",
    "frechet_from_moments",
    "histogram_separation",
    "kpd",
    "observable_distances",
    "profile",
    "profile_edges",
    "reference_edges",
    "wasserstein_1",
    "wasserstein_1_exact",
]

Seed = int | np.random.Generator | None

N_BOOTSTRAP = 20
"""Resamples per distance by default: a spread good to ~15 %, cheap for 10^5 events."""


TAIL_SPREADS = 3.0
"""How far beyond the reference's range, in its standard deviations, an event is in the tails."""


def beyond_reference(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    spreads: float = TAIL_SPREADS,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """The tails a generator makes and the reference never does: per observable (the keys both
    share), the fraction of candidate events more than ``spreads`` standard deviations beyond
    the reference's smallest or largest value; and the fraction beyond on any of them. A second
    sample of the reference itself gives the floor (about 0 for a large reference)."""
    keys = [k for k in reference if k in candidate]
    outside = []
    per_key = {}
    for key in keys:
        ref = np.asarray(reference[key], dtype=np.float64)
        cand = np.asarray(candidate[key], dtype=np.float64)
        margin = spreads * ref.std()
        beyond = (cand < ref.min() - margin) | (cand > ref.max() + margin)
        per_key[key] = float(np.average(beyond, weights=weights))
        outside.append(beyond)
    any_beyond = np.any(outside, axis=0) if outside else np.zeros(0, bool)
    share = float(np.average(any_beyond, weights=weights)) if len(any_beyond) else 0.0
    return {"any": share, "per_observable": per_key}


def wasserstein_1_exact(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Exact Wasserstein-1 between two 1-D empirical distributions, in the samples' unit.

    The integral of |CDF_reference - CDF_candidate| over the merged sorted support, exact for
    samples of any (and unequal) sizes (``scipy.stats.wasserstein_distance``).
    """
    from scipy.stats import wasserstein_distance

    a = _sample(reference, "reference", min_size=1)
    b = _sample(candidate, "candidate", min_size=1)
    return float(wasserstein_distance(a, b))


def wasserstein_1(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    batch_size: int | None = None,
    seed: Seed = 0,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """(value, uncertainty) of the exact 1-D Wasserstein-1, in the samples' unit.

    Bootstrapped as the module docstring says (``batch_size``). Both samples are 1-D, finite,
    and hold at least 2 entries; ``weights``: the candidate's.
    """
    a = _sample(reference, "reference", min_size=2)
    b = _sample(candidate, "candidate", min_size=2)
    return _bootstrap(_w1, a, b, n_bootstrap, batch_size, seed, _weights(weights, len(b)))


def frechet_from_moments(
    mean_1: np.ndarray, cov_1: np.ndarray, mean_2: np.ndarray, cov_2: np.ndarray
) -> float:
    """Frechet distance between Gaussians N(mean_1, cov_1) and N(mean_2, cov_2).

    ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2). The symmetric form has the same
    trace as (S1 S2)^1/2 but needs only eigendecompositions of symmetric positive semi-definite
    matrices; eigenvalues that rounding makes slightly negative are taken as 0, and so is a
    result of -1e-16. (``scipy.linalg.sqrtm`` of the non-symmetric S1 S2, as JetNet takes it,
    returns complex roots for nearly singular covariances, which then need trimming.)
    """
    mean_1 = np.atleast_1d(mean_1).astype(np.float64)
    mean_2 = np.atleast_1d(mean_2).astype(np.float64)
    cov_1 = np.atleast_2d(cov_1).astype(np.float64)
    cov_2 = np.atleast_2d(cov_2).astype(np.float64)
    d = mean_1.shape[0]
    if mean_1.shape != (d,) or mean_2.shape != (d,):
        raise ValueError(f"means must be vectors of one length, got {mean_1.shape}, {mean_2.shape}")
    if cov_1.shape != (d, d) or cov_2.shape != (d, d):
        raise ValueError(
            f"covariances must have shape ({d}, {d}), got {cov_1.shape} and {cov_2.shape}"
        )
    root_1 = _psd_sqrt(cov_1)
    middle = root_1 @ cov_2 @ root_1
    eigenvalues = np.linalg.eigvalsh(0.5 * (middle + middle.T))
    trace_root = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mean_1 - mean_2
    value = diff @ diff + np.trace(cov_1) + np.trace(cov_2) - 2.0 * trace_root
    return max(float(value), 0.0)


def frechet_distance(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    batch_size: int | None = None,
    seed: Seed = 0,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """(value, uncertainty) of the Frechet distance between the Gaussians fitted to two feature
    matrices (N, d) (a 1-D array is one feature), bootstrapped as the module docstring says.

    Every feature is first standardised with the full reference's mean and standard deviation,
    so observables in MeV and in mm weigh alike and the result is in units of the reference's
    spread: 1-D Gaussians shifted by delta give (delta / sigma_ref)^2, equal means and widths
    sigma_1, sigma_2 give ((sigma_1 - sigma_2) / sigma_1)^2. A feature that is constant in the
    reference cannot be standardised and is refused.
    """
    a = _features(reference, "reference")
    b = _features(candidate, "candidate")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"reference has {a.shape[1]} features but candidate has {b.shape[1]}; "
            "the feature dimensions must match"
        )
    centre, scale = a.mean(axis=0), a.std(axis=0)
    constant = np.flatnonzero(scale == 0)
    if constant.size:
        raise ValueError(
            f"reference features {constant.tolist()} are constant and cannot be standardised"
        )
    a, b = (a - centre) / scale, (b - centre) / scale
    return _bootstrap(
        _frechet_samples, a, b, n_bootstrap, batch_size, seed, _weights(weights, len(b))
    )


def fpd(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    min_samples: int = 20_000,
    max_samples: int = 50_000,
    num_batches: int = 20,
    num_points: int = 10,
    seed: Seed = 42,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """(value, uncertainty) of the Frechet physics distance between two feature matrices (N, d).

    For ``num_points`` batch sizes evenly spaced in 1/n between ``min_samples`` and
    ``max_samples`` (both capped by the smaller sample: at most that size, at least half of it),
    the mean Frechet distance of ``num_batches`` pairs of batches drawn with replacement; a
    straight line in 1/n through those means, with a non-negative intercept and slope, is
    extrapolated to n -> infinity. The intercept and its fit error are returned. Features are
    divided by the reference's largest absolute value first. Two samples of one distribution
    give 0 within the error; the finite-size bias that ``frechet_distance`` keeps is removed.
    """
    from scipy.optimize import curve_fit

    a, b = _normalised_pair(reference, candidate)
    largest = min(max_samples, len(a), len(b))
    smallest = min(min_samples, largest // 2) if largest >= min_samples else largest // 2
    if smallest < 2:
        raise ValueError(f"FPD needs at least 4 events per sample, got {len(a)} and {len(b)}")
    sizes = (1 / np.linspace(1 / smallest, 1 / largest, num_points)).astype(int)
    rng = _rng(seed)
    p = _weights(weights, len(b))
    means = [
        np.mean(
            [
                _frechet_samples(a[rng.integers(0, len(a), n)], b[_draw(len(b), n, p, rng)])
                for _ in range(num_batches)
            ]
        )
        for n in sizes
    ]
    params, covariance = curve_fit(
        lambda x, intercept, slope: intercept + slope * x,
        1 / sizes,
        means,
        bounds=([0, 0], [np.inf, np.inf]),
    )
    return float(params[0]), float(np.sqrt(covariance[0, 0]))


def kpd(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    num_batches: int = 10,
    batch_size: int = 5_000,
    seed: Seed = 42,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """(median, uncertainty) of the kernel physics distance between two feature matrices (N, d).

    ``num_batches`` times, ``batch_size`` events (at most the smaller sample's size) are drawn
    with replacement from each sample and the unbiased squared maximum mean discrepancy with the
    kernel k(x, y) = (x.y / d + 1)^4 is computed; the median over batches is the value and half
    the 16-84 % interquantile range the uncertainty. Features are divided by the reference's
    largest absolute value first. Two samples of one distribution give 0 within the error (it
    can be negative).
    """
    a, b = _normalised_pair(reference, candidate)
    n = min(batch_size, len(a), len(b))
    if n < 2:
        raise ValueError(f"KPD needs at least 2 events per sample, got {len(a)} and {len(b)}")
    rng = _rng(seed)
    p = _weights(weights, len(b))
    values = [
        _mmd_poly(a[rng.integers(0, len(a), n)], b[_draw(len(b), n, p, rng)])
        for _ in range(num_batches)
    ]
    low, high = np.percentile(values, [16.275, 83.725])
    return float(np.median(values)), float((high - low) / 2)


def _normalised_pair(reference: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, ...]:
    """Both feature matrices divided by the reference's largest absolute value per feature."""
    a = _features(reference, "reference")
    b = _features(candidate, "candidate")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"reference has {a.shape[1]} features but candidate has {b.shape[1]}; "
            "the feature dimensions must match"
        )
    scale = np.abs(a).max(axis=0)
    scale[scale == 0] = 1.0
    return a / scale, b / scale


def _mmd_poly(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD with the kernel (x.y / d + 1)^4."""
    gamma = 1.0 / x.shape[1]

    def kernel_sum(u: np.ndarray, v: np.ndarray, same: bool) -> float:
        k = u @ v.T
        k *= gamma
        k += 1.0
        np.square(k, out=k)  # squaring twice: the 4th power in a tenth of ``** 4``'s time
        np.square(k, out=k)
        return float(k.sum() - (np.trace(k) if same else 0.0))

    m, n = len(x), len(y)
    return (
        kernel_sum(x, x, True) / (m * (m - 1))
        + kernel_sum(y, y, True) / (n * (n - 1))
        - 2 * kernel_sum(x, y, False) / (m * n)
    )


def histogram_separation(
    reference: np.ndarray,
    candidate: np.ndarray,
    bins: int | np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    """CaloChallenge separation power 0.5 * sum (h1 - h2)^2 / (h1 + h2) of two normalised
    histograms with shared bins: 0 for identical histograms, 1 for disjoint ones.

    ``bins`` is a number of equal-width bins over the range of both samples together, or the
    increasing edges (e.g. ``reference_edges``). Entries outside the edges are counted in an
    underflow and an overflow bin, so a candidate that misses the reference's range is
    penalised instead of silently dropped; each histogram is divided by its sample's size. Bins
    empty in both histograms are skipped.
    """
    a = _sample(reference, "reference", min_size=1)
    b = _sample(candidate, "candidate", min_size=1)
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        low, high = min(a.min(), b.min()), max(a.max(), b.max())
        edges = np.linspace(low, high, int(bins) + 1) if high > low else _point_edges(low)
    else:
        edges = _edges(bins)
    h1, h2 = _normalised_counts(a, edges), _normalised_counts(b, edges, _weights(weights, len(b)))
    total = h1 + h2
    filled = total > 0
    return float(0.5 * np.sum((h1[filled] - h2[filled]) ** 2 / total[filled]))


def reference_edges(
    reference: np.ndarray, n_bins: int = 50, binning: Literal["quantile", "range"] = "quantile"
) -> np.ndarray:
    """Bin edges drawn from the reference alone: ``"quantile"`` gives bins of equal reference
    content (tails do not dominate; repeated quantiles of a discrete observable merge),
    ``"range"`` equal-width bins over the reference's min..max. A constant reference gives one
    narrow bin around its value."""
    a = _sample(reference, "reference", min_size=1)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if binning == "quantile":
        edges = np.unique(np.quantile(a, np.linspace(0.0, 1.0, n_bins + 1)))
    elif binning == "range":
        edges = np.unique(np.linspace(a.min(), a.max(), n_bins + 1))
    else:
        raise ValueError(f"binning must be 'quantile' or 'range', got {binning!r}")
    return edges if edges.size >= 2 else _point_edges(a[0])


class _Bootstrap(TypedDict):
    """The bootstrap settings ``observable_distances`` passes on to every distance."""

    n_bootstrap: int
    batch_size: int | None
    seed: Seed
    weights: np.ndarray | None


def observable_distances(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    *,
    n_bins: int = 50,
    binning: Literal["quantile", "range"] = "quantile",
    n_bootstrap: int = N_BOOTSTRAP,
    batch_size: int | None = None,
    seed: Seed = 0,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """All distances between two observable dictionaries (as ``image_observables`` returns),
    over the keys they share (in the reference's order; other keys are ignored); ``weights``:
    the candidate's events'.

    Returns ``{"keys": [...], "wasserstein_1": {key: (value, uncertainty)}, "separation":
    {key: float}, "frechet": (value, uncertainty)}``: W1 in each observable's unit, the
    separation with ``reference_edges(reference[key], n_bins, binning)``, and the Frechet
    distance over all shared keys at once (so every observable of a sample needs one length).
    One generator drawn from ``seed`` feeds every bootstrap in turn.
    """
    keys = [key for key in reference if key in candidate]
    if not keys:
        raise ValueError(
            f"reference and candidate share no observable: {sorted(reference)} vs "
            f"{sorted(candidate)}"
        )
    ref = {key: _sample(reference[key], f"reference[{key!r}]", min_size=2) for key in keys}
    can = {key: _sample(candidate[key], f"candidate[{key!r}]", min_size=2) for key in keys}
    for name, sample in (("reference", ref), ("candidate", can)):
        lengths = {key: len(values) for key, values in sample.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{name} observables differ in length: {lengths}")
    constant = [key for key in keys if np.all(ref[key] == ref[key][0])]
    if constant:
        raise ValueError(
            f"reference observables {constant} are constant; the Frechet distance cannot "
            "standardise them (leave them out)"
        )
    rng = _rng(seed)
    boot: _Bootstrap = {
        "n_bootstrap": n_bootstrap,
        "batch_size": batch_size,
        "seed": rng,
        "weights": weights,
    }
    return {
        "keys": keys,
        "wasserstein_1": {key: wasserstein_1(ref[key], can[key], **boot) for key in keys},
        "separation": {
            key: histogram_separation(
                ref[key], can[key], reference_edges(ref[key], n_bins, binning), weights
            )
            for key in keys
        },
        "frechet": frechet_distance(
            np.column_stack([ref[key] for key in keys]),
            np.column_stack([can[key] for key in keys]),
            **boot,
        ),
    }


def _w1(a: np.ndarray, b: np.ndarray, w: np.ndarray | None = None) -> float:
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b, v_weights=w))


def _frechet_samples(a: np.ndarray, b: np.ndarray, w: np.ndarray | None = None) -> float:
    mean_b = np.average(b, axis=0, weights=w)
    cov_b = _cov(b) if w is None else np.atleast_2d(np.cov(b, rowvar=False, aweights=w))
    return frechet_from_moments(a.mean(axis=0), _cov(a), mean_b, cov_b)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative rounding -> 0)."""
    eigenvalues, vectors = np.linalg.eigh(0.5 * (matrix + matrix.T))
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def _cov(x: np.ndarray) -> np.ndarray:
    """Sample covariance (ddof = 1) of the rows of x, always (d, d)."""
    return np.atleast_2d(np.cov(x, rowvar=False))


def _sample(values: Any, name: str, *, min_size: int) -> np.ndarray:
    """A finite 1-D float64 array of at least ``min_size`` entries, or a ValueError."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {x.shape}")
    _check_entries(x, name, len(x), min_size)
    return x


def _features(values: Any, name: str) -> np.ndarray:
    """A finite (N, d) float64 matrix (1-D input is one feature) with N >= 2, or a ValueError."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a (N, d) feature matrix, got shape {x.shape}")
    _check_entries(x, name, x.shape[0], 2)
    return x


def _check_entries(x: np.ndarray, name: str, n: int, min_size: int) -> None:
    if n == 0:
        raise ValueError(f"{name} is empty")
    bad = np.count_nonzero(~np.isfinite(x))
    if bad:
        raise ValueError(f"{name} contains {bad} NaN or inf entries")
    if n < min_size:
        raise ValueError(f"{name} needs at least {min_size} entries for a bootstrap, got {n}")


def _edges(bins: Any) -> np.ndarray:
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"bin edges must be a 1-D array of at least 2 edges, got {edges.shape}")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError("bin edges must be finite and strictly increasing")
    return edges


def _point_edges(value: float) -> np.ndarray:
    """One narrowest bin holding ``value``, for a sample without spread."""
    return np.array([np.nextafter(value, -np.inf), np.nextafter(value, np.inf)])


def _normalised_counts(
    x: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Fractions of x (weighted) in [underflow, edges' bins (last one closed), overflow]."""
    index = np.searchsorted(edges, x, side="right")
    index[x == edges[-1]] = edges.size - 1
    counts = np.bincount(index, weights=weights, minlength=edges.size + 1)
    return counts / counts.sum()


def _bootstrap(
    statistic: Callable[..., float],
    a: np.ndarray,
    b: np.ndarray,
    n_bootstrap: int,
    batch_size: int | None,
    seed: Seed,
    weights: np.ndarray | None = None,
) -> tuple[float, float]:
    """(value, uncertainty) of ``statistic(a, b[, weights])`` under the module's bootstrap
    conventions; a weighted candidate's resampled events keep their weights."""
    if n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be >= 2 for an uncertainty, got {n_bootstrap}")
    if batch_size is not None and batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (or None), got {batch_size}")
    rng = _rng(seed)
    values = []
    for _ in range(n_bootstrap):
        rows_a, rows_b = _resample(len(a), batch_size, rng), _resample(len(b), batch_size, rng)
        w = None if weights is None else weights[rows_b]
        values.append(statistic(a[rows_a], b[rows_b], w))
    spread = float(np.std(values, ddof=1))
    if batch_size is None:
        return statistic(a, b, weights), spread
    return float(np.mean(values)), spread


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _resample(n: int, batch_size: int | None, rng: np.random.Generator) -> np.ndarray:
    """n (or batch_size) row indices drawn with replacement from n rows."""
    return rng.integers(0, n, size=n if batch_size is None else batch_size)


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray | None:
    """A candidate's event weights as float64 probabilities (summing to 1), checked."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(w) != n or not np.all(np.isfinite(w)) or (w < 0).any() or not w.sum() > 0:
        raise ValueError(f"weights must be {n} finite values >= 0, not all 0")
    return w / w.sum()


def _draw(n: int, size: int, p: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """``size`` of n rows drawn with replacement, with probabilities ``p`` (uniform: None)."""
    return rng.integers(0, n, size) if p is None else rng.choice(n, size, p=p)


def profile_edges(x: np.ndarray) -> np.ndarray:
    """About sqrt(N) equal bins (at most 20) over the reference's values of the profile's
    variable (the incident energy, the incidence point), the largest value inside; a fixed
    value gets one bin around it."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n_bins = int(np.clip(round(np.sqrt(len(x))), 1, 20))
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        half = max(0.05 * abs(lo), 0.05)
        lo, hi = lo - half, hi + half
    return np.linspace(lo, np.nextafter(hi, np.inf), n_bins + 1)


def profile(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``y`` per bin of ``x`` and its standard error; NaN for bins with fewer than two
    events (one event has no spread to quote)."""
    import hist

    h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Mean()).fill(
        np.asarray(x, np.float64).reshape(-1), sample=np.asarray(y, np.float64).reshape(-1)
    )
    ok = h.counts() >= 2
    means = np.where(ok, h.values(), np.nan)
    with np.errstate(invalid="ignore"):
        errors = np.where(ok, np.sqrt(h.variances()), np.nan)
    return means, errors
