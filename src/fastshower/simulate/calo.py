"""Geant4 showers in the CaloGAN calorimeter.

The geometry and read-out follow ``fastshower.detector``: every lead and argon slab is its own
volume, and the +-240 mm read-out square inside it is split into cells with ``G4PVReplica``.
Energy is scored on the C++ side with ``G4PSEnergyDeposit3D`` (cells) and ``G4PSEnergyDeposit``
(the slab outside the cells: overflow), and read once per event, so Geant4 runs at its own speed
instead of paying for a Python call on every step.

Scoring rule: a volume scorer assigns each step's deposit to the cell the step lies in. Cell
boundaries limit steps, so this equals binning at the step midpoint; CaloGAN's original code
binned at the pre-step point, which moves about 1% of the energy into a neighbouring cell
(``docs/physics.md``).

Geant4 lives once per process (its run manager is a singleton): ``simulate_showers`` builds it on
first use and reuses it, so a Dask worker pays the initialisation once.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fastshower._stdout import stdout_silenced
from fastshower.detector import CALORIMETER, Calorimeter
from fastshower.io import SHOWER_SCHEMA, Schema
from fastshower.particles import canonical_name, pdg_code
from fastshower.simulate import g4data

__all__ = [
    "ENERGY_LIMITS_GEV",
    "CaloJob",
    "CaloSettings",
    "geant4_info",
    "simulate_showers",
]

ENERGY_LIMITS_GEV = (0.1, 1000.0)
"""Incident energies Geant4 is asked for here; outside 1-100 GeV (CaloGAN's range) only warns."""
TRAINED_RANGE_GEV = (1.0, 100.0)


@dataclass(frozen=True)
class CaloSettings:
    """What a calorimeter sample is made of: particle, incident-energy spectrum, incidence point.

    The energy is uniform in ``[energy_gev[0], energy_gev[1]]`` (fixed when both are equal); the
    incidence point is uniform in a square of half-width ``position_spread_mm`` around
    ``position_mm``, on the calorimeter face, along +z.
    """

    particle: str
    energy_gev: tuple[float, float]
    position_mm: tuple[float, float] = (0.0, 0.0)
    position_spread_mm: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "particle", canonical_name(self.particle))
        lo, hi = (float(e) for e in self.energy_gev)
        object.__setattr__(self, "energy_gev", (lo, hi))
        object.__setattr__(self, "position_mm", tuple(float(p) for p in self.position_mm))
        emin, emax = ENERGY_LIMITS_GEV
        for e in (lo, hi):
            if not (math.isfinite(e) and emin <= e <= emax):
                raise ValueError(f"energy {e:g} GeV is outside the allowed {emin:g}-{emax:g} GeV")
        if lo > hi:
            raise ValueError(f"energy range {lo:g}:{hi:g} GeV is inverted: Emin must be <= Emax")
        if lo < TRAINED_RANGE_GEV[0] or hi > TRAINED_RANGE_GEV[1]:
            warnings.warn(
                f"energy {lo:g}-{hi:g} GeV reaches outside CaloGAN's 1-100 GeV range",
                UserWarning,
                stacklevel=3,
            )
        half = CALORIMETER.layers[0].half_width_mm
        reach = max(abs(p) for p in self.position_mm) + self.position_spread_mm
        if self.position_spread_mm < 0 or reach >= half:
            raise ValueError(
                f"incidence point {self.position_mm} +- {self.position_spread_mm} mm must lie "
                f"inside the read-out square |x|, |y| < {half:g} mm (spread >= 0)"
            )

    def sample_conditions(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Incident energies (GeV, shape (n,)) and incidence points (mm, shape (n, 2))."""
        lo, hi = self.energy_gev
        energy = rng.uniform(lo, hi, n) if hi > lo else np.full(n, lo)
        spread = self.position_spread_mm
        offsets = rng.uniform(-spread, spread, (n, 2)) if spread > 0 else np.zeros((n, 2))
        return energy, np.asarray(self.position_mm) + offsets

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def simulate_showers(settings: CaloSettings, n_events: int, seed: int) -> dict[str, np.ndarray]:
    """Simulate ``n_events`` showers; the same seed gives the same cells, on any machine.

    The seed fixes both the incident conditions (numpy) and Geant4's own random engine.
    Returns arrays in the dataset layout (``fastshower.io``): cells and overflow in MeV,
    ``energy`` (n, 1) in GeV, ``position`` (n, 2) in mm, ``particle`` (n,) PDG codes.
    """
    if n_events <= 0:
        raise ValueError(f"number of events must be positive, got {n_events}")
    rng = np.random.default_rng(seed)
    energy, position = settings.sample_conditions(n_events, rng)
    runner = _runner()
    cells, overflow = runner.run(settings.particle, energy, position, seed)
    arrays: dict[str, np.ndarray] = {
        layer.key: cells[:, start:stop].reshape(n_events, *layer.shape)
        for layer, (start, stop) in zip(CALORIMETER.layers, _cell_slices(CALORIMETER), strict=False)
    }
    arrays["overflow"] = overflow
    arrays["energy"] = energy.astype(np.float32).reshape(-1, 1)
    arrays["position"] = position.astype(np.float32)
    arrays["particle"] = np.full(n_events, pdg_code(settings.particle), dtype=np.int32)
    return arrays


@dataclass(frozen=True)
class CaloJob:
    """A calorimeter production for ``fastshower.simulate.production.produce``.

    The physics (Geant4 version, physics list, data source) is part of the settings, so a
    production never resumes with chunks made by other physics; a worker whose Geant4 data
    differs from the client's refuses to run rather than mix them silently.
    """

    calo: CaloSettings
    physics: dict[str, str] = field(default_factory=lambda: _physics_identity())
    """The client's physics, fixed when the job is made; every worker must run the same."""

    @property
    def schema(self) -> Schema:
        return SHOWER_SCHEMA

    @property
    def settings(self) -> dict[str, Any]:
        return {"calo": self.calo.to_dict(), "physics": self.physics}

    def run_chunk(self, n_events: int, seed: int) -> dict[str, np.ndarray]:
        here = _physics_identity()
        if here != self.physics:
            raise RuntimeError(
                f"this worker's Geant4 physics {here} differs from the production's "
                f"{self.physics}: refusing to mix them in one file"
            )
        return simulate_showers(self.calo, n_events, seed)

    def provenance(self) -> dict[str, Any]:
        lo, hi = self.calo.energy_gev
        spectrum = f"fixed {lo:g} GeV" if lo == hi else f"uniform {lo:g}-{hi:g} GeV"
        return {
            "generator": "Geant4",
            "detector": "CaloGAN",
            "particle_name": self.calo.particle,
            "energy_spectrum": spectrum,
            "scoring": "volume scorers (step inside the cell), C++ side",
            **geant4_info(),
            "calo_settings": self.calo.to_dict(),
        }


def _physics_identity() -> dict[str, str]:
    """What makes two samples' physics the same (paths to the data may differ between hosts)."""
    return {k: v for k, v in geant4_info().items() if not k.endswith("_paths")}


def geant4_info() -> dict[str, str]:
    """Geant4 version, physics list and data source, for provenance (starts no run)."""
    physics = g4data.configure()
    g4 = _geant4()
    version = g4.G4Version.strip("$").replace("Name:", "").strip()
    return {"geant4_version": version, **physics.describe()}


def _cell_slices(calo: Calorimeter) -> list[tuple[int, int]]:
    bounds = np.cumsum([0] + [layer.n_cells for layer in calo.layers])
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def _geant4() -> Any:
    """Import geant4_pybind only after the data environment is set (it checks data on import)."""
    g4data.configure()
    try:
        import geant4_pybind
    except ImportError as exc:
        if "cannot open shared object file" not in str(exc):
            raise
        # the wheel links OpenGL and X11 client libraries (for visualisation, never used here),
        # which bare GPU and batch nodes often lack
        raise ImportError(
            f"geant4_pybind cannot load a system library it links: {exc}. Install the OpenGL and "
            "X11 client libraries (Debian/Ubuntu: apt-get install libgl1 libx11-6 libxext6 libsm6 "
            "libice6), or point LD_LIBRARY_PATH at a folder that holds them"
        ) from exc
    return geant4_pybind


_RUNNER: _Runner | None = None


def _runner() -> _Runner:
    global _RUNNER
    if _RUNNER is None:
        with stdout_silenced():
            _RUNNER = _Runner(CALORIMETER)
    return _RUNNER


class _Runner:
    """One Geant4 application per process: geometry, physics, scorers and a run manager."""

    def __init__(self, calo: Calorimeter) -> None:
        g4 = _geant4()
        self.g4 = g4
        self.calo = calo
        self.slices = _cell_slices(calo)
        self.n_cells = calo.n_cells
        self._queue: list[tuple[float, float, float]] = []
        self._cells: np.ndarray | None = None
        self._overflow: np.ndarray | None = None
        self._event = 0

        _quiet(g4)
        self.run_manager = g4.G4RunManagerFactory.CreateRunManager(g4.G4RunManagerType.SerialOnly)
        self.detector = _make_detector_construction(g4, calo)
        self.run_manager.SetUserInitialization(self.detector)
        self.physics = g4data.configure().physics_list(g4)
        self.run_manager.SetUserInitialization(self.physics)
        self.gun = g4.G4ParticleGun(1)
        self.gun.SetParticleMomentumDirection(g4.G4ThreeVector(0, 0, 1))
        self.primary = _make_primary_action(g4, self)
        self.event_action = _make_event_action(g4, self)
        self.run_manager.SetUserAction(self.primary)
        self.run_manager.SetUserAction(self.event_action)
        self.run_manager.Initialize()
        _quiet(g4)
        sdm = g4.G4SDManager.GetSDMpointer()
        n_layers = len(calo.layers)
        self.cell_ids = [sdm.GetCollectionID(f"cells{i}/edep") for i in range(n_layers)]
        self.slab_ids = [sdm.GetCollectionID(f"slabs{i}/edep") for i in range(n_layers)]

    def run(
        self, particle: str, energy_gev: np.ndarray, position_mm: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        g4 = self.g4
        n = len(energy_gev)
        self.gun.SetParticleDefinition(g4.G4ParticleTable.GetParticleTable().FindParticle(particle))
        z0 = self.calo.gun_z_mm
        self._queue = [(e, x, y) for e, (x, y) in zip(energy_gev, position_mm, strict=False)]
        self._cells = np.zeros((n, self.n_cells), dtype=np.float64)
        self._overflow = np.zeros((n, len(self.calo.layers)), dtype=np.float64)
        self._event = 0
        self._z0 = z0
        g4.HepRandom.setTheSeed(_geant4_seed(seed))
        with stdout_silenced():
            self.run_manager.BeamOn(n)
        if self._event != n:
            raise RuntimeError(f"Geant4 processed {self._event} of {n} events")
        return self._cells.astype(np.float32), self._overflow.astype(np.float32)

    def generate(self, event: Any) -> None:
        g4 = self.g4
        energy, x, y = self._queue[event.GetEventID()]
        self.gun.SetParticleEnergy(energy * g4.GeV)
        self.gun.SetParticlePosition(g4.G4ThreeVector(x * g4.mm, y * g4.mm, self._z0 * g4.mm))
        self.gun.GeneratePrimaryVertex(event)

    def record(self, event: Any) -> None:
        hce = event.GetHCofThisEvent()
        cells, overflow = self._cells, self._overflow
        if cells is None or overflow is None:  # never (run() sets them): what None[i] raises
            raise TypeError("an event was recorded outside a run")
        i = self._event
        row = cells[i]
        for layer, ((start, _stop), cid, sid) in enumerate(
            zip(self.slices, self.cell_ids, self.slab_ids, strict=False)
        ):
            for key, value in hce.GetHC(cid):
                row[start + key] += value
            for _key, value in hce.GetHC(sid):
                overflow[i, layer] += value
        self._event += 1


def _geant4_seed(seed: int) -> int:
    """Geant4 wants a positive C long, and refuses 0: fold any integer into 1 .. 2^31 - 2."""
    return int(seed) % (2**31 - 2) + 1


def _quiet(g4: Any) -> None:
    ui = g4.G4UImanager.GetUIpointer()
    for command in (
        "/control/verbose 0",
        "/run/verbose 0",
        "/event/verbose 0",
        "/tracking/verbose 0",
        "/process/verbose 0",
        "/process/em/verbose 0",
        "/process/had/verbose 0",
    ):
        ui.ApplyCommand(command)
    g4.G4EmParameters.Instance().SetVerbose(0)


def _make_primary_action(g4: Any, runner: _Runner) -> Any:
    class PrimaryGenerator(g4.G4VUserPrimaryGeneratorAction):
        def GeneratePrimaries(self, event: Any) -> None:
            runner.generate(event)

    return PrimaryGenerator()


def _make_event_action(g4: Any, runner: _Runner) -> Any:
    class EventAction(g4.G4UserEventAction):
        def EndOfEventAction(self, event: Any) -> None:
            runner.record(event)

    return EventAction()


def _make_detector_construction(g4: Any, calo: Calorimeter) -> Any:
    mm = g4.mm

    class CaloGANGeometry(g4.G4VUserDetectorConstruction):
        """Slabs in a vacuum world; cells as replicas of the read-out square inside each slab."""

        def __init__(self) -> None:
            super().__init__()
            self.keep: list[Any] = []  # Geant4 does not own Python-made objects: keep them alive
            self.cell_volumes: dict[int, list[Any]] = {i: [] for i in range(len(calo.layers))}
            self.slab_volumes: dict[int, list[Any]] = {i: [] for i in range(len(calo.layers))}

        def Construct(self) -> Any:
            materials = _materials(g4, calo)
            self.keep += list(materials.values())
            half_xy = calo.transverse_size_mm / 2
            world_s = g4.G4Box(
                "World",
                calo.world_scale * half_xy * mm,
                calo.world_scale * half_xy * mm,
                calo.world_scale * calo.depth_mm / 2 * mm,
            )
            world_lv = g4.G4LogicalVolume(world_s, materials[calo.world_material.name], "World")
            world_pv = g4.G4PVPlacement(
                None, g4.G4ThreeVector(), world_lv, "World", None, False, 0, False
            )
            self.keep += [world_s, world_lv, world_pv]
            volumes: dict[tuple[str, float, int], Any] = {}
            for copy, (material, z0, z1, layer) in enumerate(calo.slabs):
                key = (material, round(z1 - z0, 6), layer)
                if key not in volumes:
                    volumes[key] = self._slab_volume(materials[material], z1 - z0, layer)
                pv = g4.G4PVPlacement(
                    None,
                    g4.G4ThreeVector(0, 0, 0.5 * (z0 + z1) * mm),
                    volumes[key],
                    f"slab{copy}",
                    world_lv,
                    False,
                    copy,
                    False,
                )
                self.keep.append(pv)
            return world_pv

        def _slab_volume(self, material: Any, thickness: float, layer: int) -> Any:
            """A slab with the read-out square inside, split into n_x strips of n_y cells."""
            spec = calo.layers[layer]
            name = f"{material.GetName()}_{thickness:g}mm_L{layer}"
            half_xy, half_t = calo.transverse_size_mm / 2 * mm, thickness / 2 * mm
            w = spec.half_width_mm * mm
            dx, dy = (s * mm for s in spec.cell_size_mm)
            slab_s = g4.G4Box(name, half_xy, half_xy, half_t)
            slab_lv = g4.G4LogicalVolume(slab_s, material, name)
            square_s = g4.G4Box(name + "_readout", w, w, half_t)
            square_lv = g4.G4LogicalVolume(square_s, material, name + "_readout")
            strip_s = g4.G4Box(name + "_strip", dx / 2, w, half_t)
            strip_lv = g4.G4LogicalVolume(strip_s, material, name + "_strip")
            cell_s = g4.G4Box(name + "_cell", dx / 2, dy / 2, half_t)
            cell_lv = g4.G4LogicalVolume(cell_s, material, name + "_cell")
            square_pv = g4.G4PVPlacement(
                None, g4.G4ThreeVector(), square_lv, name + "_readout", slab_lv, False, 0, False
            )
            strips = g4.G4PVReplica(name + "_strip", strip_lv, square_lv, g4.kXAxis, spec.n_x, dx)
            cells = g4.G4PVReplica(name + "_cell", cell_lv, strip_lv, g4.kYAxis, spec.n_y, dy)
            self.keep += [slab_s, slab_lv, square_s, square_lv, strip_s, strip_lv]
            self.keep += [cell_s, cell_lv, square_pv, strips, cells]
            self.cell_volumes[layer].append(cell_lv)
            self.slab_volumes[layer].append(slab_lv)
            return slab_lv

        def ConstructSDandField(self) -> None:
            sdm = g4.G4SDManager.GetSDMpointer()
            for i, spec in enumerate(calo.layers):
                # Touchable depths inside a cell: 0 cell (iy), 1 strip (ix), 2 read-out square.
                # G4PSEnergyDeposit3D's index is i*nj*nk + j*nk + k = ix*n_y + iy (CaloGAN's).
                cells = g4.G4MultiFunctionalDetector(f"cells{i}")
                cells.RegisterPrimitive(
                    g4.G4PSEnergyDeposit3D("edep", spec.n_x, spec.n_y, 1, 1, 0, 2)
                )
                slabs = g4.G4MultiFunctionalDetector(f"slabs{i}")
                slabs.RegisterPrimitive(g4.G4PSEnergyDeposit("edep"))
                for detector, logicals in (
                    (cells, self.cell_volumes[i]),
                    (slabs, self.slab_volumes[i]),
                ):
                    sdm.AddNewDetector(detector)
                    for lv in logicals:
                        lv.SetSensitiveDetector(detector)
                    self.keep.append(detector)

    return CaloGANGeometry()


def _materials(g4: Any, calo: Calorimeter) -> dict[str, Any]:
    nist = g4.G4NistManager.Instance()
    out = {}
    for m in (calo.absorber, calo.gap, calo.world_material):
        if m.nist_name:
            out[m.name] = nist.FindOrBuildMaterial(m.nist_name)
        else:
            out[m.name] = g4.G4Material(
                m.name,
                float(m.z),
                m.molar_mass_g_mol * g4.g / g4.mole,
                m.density_g_cm3 * g4.g / g4.cm3,
            )
    return out
