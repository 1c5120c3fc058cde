"""The cross sections behind the built Geant4 tables, against published physics numbers, and the
files written from them, against the formats described in ``g4tables``.

Reference values and why each tolerance holds:

- Photo effect in lead: NIST XCOM (Berger et al., NBSIR 87-3597), photoelectric absorption
  5.23 cm2/g at 100 keV and 1.81e-2 cm2/g at 1 MeV, i.e. 1800 and 6.23 barn/atom
  (x A / N_A). XCOM's photo effect is Scofield's 1973 calculation, as is xraylib's, so 100 keV
  agrees to a few per mille (3% allowed); 1 MeV lies past xraylib's spline and comes from the
  Sauter extrapolation, allowed 5%.
- Lead's K-shell share just above the K edge: 1 - 1/J with the K jump ratio J ~ 4.8-5 of the
  XCOM attenuation tables (7.68 vs 1.91 cm2/g total, minus scattering), i.e. ~0.79-0.80.
- Radiation lengths (PDG, Atomic and nuclear properties): Pb 6.37, Ar 19.55, H 63.04 g/cm2. Since
  -dE/dx = E / X0 at high energy, (N_A / A) Z^2 int_0^1 chi dkappa = 1 / X0. The PDG values come
  from Tsai's formula, which leaves out the small (Z^2 + Z)/18 term of the full complete-
  screening cross section (+1.6% for Pb); at 10 GeV screening is nearly complete. So 3%.
- Thermal neutron capture (Sears 1992): Pb 0.171 b, Ar 0.675 b, H 0.3326 b.
- 208Pb giant dipole resonance at 13.4-13.5 MeV (Berman and Fultz, Rev. Mod. Phys. 47 (1975)).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fastshower.simulate import physics_tables as pt
from fastshower.simulate.g4data import DATASETS, ELEMENTS
from fastshower.simulate.g4tables import write_tables

xraylib = pytest.importorskip("xraylib")
periodictable = pytest.importorskip("periodictable")

pytestmark = pytest.mark.geant4

N_A = 6.02214076e23
BARN_CM2 = 1e-24
MB_CM2 = 1e-27
ALPHA = 1 / 137.035999084  # CODATA 2018
R_E_CM = 2.8179403262e-13
BARN_MM2 = 1e-22
MOLAR_MASS = {1: 1.008, 18: 39.948, 82: 207.2}  # g/mol, as the PDG uses for X0


def xcom_barn(mass_attenuation_cm2_g: float, z: int) -> float:
    return mass_attenuation_cm2_g * MOLAR_MASS[z] / N_A / BARN_CM2


# ----------------------------------------------------------------------------- photo effect
@pytest.mark.parametrize(
    ("energy_mev", "xcom_cm2_g", "tolerance"),
    [(0.1, 5.23, 0.03), (1.0, 1.81e-2, 0.05)],
)
def test_lead_photo_effect_matches_xcom(
    energy_mev: float, xcom_cm2_g: float, tolerance: float
) -> None:
    sigma = pt.photoelectric_total_barn(82, np.array([energy_mev]))[0]
    assert sigma == pytest.approx(xcom_barn(xcom_cm2_g, 82), rel=tolerance)


@pytest.mark.parametrize("z", ELEMENTS)
def test_shells_add_up_to_xraylib_total(z: int) -> None:
    energy = np.array([0.002, 0.02, 0.1, 0.5, 0.8])  # MeV, inside xraylib's range
    shells = pt.photoelectric_shells(z, energy)
    assert shells.shape == (len(pt.shell_binding_mev(z)), len(energy))
    assert np.all(shells >= 0)
    total = [xraylib.CSb_Photo(z, e * 1000.0) for e in energy]
    np.testing.assert_allclose(shells.sum(axis=0), total, rtol=1e-9)


def test_shells_open_at_their_edges() -> None:
    binding = [b for _shell, b in pt.shell_binding_mev(82)]
    assert binding == sorted(binding, reverse=True)  # K first
    assert binding[0] == pytest.approx(0.088, rel=1e-3)  # Pb K edge, 88.0 keV
    energy = np.array([b * f for b in binding for f in (0.999, 1.001)])
    shells = pt.photoelectric_shells(82, energy)
    listed = energy > binding[-1]
    for i, b in enumerate(binding):
        assert np.all(shells[i, listed & (energy < b)] == 0), f"shell {i} open below {b} MeV"
        assert np.all(shells[i, energy > b] > 0)
    # below the lowest listed edge (outer shells xraylib has no partials for) the outermost
    # listed shell carries the absorption, never the K shell 88 keV below its edge
    low = pt.photoelectric_shells(82, np.array([binding[-1] * 0.9]))[:, 0]
    assert low[-1] > 0 and np.all(low[:-1] == 0)


def test_lead_k_shell_share_above_the_k_edge() -> None:
    k_edge = pt.shell_binding_mev(82)[0][1]
    below, above = pt.photoelectric_shells(82, np.array([k_edge * 0.9999, k_edge * 1.0001])).T
    k_share = above[0] / above.sum()
    assert 0.75 < k_share < 0.85
    # the other shells are continuous across the K edge, so the jump is 1 / (1 - K share)
    assert below.sum() / above.sum() == pytest.approx(1 - k_share, rel=0.02)


def test_photo_effect_falls_smoothly_past_xraylib_range() -> None:
    energy = np.geomspace(0.2, 100.0, 60)
    sigma = pt.photoelectric_total_barn(82, energy)
    assert np.all(np.diff(sigma) < 0)
    # no step where xraylib's values hand over to the Sauter shape (800 keV)
    joint = pt.photoelectric_total_barn(82, np.array([0.8 * (1 - 1e-6), 0.8 * (1 + 1e-6)]))
    assert joint[1] == pytest.approx(joint[0], rel=1e-4)


# ----------------------------------------------------------------------------- bremsstrahlung
def complete_screening_chi_mb(z: int) -> float:
    """Tsai's (Rev. Mod. Phys. 46 (1974) eq. 3.83) complete-screening k dsigma/dk at y -> 0,
    divided by Z^2, with the PDG review's L_rad, L'_rad and Coulomb correction f(Z)."""
    l_rad = math.log(184.15 * z ** (-1 / 3))
    l_rad_prime = math.log(1194.0 * z ** (-2 / 3))
    a2 = (ALPHA * z) ** 2
    f = a2 * (1 / (1 + a2) + 0.20206 - 0.0369 * a2 + 0.0083 * a2**2 - 0.002 * a2**3)
    bracket = 4 / 3 * ((l_rad - f) + l_rad_prime / z) + (1 + 1 / z) / 9
    return 4 * ALPHA * R_E_CM**2 * bracket / MB_CM2


@pytest.mark.parametrize("z", [18, 82])
def test_bremsstrahlung_complete_screening_limit(z: int) -> None:
    chi = pt.bremsstrahlung_scaled_dxs(z, np.array(1e4), np.array(1e-12))
    assert float(chi) == pytest.approx(complete_screening_chi_mb(z), rel=1e-3)


@pytest.mark.parametrize(("z", "x0_g_cm2"), [(82, 6.37), (18, 19.55), (1, 63.04)])
def test_bremsstrahlung_integrates_to_the_pdg_radiation_length(z: int, x0_g_cm2: float) -> None:
    kappa = np.linspace(0.0, 1.0, 100_001)
    chi = pt.bremsstrahlung_scaled_dxs(z, np.array(1e4), kappa)  # T = 10 GeV, top of the grid
    inverse_x0 = N_A / MOLAR_MASS[z] * z * z * np.trapezoid(chi, kappa) * MB_CM2
    assert inverse_x0 * x0_g_cm2 == pytest.approx(1.0, abs=0.03)


def test_bremsstrahlung_is_finite_and_positive_on_the_grid() -> None:
    from fastshower.simulate.g4tables import SB_KAPPA, SB_LOG_T

    for z in ELEMENTS:
        chi = pt.bremsstrahlung_scaled_dxs(z, np.exp(SB_LOG_T)[:, None], SB_KAPPA[None, :])
        assert chi.shape == (len(SB_LOG_T), len(SB_KAPPA))
        assert np.all(np.isfinite(chi)) and np.all(chi >= 0)
        # Bethe-Heitler with the Coulomb correction fails only at the tip (kappa >= 0.999)
        assert np.all(chi[:, SB_KAPPA <= 0.99] > 0)
        # soft photons: chi rises with T as screening sets in, and saturates (complete screening)
        soft = chi[:, 0]
        assert soft[-1] == pytest.approx(soft[-5], rel=1e-3)


# ----------------------------------------------------------------------------- Rayleigh
@pytest.mark.parametrize("z", ELEMENTS)
def test_rayleigh_is_positive_falling_and_below_thomson(z: int) -> None:
    energy = np.geomspace(1e-4, 1e3, 200)
    sigma = pt.rayleigh_barn(z, energy)
    assert np.all(sigma > 0)
    assert np.all(np.diff(sigma) < 0)
    thomson_z2 = z * z * 8 * math.pi / 3 * R_E_CM**2 / BARN_CM2
    # forward form factor F(0) = Z: at 100 eV scattering is coherent on all Z electrons
    assert sigma[0] == pytest.approx(thomson_z2, rel=0.02)
    high = pt.rayleigh_barn(z, np.array([10.0, 100.0]))  # E^-2 far above the form-factor scale
    assert high[0] / high[1] == pytest.approx(100.0, rel=1e-6)


# ----------------------------------------------------------------------------- hadronic
@pytest.mark.parametrize(("z", "sears_barn"), [(1, 0.3326), (18, 0.675), (82, 0.171)])
def test_thermal_neutron_capture_and_one_over_v(z: int, sears_barn: float) -> None:
    thermal = pt.THERMAL_ENERGY_MEV
    assert thermal == pytest.approx(0.5 * 939.565 * (2200 / 2.998e8) ** 2, rel=1e-3)  # 2200 m/s
    sigma = pt.neutron_capture_barn(z, np.array([thermal, 100 * thermal]))
    assert sigma[0] == pytest.approx(periodictable.elements[z].neutron.absorption, rel=1e-9)
    assert sigma[0] == pytest.approx(sears_barn, rel=0.01)
    assert sigma[1] == pytest.approx(sigma[0] / 10, rel=1e-9)  # 1/v: v grows as sqrt(E)


def test_lead_giant_dipole_resonance() -> None:
    energy = np.linspace(0.0, 130.0, 130_001)
    sigma_mb = pt.photonuclear_barn(82, energy) * 1000
    assert 13.0 < energy[np.argmax(sigma_mb)] < 14.0
    assert np.all(sigma_mb[energy < 8.0] == 0)  # below the neutron separation energy
    a = MOLAR_MASS[82]
    trk = 60 * (a - 82) * 82 / a  # Thomas-Reiche-Kuhn sum rule, mb MeV
    assert np.trapezoid(sigma_mb, energy) == pytest.approx(trk, rel=0.15)


# ----------------------------------------------------------------------------- written files
@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("g4tables")
    manifest = write_tables(root, ELEMENTS, DATASETS)
    assert manifest["elements"] == list(ELEMENTS)
    return root


def folder(root: Path, dataset: str) -> Path:
    return root / DATASETS[dataset][1]


def read_vector(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """G4PhysicsVector ascii: 'emin emax n', 'n', then n 'E value' lines."""
    lines = path.read_text().splitlines()
    emin, emax, n = lines[0].split()
    n = int(n)
    assert int(lines[1]) == n and len(lines) == n + 2, path
    data = np.array([line.split() for line in lines[2:]], dtype=float)
    assert data.shape == (n, 2), path
    assert data[0, 0] == float(emin) and data[-1, 0] == float(emax), path
    assert np.all(np.diff(data[:, 0]) > 0), path
    return data[:, 0], data[:, 1]


def read_shell_blocks(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """pe-ss-cs: per shell a header 'emin emax n shell' and n 'E value' lines."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        emin, emax, n, shell = lines[i].split()
        n = int(n)
        assert int(shell) == len(blocks), path
        data = np.array([line.split() for line in lines[i + 1 : i + 1 + n]], dtype=float)
        assert data.shape == (n, 2) and data[0, 0] == float(emin) and data[-1, 0] == float(emax)
        blocks.append((data[:, 0], data[:, 1]))
        i += n + 1
    return blocks


def test_layout(tables: Path) -> None:
    for dataset in DATASETS:
        assert folder(tables, dataset).is_dir(), dataset
    assert (folder(tables, "G4ENSDFSTATE") / "ENSDFSTATE.dat").read_text() == ""
    em = folder(tables, "G4EMLOW")
    for z in ELEMENTS:
        for name in (f"brem_SB/br{z}", f"epics2017/rayl/re-cs-{z}.dat"):
            assert (em / name).is_file(), name
        for kind in ("cs", "high", "low"):
            assert (em / "epics2017" / "phot" / f"pe-{kind}-{z}.dat").is_file()
    xs = folder(tables, "G4PARTICLEXS")
    assert len(list((xs / "neutron").glob("inel*"))) == 92
    assert len(list((xs / "gamma").glob("inel*"))) == 94


@pytest.mark.parametrize("z", [18, 82])
def test_photo_effect_files(tables: Path, z: int) -> None:
    phot = folder(tables, "G4EMLOW") / "epics2017" / "phot"
    binding = [b for _shell, b in pt.shell_binding_mev(z)]
    k_edge = binding[0]
    e_hi, e3_sigma = read_vector(phot / f"pe-cs-{z}.dat")
    e_lo, _ = read_vector(phot / f"pe-le-cs-{z}.dat")
    assert e_hi[0] == pytest.approx(k_edge) and e_lo[-1] < k_edge
    assert e_lo[0] == pytest.approx(1e-4) and e_hi[-1] == pytest.approx(1e8)
    # sigma * E^3 in barn MeV^3 (Geant4's photo-effect model scales by barn when reading)
    probe = np.array([0.1, 0.5])
    at = np.searchsorted(e_hi, probe)
    np.testing.assert_allclose(
        e3_sigma[at] / e_hi[at] ** 3, pt.photoelectric_total_barn(z, e_hi[at]), rtol=1e-8
    )

    blocks = read_shell_blocks(phot / f"pe-ss-cs-{z}.dat")
    assert len(blocks) == len(binding)
    for (e, _v), b in zip(
        blocks, binding, strict=True
    ):  # each block starts at its edge (or the grid's)
        assert e[0] == pytest.approx(max(b, e_lo[0]), rel=1e-9)
    # above the K edge every block shares pe-cs's grid: the shells add up to the total
    for energy in (k_edge * 1.01, 0.3, 5.0, 1e4):
        j = int(np.searchsorted(e_hi, energy))
        total = sum(v[np.searchsorted(e, e_hi[j])] for e, v in blocks)
        assert total == pytest.approx(e3_sigma[j], rel=1e-8)

    for kind in ("high", "low"):  # parametrisations switched off, binding energies listed
        rows = (phot / f"pe-{kind}-{z}.dat").read_text().splitlines()
        n1, n2, threshold = rows[0].split()
        assert int(n1) == int(n2) == len(binding) == len(rows) - 1
        assert float(threshold) > 1e8  # above every photon energy Geant4 tracks
        assert [float(r.split()[0]) for r in rows[1:]] == pytest.approx(binding, rel=1e-9)


def test_bremsstrahlung_files(tables: Path) -> None:
    from fastshower.simulate.g4tables import SB_KAPPA, SB_LOG_T

    for z in ELEMENTS:
        lines = (folder(tables, "G4EMLOW") / "brem_SB" / f"br{z}").read_text().splitlines()
        kind, nx, ny = (int(v) for v in lines[0].split())
        assert (kind, nx, ny) == (2, 32, 57) and len(lines) == 3 + ny
        kappa = np.array(lines[1].split(), dtype=float)
        log_t = np.array(lines[2].split(), dtype=float)
        np.testing.assert_allclose(kappa, SB_KAPPA)
        assert kappa[-1] == 1.0 and np.all(np.diff(kappa) > 0)
        assert log_t[0] == pytest.approx(math.log(1e-3)) and log_t[-1] == pytest.approx(
            math.log(1e4)
        )
        chi = np.array([row.split() for row in lines[3:]], dtype=float)
        assert chi.shape == (ny, nx)
        np.testing.assert_allclose(
            chi,
            pt.bremsstrahlung_scaled_dxs(z, np.exp(SB_LOG_T)[:, None], SB_KAPPA[None, :]),
            rtol=1e-5,
        )


def test_rayleigh_files(tables: Path) -> None:
    for z in ELEMENTS:
        path = folder(tables, "G4EMLOW") / "epics2017" / "rayl" / f"re-cs-{z}.dat"
        energy, e2_sigma = read_vector(path)
        np.testing.assert_allclose(
            e2_sigma / energy**2 / BARN_MM2, pt.rayleigh_barn(z, energy), rtol=1e-8
        )


def test_neutron_files_are_on_a_log_uniform_grid(tables: Path) -> None:
    neutron = folder(tables, "G4PARTICLEXS") / "neutron"
    grids = []
    for name in [f"{kind}{z}" for z in ELEMENTS for kind in ("el", "cap", "inel")] + ["inel92"]:
        energy, sigma_mm2 = read_vector(neutron / name)
        assert np.all(sigma_mm2 >= 0) and np.all(np.isfinite(sigma_mm2))
        steps = np.diff(np.log(energy))
        np.testing.assert_allclose(steps, steps[0], rtol=1e-6)  # G4PhysicsLogVector
        grids.append(energy)
    assert energy[0] == pytest.approx(1e-11) and energy[-1] == pytest.approx(20.0)
    for g in grids[1:]:
        np.testing.assert_array_equal(g, grids[0])
    energy, capture = read_vector(neutron / "cap82")
    j = np.argmin(abs(energy - pt.THERMAL_ENERGY_MEV))
    assert capture[j] / BARN_MM2 == pytest.approx(
        0.171 * math.sqrt(pt.THERMAL_ENERGY_MEV / energy[j]), rel=1e-6
    )


def test_photonuclear_files_are_on_a_linear_uniform_grid(tables: Path) -> None:
    gamma = folder(tables, "G4PARTICLEXS") / "gamma"
    for z in (1, 18, 82, 94):
        energy, sigma_mm2 = read_vector(gamma / f"inel{z}")
        assert energy[0] == 0.0 and energy[-1] == pytest.approx(130.0)
        np.testing.assert_allclose(np.diff(energy), energy[1] - energy[0], rtol=1e-6)
        np.testing.assert_allclose(
            sigma_mm2 / BARN_MM2, pt.photonuclear_barn(z, energy), rtol=1e-8, atol=1e-12
        )
    energy, sigma_mm2 = read_vector(gamma / "inel82")
    assert 13.0 < energy[np.argmax(sigma_mm2)] < 14.0


# ----------------------------------------------------------------------------- read by Geant4
def test_geant4_reads_the_built_tables() -> None:
    """Geant4's own cross sections, computed from the files it read, equal the formulas: the
    formats, units (barn, mm^2, E^3 and E^2 scalings) and grids are understood as meant."""
    from fastshower.simulate import g4data

    if g4data.configure().source != "fastshower-tables":
        pytest.skip("Geant4 runs on the official data sets here, not on built tables")
    from fastshower.detector import CALORIMETER
    from fastshower.simulate.calo import CaloSettings, _runner, simulate_showers

    simulate_showers(CaloSettings("e-", (1.0, 1.0)), 1, seed=1)  # Geant4 builds its tables
    g4 = _runner().g4
    calc = g4.G4EmCalculator()
    gamma = g4.G4Gamma.Gamma()
    for z in (18, 82):
        molar_mass = MOLAR_MASS[z] * g4.g / g4.mole
        for process, formula in (
            ("phot", pt.photoelectric_total_barn),
            ("Rayl", pt.rayleigh_barn),
        ):
            energy = np.array([0.03, 0.1, 0.3, 1.0, 5.0])  # MeV, between and on grid nodes
            geant4 = [
                calc.ComputeCrossSectionPerAtom(e * g4.MeV, gamma, process, z, molar_mass) / g4.barn
                for e in energy
            ]
            np.testing.assert_allclose(geant4, formula(z, energy), rtol=1e-3, err_msg=process)

    # Seltzer-Berger radiative stopping power: n T (Z^2 / beta^2) int_0^1 chi dkappa
    kappa = np.linspace(0.0, 1.0, 20_001)
    for material in (CALORIMETER.absorber, CALORIMETER.gap):
        name = material.nist_name or material.name
        atoms_per_mm3 = g4.G4Material.GetMaterial(name).GetTotNbOfAtomsPerVolume() * g4.mm3
        z = material.z
        for t in (10.0, 100.0, 900.0):  # MeV: the Seltzer-Berger model's range ends at 1 GeV
            geant4 = calc.ComputeDEDX(t * g4.MeV, "e-", "eBrem", name, t * g4.MeV)
            beta2 = t * (t + 2 * pt.ELECTRON_MASS_MEV) / (t + pt.ELECTRON_MASS_MEV) ** 2
            chi_mb = pt.bremsstrahlung_scaled_dxs(z, np.array(t), kappa)
            mev_per_mm = atoms_per_mm3 * t * z * z / beta2 * np.trapezoid(chi_mb, kappa) * 1e-25
            assert geant4 / (g4.MeV / g4.mm) == pytest.approx(mev_per_mm, rel=0.01), (name, t)
