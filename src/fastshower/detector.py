"""The CaloGAN calorimeter as data.

One source of truth for the Geant4 geometry and read-out, the dataset shapes, the observables and
the models. Numbers follow the public hep-lbdl/CaloGAN generation code: 80 sampling layers of
2 mm lead + 4 mm liquid argon (absorber first), 1 m x 1 m across, 480 mm deep and centred at
z = 0, read out as three layers of 3x96, 12x12 and 12x6 cells over |x|, |y| < 240 mm.

Cell arrays are indexed ``[ix, iy]`` (CaloGAN flattens them as ``ix * ny + iy``). Lengths are in
mm, cell energies in MeV, incident energies in GeV.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = [
    "CALORIMETER",
    "Calorimeter",
    "Material",
    "ReadoutLayer",
]


@dataclass(frozen=True)
class Material:
    """A homogeneous material. ``nist_name`` is set when Geant4's NIST database has it."""

    name: str
    density_g_cm3: float
    z: int
    molar_mass_g_mol: float
    nist_name: str | None = None


LEAD = Material("Lead", 11.35, 82, 207.217, nist_name="G4_Pb")
# CaloGAN builds its argon by hand (Z 18, A 39.95 g/mol, 1.390 g/cm3) rather than G4_lAr.
LIQUID_ARGON = Material("liquidArgon", 1.390, 18, 39.95)
# Geant4's "Galactic" is hydrogen at 1e-25 g/cm3, so H is read by the physics too.
GALACTIC = Material("Galactic", 1e-25, 1, 1.01, nist_name="G4_Galactic")


@dataclass(frozen=True)
class ReadoutLayer:
    """One read-out layer: a z range and a regular grid of cells over a square of the face."""

    index: int
    z_min_mm: float
    z_max_mm: float
    n_x: int
    n_y: int
    half_width_mm: float = 240.0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_x, self.n_y)

    @property
    def n_cells(self) -> int:
        return self.n_x * self.n_y

    @property
    def cell_size_mm(self) -> tuple[float, float]:
        return (2 * self.half_width_mm / self.n_x, 2 * self.half_width_mm / self.n_y)

    @property
    def x_edges_mm(self) -> np.ndarray:
        return np.linspace(-self.half_width_mm, self.half_width_mm, self.n_x + 1)

    @property
    def y_edges_mm(self) -> np.ndarray:
        return np.linspace(-self.half_width_mm, self.half_width_mm, self.n_y + 1)

    @property
    def x_centres_mm(self) -> np.ndarray:
        e = self.x_edges_mm
        return 0.5 * (e[1:] + e[:-1])

    @property
    def y_centres_mm(self) -> np.ndarray:
        e = self.y_edges_mm
        return 0.5 * (e[1:] + e[:-1])

    @property
    def key(self) -> str:
        """The dataset key of this layer's cell array (``layer_0`` ...)."""
        return f"layer_{self.index}"


@dataclass(frozen=True)
class Calorimeter:
    """The sampling calorimeter: absorber/gap structure, read-out layers and the particle gun."""

    n_sampling_layers: int
    absorber: Material
    gap: Material
    world_material: Material
    absorber_thickness_mm: float
    gap_thickness_mm: float
    transverse_size_mm: float
    layers: tuple[ReadoutLayer, ...]
    world_scale: float = 1.2
    gun_z_mm: float = -288.0

    @property
    def sampling_thickness_mm(self) -> float:
        return self.absorber_thickness_mm + self.gap_thickness_mm

    @property
    def depth_mm(self) -> float:
        return self.n_sampling_layers * self.sampling_thickness_mm

    @property
    def z_front_mm(self) -> float:
        return -self.depth_mm / 2

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        return tuple(layer.shape for layer in self.layers)

    @property
    def n_cells(self) -> int:
        return sum(layer.n_cells for layer in self.layers)

    @property
    def layer_boundaries_mm(self) -> tuple[float, ...]:
        """Read-out boundaries between layers (z where layer i ends and i+1 starts)."""
        return tuple(layer.z_max_mm for layer in self.layers[:-1])

    @cached_property
    def slabs(self) -> tuple[tuple[str, float, float, int], ...]:
        """Every physical slab as (material name, z_min, z_max, read-out layer), front to back.

        A slab that straddles a read-out boundary is split there, so that each slab belongs to
        exactly one read-out layer (z = 197 mm lies inside an argon gap).
        """
        slabs: list[tuple[str, float, float, int]] = []
        cuts = self.layer_boundaries_mm
        for k in range(self.n_sampling_layers):
            z0 = self.z_front_mm + k * self.sampling_thickness_mm
            z1 = z0 + self.absorber_thickness_mm
            z2 = z0 + self.sampling_thickness_mm
            for material, lo, hi in ((self.absorber.name, z0, z1), (self.gap.name, z1, z2)):
                edges = [lo, *[c for c in cuts if lo < c < hi], hi]
                for a, b in itertools.pairwise(edges):
                    slabs.append((material, a, b, self.layer_of_z(0.5 * (a + b))))
        return tuple(slabs)

    def layer_of_z(self, z_mm: float) -> int:
        """The read-out layer a point at depth ``z_mm`` belongs to (CaloGAN's rule)."""
        return int(np.searchsorted(np.asarray(self.layer_boundaries_mm), z_mm, side="right"))

    def cell_centres_mm(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) cell-centre coordinates of one layer as ``(n_x, n_y)`` arrays."""
        spec = self.layers[layer]
        return np.meshgrid(spec.x_centres_mm, spec.y_centres_mm, indexing="ij")


CALORIMETER = Calorimeter(
    n_sampling_layers=80,
    absorber=LEAD,
    gap=LIQUID_ARGON,
    world_material=GALACTIC,
    absorber_thickness_mm=2.0,
    gap_thickness_mm=4.0,
    transverse_size_mm=1000.0,
    layers=(
        ReadoutLayer(0, -240.0, -150.0, 3, 96),
        ReadoutLayer(1, -150.0, 197.0, 12, 12),
        ReadoutLayer(2, 197.0, 240.0, 12, 6),
    ),
)
"""The detector every dataset in fastshower is simulated in and every model is built for."""
