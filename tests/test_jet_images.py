"""Jet-image preprocessing on hand-made constituents: where things land, what is conserved."""

from __future__ import annotations

import numpy as np
import pytest

from fastshower.simulate.jet_images import jet_images, wrap_phi

NAN2 = [np.nan, np.nan]


def one_jet(pt, eta, phi, lead, second, mode="exact"):
    return jet_images([len(pt)], pt, eta, phi, [lead], [second], mode=mode)[0]


def test_second_subjet_goes_straight_below_and_heavy_side_right() -> None:
    # leading subjet at (eta, phi) = (1.0, 3.1); the second 0.5 away along +eta, across +-pi a
    # third, soft particle 0.3 to the side.
    pt = np.array([100.0, 40.0, 5.0])
    eta = np.array([1.0, 1.5, 1.0])
    phi = wrap_phi(np.array([3.1, 3.1, 3.1 + 0.3]))
    image = one_jet(pt, eta, phi, (1.0, 3.1), (1.5, 3.1))
    assert image[12, 12] == 100.0
    assert image[17, 12] == 40.0  # 0.5 below the centre: 5 rows down
    assert image[12, 15] == 5.0  # the soft particle ends on the right (heavier side)
    assert image.sum() == pytest.approx(145.0)
    assert (image >= 0).all()


def test_heavier_half_is_always_right() -> None:
    pt = np.array([100.0, 40.0, 20.0, 1.0])
    eta = np.array([0.0, 0.0, 0.4, -0.4])
    phi = np.array([0.0, -0.5, 0.0, 0.0])
    for sign in (1, -1):
        image = one_jet(pt, sign * eta, phi, (0.0, 0.0), (0.0, -0.5))
        assert image[:, 13:].sum() == pytest.approx(20.0)
        assert image[:, :12].sum() == pytest.approx(1.0)


def test_window_clips_and_nothing_else_is_lost() -> None:
    rng = np.random.default_rng(1)
    n = 500
    pt = rng.uniform(0.1, 5.0, n)
    eta, phi = rng.normal(0, 0.8, n), rng.normal(0, 0.8, n)
    image = one_jet(pt, eta, phi, (0.0, 0.0), (0.2, 0.3))
    distance = np.hypot(eta, phi)
    # rotation keeps distances to the centre: inside 1.25 always on the image, beyond the
    # corner (1.25 sqrt 2) never
    assert pt[distance < 1.25].sum() <= image.sum() + 1e-6
    assert image.sum() <= pt[distance < 1.25 * np.sqrt(2)].sum() + 1e-6


def test_single_subjet_uses_the_principal_axis() -> None:
    # constituents along a line at 45 degrees, more pT on the upper-right end
    t = np.linspace(-0.6, 0.6, 13)
    pt = np.where(t > 0, 10.0, 2.0)
    pt[6] = 100.0
    image = one_jet(pt, t / np.sqrt(2), t / np.sqrt(2), (0.0, 0.0), NAN2)
    assert image[:, 12].sum() == pytest.approx(pt.sum())  # the line is now vertical
    assert image[13:, 12].sum() > image[:12, 12].sum()  # heavy end below, like a second subjet


def test_lagan_rotation_matches_exact_up_to_interpolation() -> None:
    rng = np.random.default_rng(2)
    n = 300
    pt = rng.exponential(2.0, n)
    eta, phi = rng.normal(0, 0.25, n), rng.normal(0, 0.25, n)
    pt[0], eta[0], phi[0] = 150.0, 0.0, 0.0
    pt[1], eta[1], phi[1] = 60.0, 0.3, 0.3
    exact = one_jet(pt, eta, phi, (0.0, 0.0), (0.3, 0.3))
    lagan = one_jet(pt, eta, phi, (0.0, 0.0), (0.3, 0.3), mode="lagan")
    assert (lagan < 0).any() and (exact >= 0).all()  # bicubic's negative lobes
    assert np.corrcoef(exact.ravel(), lagan.ravel())[0, 1] > 0.9
    assert lagan.sum() == pytest.approx(exact.sum(), rel=0.05)
    rows = np.arange(25)
    centroid = [(img.sum(axis=1) * rows).sum() / img.sum() for img in (exact, lagan)]
    assert centroid[1] == pytest.approx(centroid[0], abs=0.3)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(
        ValueError, match="unknown preprocessing 'rotate': allowed are exact, lagan"
    ):
        jet_images([1], [1.0], [0.0], [0.0], [(0, 0)], [NAN2], mode="rotate")
