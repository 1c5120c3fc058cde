"""Jet observables: kinematics and N-subjettiness, from constituents or from jet images.

Constituents are awkward arrays of jets, each a variable-length list of massless or massive
particles with Cartesian fields ``px, py, pz, E`` (GeV). A jet image is a (25, 25) grid of pT
(GeV) whose pixel centres are read as massless particles at (x = eta-like, y = phi-like)
coordinates of ``IMAGE_GRID``: that is how LAGAN's paper computes mass and tau_21 of generated
images, and the only way to compare them with Pythia's.

N-subjettiness is fjcontrib's own implementation (Thaler, Van Tilburg, arXiv:1011.2268 and
1108.2701), reached through the ``fastjet`` package's awkward interface, with LAGAN's choices:
one-pass minimisation from winner-take-all kt axes, the normalised measure, beta = 1, R0 = 1.
Everything runs in C++ over a whole batch of jets; nothing loops over particles in Python.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

__all__ = [
    "IMAGE_GRID",
    "ImageGrid",
    "four_momentum_sum",
    "image_observables",
    "image_particles",
    "mass",
    "nsubjettiness",
    "pixel_pt_fractions",
    "quiet_fastjet",
    "ratio",
    "subjet_delta_r",
]


@dataclass(frozen=True)
class ImageGrid:
    """The jet-image pixel grid: ``n`` x ``n`` square pixels of side ``pixel`` covering
    ``[-half_width, half_width]`` in both coordinates, the leading subjet in the central pixel.

    Array layout (as the published LAGAN file, drawn with ``imshow``): ``image[row, column]``,
    columns run along x (pseudorapidity after rotation) from left to right, rows along y
    (azimuth after rotation) from top (+y) to bottom (-y).
    """

    n: int = 25
    half_width: float = 1.25

    @property
    def pixel(self) -> float:
        return 2 * self.half_width / self.n

    @property
    def x_centres(self) -> np.ndarray:
        """x of each column's centre, left to right."""
        return -self.half_width + self.pixel * (np.arange(self.n) + 0.5)

    @property
    def y_centres(self) -> np.ndarray:
        """y of each row's centre, top to bottom."""
        return self.half_width - self.pixel * (np.arange(self.n) + 0.5)

    def pixel_index(
        self, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, inside) of points; ``inside`` is False for points off the image."""
        column = np.floor((x + self.half_width) / self.pixel).astype(np.int64)
        row = np.floor((self.half_width - y) / self.pixel).astype(np.int64)
        inside = (column >= 0) & (column < self.n) & (row >= 0) & (row < self.n)
        return row, column, inside


IMAGE_GRID = ImageGrid()
"""LAGAN's images: 25 x 25 pixels of 0.1 x 0.1 over [-1.25, 1.25]^2."""

TAU_AXES = "OnePass_WTA_KT_Axes"
TAU_MEASURE = "NormalizedMeasure"
TAU_BETA = 1.0
TAU_R0 = 1.0


def four_momentum_sum(particles: Any) -> dict[str, np.ndarray]:
    """Per-jet sums of ``px, py, pz, E`` (GeV), as float64 arrays of length n_jets."""
    import awkward as ak

    return {k: ak.to_numpy(ak.sum(particles[k], axis=1)).astype(np.float64) for k in _FIELDS}


def mass(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Invariant mass (GeV); rounding that makes m^2 slightly negative gives 0."""
    m2 = np.asarray(e) ** 2 - np.asarray(px) ** 2 - np.asarray(py) ** 2 - np.asarray(pz) ** 2
    return np.sqrt(np.clip(m2, 0.0, None))


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """tau_N / tau_{N-1}, defined as 0 where the denominator is 0 (a jet of a single particle)."""
    numerator, denominator = np.asarray(numerator), np.asarray(denominator)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def nsubjettiness(particles: Any, n_max: int = 3) -> np.ndarray:
    """tau_1 ... tau_{n_max} of every jet, shape (n_jets, n_max).

    A jet with fewer than N particles has tau_N = 0. An empty batch gives shape (0, n_max).
    """
    import awkward as ak

    if n_max < 1:
        raise ValueError(f"n_max must be >= 1, got {n_max}")
    if len(particles) == 0:
        return np.zeros((0, n_max))
    fastjet = quiet_fastjet()
    jet_def = fastjet.JetDefinition(fastjet.kt_algorithm, 1.0, fastjet.WTA_pt_scheme)
    with warnings.catch_warnings():
        # The awkward interface warns about exclusive jets for every algorithm it does not
        # recognise, kt with WTA recombination included; the axes are fjcontrib's own.
        warnings.simplefilter("ignore", UserWarning)
        sequence = fastjet.ClusterSequence(_cartesian(particles), jet_def)
        taus = sequence.njettiness(
            measure_definition=TAU_MEASURE,
            axes_definition=TAU_AXES,
            njets=list(range(1, n_max + 1)),
            beta=TAU_BETA,
            R0=TAU_R0,
        )
    return ak.to_numpy(taus).astype(np.float64).reshape(len(particles), n_max)


def image_particles(images: np.ndarray, grid: ImageGrid = IMAGE_GRID) -> Any:
    """Positive pixels of each image as massless particles at the pixel centres (awkward)."""
    import awkward as ak

    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (grid.n, grid.n):
        raise ValueError(f"images must have shape (N, {grid.n}, {grid.n}), got {images.shape}")
    jet, row, column = np.nonzero(images > 0)
    pt = images[jet, row, column]
    x, y = grid.x_centres[column], grid.y_centres[row]
    counts = np.bincount(jet, minlength=len(images))
    flat = ak.zip(
        {"px": pt * np.cos(y), "py": pt * np.sin(y), "pz": pt * np.sinh(x), "E": pt * np.cosh(x)}
    )
    return ak.unflatten(flat, counts)


def image_observables(images: np.ndarray, grid: ImageGrid = IMAGE_GRID) -> dict[str, np.ndarray]:
    """pT, mass, tau_1..3, tau_21, tau_32, the two subjets' Delta R and the number of hit pixels
    of each image (pixels as massless particles).

    Negative pixels (which the original cubic-interpolated rotation leaves) are ignored, as they
    cannot be particles.
    """
    particles = image_particles(images, grid)
    p = four_momentum_sum(particles)
    taus = nsubjettiness(particles, 3)
    return {
        "pt": np.hypot(p["px"], p["py"]),
        "mass": mass(p["px"], p["py"], p["pz"], p["E"]),
        "tau_1": taus[:, 0],
        "tau_2": taus[:, 1],
        "tau_3": taus[:, 2],
        "tau_21": ratio(taus[:, 1], taus[:, 0]),
        "tau_32": ratio(taus[:, 2], taus[:, 1]),
        "delta_r": subjet_delta_r(particles),
        "n_pixels": (np.asarray(images) > 0).sum(axis=(1, 2)).astype(np.float64),
    }


def subjet_delta_r(particles: Any) -> np.ndarray:
    """Delta R between the two exclusive kt subjets of each jet: a W's two prongs sit about
    2 m_W / pT apart, a QCD jet's second prong anywhere. 0 for a jet of fewer than two
    particles."""
    import awkward as ak

    out = np.zeros(len(particles))
    has_two = ak.to_numpy(ak.num(particles)) >= 2
    if not has_two.any():
        return out
    fastjet = quiet_fastjet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # as in nsubjettiness
        sequence = fastjet.ClusterSequence(
            _cartesian(particles[has_two]), fastjet.JetDefinition(fastjet.kt_algorithm, 1.0)
        )
        subjets = sequence.exclusive_jets(n_jets=2)
    px, py, pz = (ak.to_numpy(subjets[k]).astype(np.float64) for k in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    eta, phi = np.arcsinh(pz / pt), np.arctan2(py, px)
    dphi = (phi[:, 0] - phi[:, 1] + np.pi) % (2 * np.pi) - np.pi
    out[has_two] = np.hypot(eta[:, 0] - eta[:, 1], dphi)
    return out


def pixel_pt_fractions(images: np.ndarray) -> np.ndarray:
    """Every hit pixel's share of its image's pT, all images pooled: the pixel intensity
    spectrum (JetNet's relative particle pT)."""
    images = np.clip(np.asarray(images, dtype=np.float64), 0, None)
    totals = images.sum(axis=(1, 2), keepdims=True)
    shares = np.divide(images, totals, out=np.zeros_like(images), where=totals > 0)
    return shares[images > 0]


_FIELDS = ("px", "py", "pz", "E")


def _cartesian(particles: Any) -> Any:
    import awkward as ak

    return ak.zip({k: ak.values_astype(particles[k], np.float64) for k in _FIELDS})


@cache
def quiet_fastjet() -> Any:
    """``fastjet``, with its once-per-process banner (printed by C++ on stdout) kept quiet."""
    import fastjet

    from fastshower._stdout import stdout_silenced

    with stdout_silenced():
        fastjet._swig.ClusterSequence.print_banner()
    return fastjet
