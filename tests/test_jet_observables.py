"""Jet observables against cases whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastjet", reason="needs the jets extra (fastjet)")
import awkward as ak

from fastshower.observables.jets import (
    IMAGE_GRID,
    four_momentum_sum,
    image_observables,
    image_particles,
    mass,
    nsubjettiness,
    ratio,
)

pytestmark = pytest.mark.pythia


def jets(*particles: list[tuple[float, float, float]]) -> ak.Array:
    """Jets of massless particles given as (pT, eta, phi)."""
    records = []
    for jet in particles:
        pt, eta, phi = (np.array([p[i] for p in jet], dtype=float) for i in range(3))
        records.append(
            {
                "px": list(pt * np.cos(phi)),
                "py": list(pt * np.sin(phi)),
                "pz": list(pt * np.sinh(eta)),
                "E": list(pt * np.cosh(eta)),
            }
        )
    return ak.zip({k: ak.Array([r[k] for r in records]) for k in ("px", "py", "pz", "E")})


def test_mass_of_two_massless_particles() -> None:
    """m^2 = 2 pT1 pT2 (cosh d_eta - cos d_phi) for massless particles."""
    p = four_momentum_sum(jets([(100.0, 0.0, 0.0), (50.0, 0.3, 0.2)]))
    expected = np.sqrt(2 * 100 * 50 * (np.cosh(0.3) - np.cos(0.2)))
    np.testing.assert_allclose(mass(p["px"], p["py"], p["pz"], p["E"]), [expected], rtol=1e-12)
    assert mass(np.array([1.0]), np.array([0.0]), np.array([0.0]), np.array([1.0 - 1e-16])) == 0


def test_nsubjettiness_known_cases() -> None:
    """Normalised measure, beta = 1, R0 = 1: tau_N = sum_i pT_i min_k dR_ik / sum_i pT_i.

    Two particles: the WTA axis sits on the harder one, tau_1 = pT_2 d / (pT_1 + pT_2), tau_2 = 0.
    Three: tau_2 keeps the third particle's distance to its nearest axis.
    """
    taus = nsubjettiness(
        jets(
            [(100.0, 0.0, 0.0), (50.0, 0.3, 0.0)],
            [(100.0, 0.0, 0.0), (50.0, 0.3, 0.0), (30.0, 0.0, 0.4)],
            [(200.0, 0.5, 1.0)],
        ),
        3,
    )
    expected = [
        [50 * 0.3 / 150, 0.0, 0.0],
        [(50 * 0.3 + 30 * 0.4) / 180, 30 * 0.4 / 180, 0.0],
        [0.0, 0.0, 0.0],
    ]
    np.testing.assert_allclose(taus, expected, atol=1e-4)
    assert nsubjettiness(jets(), 3).shape == (0, 3)


def test_nsubjettiness_is_invariant_under_boosts_along_the_beam_and_rotations() -> None:
    rng = np.random.default_rng(3)
    base = [
        (float(pt), float(eta), float(phi))
        for pt, eta, phi in zip(
            rng.uniform(1, 50, 30), rng.normal(0, 0.3, 30), rng.normal(0, 0.3, 30), strict=True
        )
    ]
    moved = [(pt, eta + 1.3, phi + 2.0) for pt, eta, phi in base]
    a, b = nsubjettiness(jets(base, moved), 3)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert a[0] > a[1] > a[2] > 0  # more axes never describe a jet worse


def test_ratio_is_zero_for_an_empty_denominator() -> None:
    np.testing.assert_array_equal(ratio(np.array([0.2, 0.0]), np.array([0.4, 0.0])), [0.5, 0.0])


def test_image_particles_sit_at_pixel_centres() -> None:
    image = np.zeros((1, 25, 25))
    image[0, 0, 24] = 7.0  # top right corner: x = +1.2, y = +1.2
    image[0, 12, 12] = -1.0  # negative pixels are not particles
    (particle,) = image_particles(image)[0]
    assert particle["px"] == pytest.approx(7.0 * np.cos(1.2))
    assert particle["pz"] == pytest.approx(7.0 * np.sinh(1.2))
    np.testing.assert_allclose(IMAGE_GRID.x_centres[[0, 12, 24]], [-1.2, 0.0, 1.2], atol=1e-12)
    np.testing.assert_allclose(IMAGE_GRID.y_centres[[0, 12, 24]], [1.2, 0.0, -1.2], atol=1e-12)
    with pytest.raises(ValueError, match=r"shape \(N, 25, 25\)"):
        image_particles(np.zeros((2, 24, 25)))


def test_image_observables_of_a_two_pixel_image() -> None:
    image = np.zeros((2, 25, 25))
    image[0, 12, 12], image[0, 12, 15] = 100.0, 50.0  # 0.3 apart along x
    image[1, 12, 12] = 200.0
    obs = image_observables(image)
    np.testing.assert_allclose(obs["mass"], [np.sqrt(2 * 100 * 50 * (np.cosh(0.3) - 1)), 0.0])
    np.testing.assert_allclose(obs["pt"], [150.0 * 1.0, 200.0], rtol=1e-12)
    np.testing.assert_allclose(obs["tau_1"], [0.1, 0.0], atol=1e-4)
    np.testing.assert_array_equal(obs["tau_21"], [0.0, 0.0])
