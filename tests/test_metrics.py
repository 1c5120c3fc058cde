"""JetNet-style distances against cases whose answers are known analytically or by hand."""

from __future__ import annotations

import numpy as np
import pytest

from fastshower.evaluate.metrics import (
    beyond_reference,
    fpd,
    frechet_distance,
    frechet_from_moments,
    histogram_separation,
    kpd,
    observable_distances,
    reference_edges,
    wasserstein_1,
    wasserstein_1_exact,
)

N = 5000
"""Events per Gaussian sample: uncertainties ~0.02, every test well under a second."""

PULL = 5.0
"""Allowed |value - truth| in uncertainties (the bootstrap spread is itself good to ~15 %)."""


def gaussian(mean: float, sigma: float, seed: int, size: int = N) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sigma, size=size)


# Wasserstein-1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # CDFs on [0, 1): 2/3 vs 0; [1, 2): 2/3 vs 1/2; [2, 3): 2/3 vs 1 -> 2/3 + 1/6 + 1/3.
        ([0.0, 0.0, 3.0], [1.0, 2.0], 7 / 6),
        # [0, 0.5): 1/2 vs 0; [0.5, 1): 1/2 vs 1 -> 1/4 + 1/4.
        ([0.0, 1.0], [0.5], 0.5),
        ([0.0, 1.0, 3.0], [5.0, 6.0, 8.0], 5.0),
        ([2.0], [2.0], 0.0),
    ],
)
def test_wasserstein_1_by_hand(a: list[float], b: list[float], expected: float) -> None:
    assert wasserstein_1_exact(np.array(a), np.array(b)) == pytest.approx(expected)
    assert wasserstein_1_exact(np.array(b), np.array(a)) == pytest.approx(expected)


def test_wasserstein_1_of_equal_sizes_pairs_sorted_values() -> None:
    """For equal sizes the optimal transport pairs the i-th smallest values."""
    rng = np.random.default_rng(1)
    a, b = rng.exponential(size=300), rng.normal(size=300)
    expected = np.mean(np.abs(np.sort(a) - np.sort(b)))
    assert wasserstein_1_exact(a, b) == pytest.approx(expected, rel=1e-12)


def test_identical_samples_are_at_zero_distance() -> None:
    x = gaussian(3.0, 2.0, seed=2)
    value, uncertainty = wasserstein_1(x, x)
    assert value == 0.0
    assert 0.0 < uncertainty < 0.1
    features = np.column_stack([x, x**2, gaussian(0.0, 1.0, seed=3)])
    value, uncertainty = frechet_distance(features, features)
    assert abs(value) < 1e-9
    assert uncertainty > 0.0


@pytest.mark.parametrize("delta", [1.0, -1.0])
def test_shifted_gaussians(delta: float) -> None:
    """W1 = |delta|; Frechet = (delta / sigma)^2 after standardising with the reference."""
    sigma = 2.0
    reference, candidate = gaussian(0.0, sigma, seed=4), gaussian(delta, sigma, seed=5)
    value, uncertainty = wasserstein_1(reference, candidate, seed=6)
    assert abs(value - abs(delta)) < PULL * uncertainty
    value, uncertainty = frechet_distance(reference, candidate, seed=6)
    assert abs(value - (delta / sigma) ** 2) < PULL * uncertainty


def test_gaussians_of_different_widths() -> None:
    """Equal means, widths s1 and s2: Frechet = (s1 - s2)^2, here in units of s1 = 2."""
    reference, candidate = gaussian(1.0, 2.0, seed=7), gaussian(1.0, 3.0, seed=8)
    value, uncertainty = frechet_distance(reference, candidate, seed=9)
    assert abs(value - ((2.0 - 3.0) / 2.0) ** 2) < PULL * uncertainty
    assert frechet_from_moments(np.array([1.0]), 4.0, np.array([1.0]), 9.0) == pytest.approx(1.0)


def test_frechet_from_moments_in_two_dimensions() -> None:
    """Non-commuting covariances: Tr (S1 S2)^1/2 from the eigenvalues of S1 S2 themselves."""
    s1 = np.array([[2.0, 0.6], [0.6, 1.0]])
    s2 = np.array([[0.5, -0.2], [-0.2, 3.0]])
    m1, m2 = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    trace_root = np.sqrt(np.linalg.eigvals(s1 @ s2).real).sum()
    expected = 1.0 + 4.0 + np.trace(s1) + np.trace(s2) - 2 * trace_root
    assert frechet_from_moments(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-12)
    assert frechet_from_moments(m2, s2, m1, s1) == pytest.approx(expected, rel=1e-12)
    assert frechet_from_moments(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-12)
    # Diagonal covariances: sum of (sigma_1 - sigma_2)^2, a singular one included.
    diagonal = frechet_from_moments(m1, np.diag([4.0, 0.0]), m1, np.diag([1.0, 9.0]))
    assert diagonal == pytest.approx(1.0 + 9.0)


def test_frechet_is_independent_of_units() -> None:
    """Standardising with the reference: a feature in MeV or in GeV gives one distance."""
    reference = np.column_stack([gaussian(0.0, 1.0, seed=10), gaussian(5.0, 2.0, seed=11)])
    candidate = np.column_stack([gaussian(0.3, 1.0, seed=12), gaussian(5.0, 2.5, seed=13)])
    in_gev = frechet_distance(reference, candidate, seed=14)
    mev = np.array([1.0, 1000.0])
    in_mev = frechet_distance(reference * mev, candidate * mev, seed=14)
    assert in_mev == pytest.approx(in_gev, rel=1e-9)


def test_jetnet_batches_measure_the_noise_floor() -> None:
    """With batch_size the value is the mean over batches: positive for identical samples."""
    x = gaussian(0.0, 1.0, seed=15)
    value, uncertainty = wasserstein_1(x, x, batch_size=500, seed=16)
    assert 0.0 < value < 0.2
    assert uncertainty > 0.0
    shifted = gaussian(0.5, 1.0, seed=17)
    value, uncertainty = wasserstein_1(x, shifted, batch_size=2000, seed=16)
    assert abs(value - 0.5) < PULL * uncertainty + 0.05  # plus the noise floor at 2000 events


def test_same_seed_same_numbers() -> None:
    a, b = gaussian(0.0, 1.0, seed=18), gaussian(0.2, 1.1, seed=19)
    for distance in (wasserstein_1, frechet_distance):
        assert distance(a, b, seed=3) == distance(a, b, seed=3)
        assert distance(a, b, seed=3)[1] != distance(a, b, seed=4)[1]
        generator = np.random.default_rng(3)
        assert distance(a, b, seed=generator) == distance(a, b, seed=3)
        assert distance(a, b, seed=generator) != distance(a, b, seed=3)  # it was advanced


# JetNet's FPD and KPD


def test_fpd_of_shifted_gaussians_matches_the_formula() -> None:
    """Gaussians of unit width, one shifted by 0.3 in its first feature: after the division by
    the reference's largest |value|, the Frechet distance is (0.3 / max|x_0|)^2; two samples of
    one Gaussian give 0 within a few errors, where the plain Frechet distance keeps its bias."""
    rng = np.random.default_rng(20)
    reference, same = rng.normal(size=(2, 20_000, 4))
    shifted = same + np.array([0.3, 0.0, 0.0, 0.0])
    expected = (0.3 / np.abs(reference[:, 0]).max()) ** 2
    value, error = fpd(reference, shifted, seed=1)
    assert value == pytest.approx(expected, rel=0.25)
    assert 0 < error < 0.1 * value
    floor, floor_error = fpd(reference, same, seed=1)
    assert floor < 0.05 * expected
    assert fpd(reference, same, seed=1) == (floor, floor_error)  # seeded


def test_kpd_separates_what_differs() -> None:
    rng = np.random.default_rng(21)
    reference, same = rng.normal(size=(2, 3000, 3))
    value, error = kpd(reference, same + np.array([0.0, 0.0, 0.5]), seed=2)
    floor, floor_error = kpd(reference, same, seed=2)
    assert abs(floor) < 3 * floor_error + 1e-6
    assert value > 5 * error and value > floor + 5 * floor_error
    with pytest.raises(ValueError, match="features"):
        kpd(reference, same[:, :2])


# Histogram separation


def test_histogram_separation_identical_and_disjoint() -> None:
    x = gaussian(0.0, 1.0, seed=20, size=1000)
    assert histogram_separation(x, x, 30) == 0.0
    assert histogram_separation(x, x + 100.0, 30) == pytest.approx(1.0)
    # A candidate beyond the reference's edges lands in the overflow bin, not nowhere.
    assert histogram_separation(x, x + 100.0, reference_edges(x)) == pytest.approx(1.0)


def test_histogram_separation_by_hand() -> None:
    """Edges [0, 1, 2]: h1 = (1/2, 1/2), h2 = (0, 1) -> 0.5 (1/4 / 1/2 + 1/4 / 3/2) = 1/3."""
    edges = np.array([0.0, 1.0, 2.0])
    value = histogram_separation(np.array([0.5, 1.5]), np.array([2.0, 1.5]), edges)
    assert value == pytest.approx(1 / 3)


def test_reference_edges() -> None:
    x = np.arange(100.0)
    quantile = reference_edges(x, n_bins=4)
    assert quantile == pytest.approx([0.0, 24.75, 49.5, 74.25, 99.0])
    assert reference_edges(x, n_bins=3, binning="range") == pytest.approx([0.0, 33.0, 66.0, 99.0])
    # Repeated quantiles of a discrete observable merge; 0 and 1 still fall in different bins.
    zeros_and_ones = np.array([0.0] * 90 + [1.0] * 10)
    discrete = reference_edges(zeros_and_ones, n_bins=10)
    assert discrete == pytest.approx([0.0, 0.1, 1.0])
    half = np.array([0.0, 1.0] * 50)
    # h1 = (0.9, 0.1), h2 = (0.5, 0.5): 0.5 (0.16 / 1.4 + 0.16 / 0.6).
    expected = 0.5 * (0.16 / 1.4 + 0.16 / 0.6)
    assert histogram_separation(zeros_and_ones, half, discrete) == pytest.approx(expected)
    constant = reference_edges(np.full(5, 2.0))
    assert constant[0] < 2.0 < constant[1]
    assert histogram_separation(np.full(5, 2.0), np.full(3, 2.0), constant) == 0.0
    assert histogram_separation(np.full(5, 2.0), np.full(3, 2.5), constant) == 1.0


# All observables at once


def test_observable_distances() -> None:
    reference = {
        "mass": gaussian(80.0, 10.0, seed=21),
        "tau_21": gaussian(0.5, 0.1, seed=22),
        "pt": gaussian(300.0, 20.0, seed=23),
    }
    candidate = {
        "mass": gaussian(85.0, 10.0, seed=24),
        "tau_21": reference["tau_21"].copy(),
        "only_here": np.zeros(N),
    }
    result = observable_distances(reference, candidate, n_bootstrap=10, seed=25)
    assert result["keys"] == ["mass", "tau_21"]
    value, uncertainty = result["wasserstein_1"]["mass"]
    assert abs(value - 5.0) < PULL * uncertainty
    assert result["wasserstein_1"]["tau_21"][0] == 0.0
    assert result["separation"]["tau_21"] == 0.0
    assert 0.0 < result["separation"]["mass"] < 1.0
    value, uncertainty = result["frechet"]
    assert abs(value - 0.5**2) < PULL * uncertainty
    assert result == observable_distances(reference, candidate, n_bootstrap=10, seed=25)


# Bad inputs


GOOD = np.array([0.0, 1.0, 2.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: wasserstein_1(np.array([]), GOOD), "reference is empty"),
        (lambda: wasserstein_1(GOOD, np.array([0.0, np.nan])), "candidate contains 1 NaN or inf"),
        (lambda: wasserstein_1(np.array([np.inf, 1.0]), GOOD), "reference contains 1 NaN or inf"),
        (lambda: wasserstein_1(np.ones((3, 2)), GOOD), "reference must be a 1-D array"),
        (lambda: wasserstein_1(GOOD, np.array([1.0])), "candidate needs at least 2 entries"),
        (lambda: wasserstein_1(GOOD, GOOD, n_bootstrap=1), "n_bootstrap must be >= 2"),
        (lambda: wasserstein_1(GOOD, GOOD, batch_size=1), "batch_size must be >= 2"),
        (lambda: wasserstein_1_exact(GOOD, np.array([])), "candidate is empty"),
        (lambda: frechet_distance(np.ones((5, 2)), np.ones((5, 3))), "feature dimensions must"),
        (lambda: frechet_distance(np.ones((1, 2)), np.ones((5, 2))), "reference needs at least 2"),
        (lambda: frechet_distance(np.ones((4, 2, 2)), GOOD), "must be a \\(N, d\\) feature"),
        (lambda: frechet_distance(np.ones((3, 2)), np.ones((3, 2))), "features \\[0, 1\\] are"),
        (lambda: frechet_distance(GOOD, np.array([[1.0], [np.nan]])), "candidate contains 1 NaN"),
        (lambda: frechet_from_moments(GOOD, np.eye(3), GOOD, np.eye(2)), "covariances must"),
        (lambda: histogram_separation(GOOD, GOOD, 0), "bins must be >= 1"),
        (lambda: histogram_separation(GOOD, GOOD, np.array([1.0])), "at least 2 edges"),
        (lambda: histogram_separation(GOOD, GOOD, np.array([2.0, 1.0])), "strictly increasing"),
        (lambda: histogram_separation(np.array([]), GOOD, 3), "reference is empty"),
        (lambda: reference_edges(GOOD, binning="log"), "binning must be 'quantile' or 'range'"),
        (lambda: observable_distances({"a": GOOD}, {"b": GOOD}), "share no observable"),
        (
            lambda: observable_distances({"a": GOOD, "b": GOOD[:2]}, {"a": GOOD, "b": GOOD}),
            "reference observables differ in length",
        ),
        (
            lambda: observable_distances({"a": np.ones(3)}, {"a": GOOD}),
            "reference observables \\['a'\\] are constant",
        ),
        (
            lambda: observable_distances({"a": GOOD}, {"a": np.array([1.0, np.nan])}),
            "candidate\\['a'\\] contains 1 NaN",
        ),
    ],
)
def test_bad_inputs_are_refused(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_beyond_reference_counts_tails_the_reference_never_makes() -> None:
    reference = {"x": np.linspace(0.0, 1.0, 1001), "y": np.linspace(0.0, 1.0, 1001)}
    margin = 3 * reference["x"].std()  # 0.866
    candidate = {
        "x": np.array([0.5, 1.0 + margin + 0.01, -margin - 0.01, 1.5]),
        "y": np.array([0.5, 0.5, 0.5, 1.0 + margin + 0.01]),
        "z": np.zeros(4),  # not in the reference: ignored
    }
    found = beyond_reference(reference, candidate)
    assert found["per_observable"] == {"x": 0.5, "y": 0.25}
    assert found["any"] == 0.75
    assert beyond_reference(reference, reference)["any"] == 0.0


def test_a_weighted_candidate_is_its_weighted_distribution() -> None:
    """Integer weights: the distances of the weighted sample are those of its events repeated
    as often as their weights say (what a refined sample's weights mean)."""
    rng = np.random.default_rng(3)
    reference = {"a": rng.normal(0, 1, 4000), "b": rng.exponential(1, 4000)}
    candidate = {"a": rng.normal(0.3, 1, 2000), "b": rng.exponential(1.2, 2000)}
    weights = rng.integers(0, 4, 2000)
    repeated = {k: np.repeat(v, weights) for k, v in candidate.items()}

    weighted = observable_distances(reference, candidate, weights=weights, n_bootstrap=5)
    expanded = observable_distances(reference, repeated, n_bootstrap=5)
    for key in ("a", "b"):
        assert weighted["wasserstein_1"][key][0] == pytest.approx(expanded["wasserstein_1"][key][0])
        assert weighted["separation"][key] == pytest.approx(expanded["separation"][key])
    assert weighted["frechet"][0] == pytest.approx(expanded["frechet"][0], rel=0.01)
    unweighted = observable_distances(reference, candidate, n_bootstrap=5)
    assert unweighted["wasserstein_1"]["a"][0] != pytest.approx(weighted["wasserstein_1"]["a"][0])

    far = {"a": np.r_[candidate["a"][:-1], 50.0], "b": candidate["b"]}
    tail_weights = np.r_[np.ones(1999), 1999.0]  # the one far event is half the sample
    assert beyond_reference(reference, far, weights=tail_weights)["any"] == pytest.approx(0.5)
    assert beyond_reference(reference, far)["any"] == pytest.approx(1 / 2000)
    features = (np.column_stack(list(reference.values())), np.column_stack(list(far.values())))
    assert fpd(*features, weights=tail_weights)[0] > 10 * fpd(*features)[0]
    with pytest.raises(ValueError, match="weights must be 2000 finite values >= 0"):
        kpd(*features, weights=-tail_weights)
