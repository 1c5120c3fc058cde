"""Jet images: the trimmed jet's constituents as a 25 x 25 pT grid, centred, rotated and flipped.

The recipe is LAGAN's (arXiv:1701.05927, code hep-lbdl/adversarial-jets): translate so that the
leading subjet sits in the central pixel; rotate so that the second subjet lies straight below
it (the principal axis of the pT distribution when there is a single subjet); flip left-right
so that the right half holds more pT. Two ways to rotate:

- ``exact`` (default): rotate the constituents, then pixelate. Pixels are sums of constituent
  pT: never negative, and the image holds exactly the pT of the constituents inside the window.
- ``lagan``: pixelate first, then rotate the image with bicubic interpolation, as the
  original did (``skimage.transform.rotate``, order 3). Interpolation leaves negative pixels
  next to bright ones, smears pT over neighbours and does not conserve it. Kept to reproduce
  the published data set's look.

Everything is vectorised over a batch of jets.
"""

from __future__ import annotations

import numpy as np

from fastshower.observables.jets import IMAGE_GRID, ImageGrid

__all__ = ["PREPROCESSING", "jet_images", "wrap_phi"]

PREPROCESSING = ("exact", "lagan")


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """An azimuthal difference folded into [-pi, pi)."""
    return (np.asarray(dphi) + np.pi) % (2 * np.pi) - np.pi


def jet_images(
    counts: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    leading_subjet: np.ndarray,
    second_subjet: np.ndarray,
    mode: str = "exact",
    grid: ImageGrid = IMAGE_GRID,
) -> np.ndarray:
    """Images (n_jets, n, n) in GeV from the jets' constituents.

    ``counts[j]`` constituents belong to jet ``j``; ``pt, eta, phi`` are the constituents of all
    jets, one after the other. ``leading_subjet`` and ``second_subjet`` are (n_jets, 2) arrays of
    (eta, phi); a row of NaN in ``second_subjet`` means the jet has a single subjet.
    """
    if mode not in PREPROCESSING:
        raise ValueError(f"unknown preprocessing {mode!r}: allowed are {', '.join(PREPROCESSING)}")
    counts = np.asarray(counts, dtype=np.int64)
    n_jets = len(counts)
    jet = np.repeat(np.arange(n_jets), counts)
    pt = np.asarray(pt, dtype=np.float64)
    lead = np.asarray(leading_subjet, dtype=np.float64).reshape(n_jets, 2)
    second = np.asarray(second_subjet, dtype=np.float64).reshape(n_jets, 2)
    x = np.asarray(eta, dtype=np.float64) - lead[jet, 0]
    y = wrap_phi(np.asarray(phi, dtype=np.float64) - lead[jet, 1])

    direction = np.stack([second[:, 0] - lead[:, 0], wrap_phi(second[:, 1] - lead[:, 1])], axis=1)
    single = ~np.isfinite(direction).all(axis=1) | ~(np.abs(direction).sum(axis=1) > 0)
    direction[single] = _principal_axes(jet, x, y, pt, n_jets)[single]
    # Rotate by the angle that turns ``direction`` to -y: the second subjet straight below.
    angle = -np.pi / 2 - np.arctan2(direction[:, 1], direction[:, 0])

    if mode == "exact":
        cos, sin = np.cos(angle)[jet], np.sin(angle)[jet]
        images = _pixelate(jet, x * cos - y * sin, x * sin + y * cos, pt, n_jets, grid)
    else:
        images = _rotate_images(_pixelate(jet, x, y, pt, n_jets, grid), angle)
    return _heavier_half_right(images).astype(np.float32)


def _principal_axes(
    jet: np.ndarray, x: np.ndarray, y: np.ndarray, pt: np.ndarray, n_jets: int
) -> np.ndarray:
    """The major axis of each jet's pT-weighted (x, y) spread, pointing to the side of the
    leading subjet (the origin) with more pT: rotated below the centre, that side plays the
    second subjet's role. (The original measured the sides from the pT centroid instead.)"""

    def weighted_sum(values: np.ndarray) -> np.ndarray:
        return np.bincount(jet, weights=values, minlength=n_jets)

    total = np.where((w := weighted_sum(pt)) > 0, w, 1.0)
    mx, my = weighted_sum(pt * x) / total, weighted_sum(pt * y) / total
    dx, dy = x - mx[jet], y - my[jet]
    sxx, syy, sxy = (weighted_sum(pt * a * b) / total for a, b in ((dx, dx), (dy, dy), (dx, dy)))
    # Major-axis angle of a 2x2 covariance: 0.5 atan2(2 sxy, sxx - syy).
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    axis = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    side = weighted_sum(pt * np.sign(x * axis[jet, 0] + y * axis[jet, 1]))
    axis[side < 0] *= -1
    return axis


def _pixelate(
    jet: np.ndarray, x: np.ndarray, y: np.ndarray, pt: np.ndarray, n_jets: int, grid: ImageGrid
) -> np.ndarray:
    """Sum pT into pixels; constituents outside the window are dropped (the window's clipping)."""
    row, column, inside = grid.pixel_index(x, y)
    flat = (jet * grid.n + row) * grid.n + column
    summed = np.bincount(flat[inside], weights=pt[inside], minlength=n_jets * grid.n * grid.n)
    return summed.reshape(n_jets, grid.n, grid.n)


def _rotate_images(images: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """LAGAN's rotation: each image turned by ``angle`` (counter-clockwise, radians) about its
    centre, as ``skimage.transform.rotate(image, degrees, order=3)`` does: every output pixel
    samples the unrotated image with bicubic convolution (Keys, a = -0.5) over its 4 x 4
    neighbours, zero outside the image. The kernel's negative lobes are what leave negative
    pixels next to bright ones."""
    n_jets, n, _ = images.shape
    centre = (n - 1) / 2
    rows, columns = np.mgrid[0:n, 0:n].astype(np.float64)
    x, y = columns - centre, centre - rows  # output pixel centres, y up
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    source_col = cos * x + sin * y + centre  # where each output pixel comes from: R(-angle)
    source_row = centre - (-sin * x + cos * y)
    base_row, base_col = np.floor(source_row), np.floor(source_col)
    jet = np.arange(n_jets)[:, None, None]
    out = np.zeros_like(images, dtype=np.float64)
    for dr in (-1, 0, 1, 2):
        r = base_row + dr
        w_r = _keys(source_row - r)
        for dc in (-1, 0, 1, 2):
            c = base_col + dc
            inside = (r >= 0) & (r < n) & (c >= 0) & (c < n)
            ri, ci = (
                np.where(inside, r, 0).astype(np.int64),
                np.where(inside, c, 0).astype(np.int64),
            )
            out += np.where(inside, images[jet, ri, ci], 0.0) * w_r * _keys(source_col - c)
    return out


def _keys(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    """The cubic-convolution kernel of Keys (1981), the bicubic of image libraries."""
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _heavier_half_right(images: np.ndarray) -> np.ndarray:
    """Mirror left-right every image whose left half (columns left of the centre) holds more pT
    than its right half; the central column counts for neither, as in the original."""
    half = images.shape[-1] // 2
    left = images[:, :, :half].sum(axis=(1, 2))
    right = images[:, :, -half:].sum(axis=(1, 2))
    flip = left > right
    images = images.copy()
    images[flip] = images[flip, :, ::-1]
    return images
