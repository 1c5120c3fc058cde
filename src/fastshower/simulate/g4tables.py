"""Geant4's data files, written from ``physics_tables``: the formats FTFP_BERT 11.4 reads.

Only what FTFP_BERT with standard EM physics (option 0) opens for this geometry is written
(established by tracing Geant4 11.4.p01's file accesses): Seltzer-Berger bremsstrahlung,
Livermore photo effect and Rayleigh scattering (G4EMLOW), neutron and photo-nuclear cross
sections (G4PARTICLEXS), an empty nuclide table (G4ENSDFSTATE: no radioactive decay in
FTFP_BERT) and an empty level-gamma folder (PhotonEvaporation: nuclear de-excitation falls back
to the continuum). Units in the files are Geant4's internal ones: MeV, mm^2 (1 barn = 1e-22 mm^2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import version
from pathlib import Path

import numpy as np

from fastshower.simulate import physics_tables as pt

__all__ = ["write_tables"]

BARN_MM2 = 1e-22
# Seltzer-Berger's grid: 32 photon-energy fractions k/T, 57 electron energies 1 keV - 10 GeV.
# fmt: off
SB_KAPPA = np.array([
    1e-12, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6,
    0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.99, 0.995, 0.999, 0.9995,
    0.9999, 0.99995, 0.99999, 1.0,
])
# fmt: on
SB_LOG_T = np.linspace(np.log(1e-3), np.log(1e4), 57)
PHOTON_MIN_MEV, PHOTON_MAX_MEV = 1e-4, 1e8  # Geant4's EM tables span 100 eV - 100 TeV
NEUTRON_MIN_MEV, NEUTRON_MAX_MEV = 1e-11, 20.0
PHOTONUCLEAR_MAX_MEV = 130.0
NEUTRON_INELASTIC_Z = range(1, 93)  # G4NeutronInelasticXS loads every element
PHOTONUCLEAR_Z = range(1, 95)  # so does G4GammaNuclearXS


def write_tables(
    root: Path, elements: Iterable[int], datasets: Mapping[str, tuple[str, str]]
) -> dict:
    """Write every table into ``root`` (laid out as a GEANT4_DATA_DIR); return a manifest."""
    folder = {name: root / sub for name, (_var, sub) in datasets.items()}
    elements = tuple(elements)
    em = folder["G4EMLOW"]
    for z in elements:
        _write_bremsstrahlung(em / "brem_SB" / f"br{z}", z)
        _write_photoelectric(em / "epics2017" / "phot", z)
        _write_vector(
            em / "epics2017" / "rayl" / f"re-cs-{z}.dat",
            *_rayleigh_e2_sigma(z),
        )
    xs = folder["G4PARTICLEXS"]
    neutron_e = np.geomspace(NEUTRON_MIN_MEV, NEUTRON_MAX_MEV, 200)  # log-uniform: required
    for z in NEUTRON_INELASTIC_Z:
        _write_vector(
            xs / "neutron" / f"inel{z}",
            neutron_e,
            pt.neutron_inelastic_barn(z, neutron_e) * BARN_MM2,
        )
    for z in elements:
        _write_vector(
            xs / "neutron" / f"el{z}", neutron_e, pt.neutron_elastic_barn(z, neutron_e) * BARN_MM2
        )
        _write_vector(
            xs / "neutron" / f"cap{z}", neutron_e, pt.neutron_capture_barn(z, neutron_e) * BARN_MM2
        )
    gamma_e = np.linspace(0.0, PHOTONUCLEAR_MAX_MEV, 261)  # linear-uniform: required
    for z in PHOTONUCLEAR_Z:
        _write_vector(
            xs / "gamma" / f"inel{z}", gamma_e, pt.photonuclear_barn(z, gamma_e) * BARN_MM2
        )
    ensdf = folder["G4ENSDFSTATE"]
    ensdf.mkdir(parents=True, exist_ok=True)
    (ensdf / "ENSDFSTATE.dat").write_text("")
    folder["PhotonEvaporation"].mkdir(parents=True, exist_ok=True)
    return {
        "elements": list(elements),
        "xraylib": version("xraylib"),
        "periodictable": version("periodictable"),
        "tables": {
            "brem_SB": "Tsai's screened Bethe-Heitler with Coulomb correction (formula)",
            "epics2017/phot": "xraylib total and per-shell photo-ionisation; Sauter above 800 keV",
            "epics2017/rayl": "xraylib Rayleigh cross sections; E^-2 above 800 keV",
            "neutron": "periodictable thermal values, 1/v capture, black-disk fast cross sections",
            "gamma/inel": "giant dipole resonance Lorentzian (TRK sum rule)",
        },
    }


def _write_vector(path: Path, energy: np.ndarray, value: np.ndarray) -> None:
    """G4PhysicsVector's ascii format: 'emin emax n', 'n', then one 'E value' pair per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{energy[0]:.10g} {energy[-1]:.10g} {len(energy)}", str(len(energy))]
    lines += [f"{e:.10g} {v:.10g}" for e, v in zip(energy, value, strict=False)]
    path.write_text("\n".join(lines) + "\n")


def _write_bremsstrahlung(path: Path, z: int) -> None:
    """G4Physics2DVector's format: 'type nx ny', x = k/T, y = ln(T/MeV), ny rows of nx chi (mb)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chi = pt.bremsstrahlung_scaled_dxs(z, np.exp(SB_LOG_T)[:, None], SB_KAPPA[None, :])
    lines = [f"2 {len(SB_KAPPA)} {len(SB_LOG_T)}"]
    lines.append(" ".join(f"{k:.10g}" for k in SB_KAPPA))
    lines.append(" ".join(f"{y:.10g}" for y in SB_LOG_T))
    lines += [" ".join(f"{v:.6g}" for v in row) for row in chi]
    path.write_text("\n".join(lines) + "\n")


def _photon_grid(edges: Iterable[float], lo: float, hi: float, per_decade: int = 40) -> np.ndarray:
    """A log grid from lo to hi with points just below and at every absorption edge, so that
    linear interpolation keeps each edge a step instead of smearing it."""
    base = np.geomspace(lo, hi, int(per_decade * np.log10(hi / lo)) + 1)
    marks = [e for edge in edges if lo < edge < hi for e in (edge * (1 - 1e-7), edge)]
    return np.unique(np.concatenate([base, marks]))


def _write_photoelectric(folder: Path, z: int) -> None:
    """Livermore photo effect (G4LivermorePhotoElectricModel, EPICS2017 layout).

    Cross sections are tabulated as sigma * E^3 (barn MeV^3) in ``pe-cs`` (above the K edge),
    ``pe-le-cs`` (below it) and per shell in ``pe-ss-cs`` (used to pick the ionised shell). The
    parametrisations in ``pe-high``/``pe-low`` are switched off by thresholds above Geant4's
    energy range, so the tables are used everywhere; their rows carry the shell binding energies
    (what the photo-electron loses, deposited locally: fluorescence is off in option 0).
    """
    folder.mkdir(parents=True, exist_ok=True)
    shells = pt.shell_binding_mev(z)
    binding = [b for _shell, b in shells]
    k_edge = binding[0]
    n = len(shells)
    grid = _photon_grid(binding, PHOTON_MIN_MEV, PHOTON_MAX_MEV)
    per_shell = pt.photoelectric_shells(z, grid)
    e3 = grid**3
    total = per_shell.sum(axis=0) * e3
    above = grid >= k_edge
    _write_vector(folder / f"pe-cs-{z}.dat", grid[above], total[above])
    if n > 1:
        _write_vector(folder / f"pe-le-cs-{z}.dat", grid[~above], total[~above])
        blocks = []
        for i in range(n):
            rows = grid >= binding[i]
            e, v = grid[rows], per_shell[i, rows] * e3[rows]
            blocks.append(f"{e[0]:.10g} {e[-1]:.10g} {len(e)} {i}")
            blocks += [f"{a:.10g} {b:.10g}" for a, b in zip(e, v, strict=False)]
        (folder / f"pe-ss-cs-{z}.dat").write_text("\n".join(blocks) + "\n")
    never = 10 * PHOTON_MAX_MEV  # parametrisation thresholds beyond any photon's energy
    for kind in ("high", "low"):
        lines = [f"{n} {n} {never:.10g}"]
        lines += [f"{b:.10g} 0 0 0 0 0 0" for b in binding]
        (folder / f"pe-{kind}-{z}.dat").write_text("\n".join(lines) + "\n")


def _rayleigh_e2_sigma(z: int) -> tuple[np.ndarray, np.ndarray]:
    """G4LivermoreRayleighModel's table: E (MeV) against E^2 sigma (MeV^2 mm^2)."""
    energy = np.geomspace(PHOTON_MIN_MEV, 1e3, 281)
    return energy, energy**2 * pt.rayleigh_barn(z, energy) * BARN_MM2
