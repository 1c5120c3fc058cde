"""Cross sections for Geant4's data tables when the official data sets are not at hand.

Pure functions of (Z, energy) returning numpy arrays; ``g4data`` writes them in Geant4's own file
formats. Each function says where its numbers come from: evaluated data from ``xraylib`` (photo
effect per shell, Rayleigh scattering, binding energies) wherever it has them, and published
formulas only where no registry package carries the data (bremsstrahlung, neutron cross
sections). ``docs/physics.md`` lists what each table approximates.

Units: energies in MeV, cross sections in barn per atom, unless a name says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "ALPHA",
    "ELECTRON_MASS_MEV",
    "bremsstrahlung_scaled_dxs",
    "neutron_capture_barn",
    "neutron_elastic_barn",
    "neutron_inelastic_barn",
    "photoelectric_shells",
    "photoelectric_total_barn",
    "photonuclear_barn",
    "rayleigh_barn",
    "shell_binding_mev",
]

ALPHA = 1 / 137.035999
ELECTRON_MASS_MEV = 0.51099895
CLASSICAL_ELECTRON_RADIUS_FM = 2.8179403262
# alpha * r_e^2 in millibarn (1 fm^2 = 10 mb)
_ALPHA_RE2_MB = ALPHA * CLASSICAL_ELECTRON_RADIUS_FM**2 * 10.0

XRAYLIB_MAX_KEV = 800.0
"""xraylib's photo-effect and Rayleigh splines end below 1 MeV; 800 keV is safely inside."""


# ----------------------------------------------------------------------------- bremsstrahlung
def _coulomb_correction(z: int) -> float:
    """Davies-Bethe-Maximon Coulomb correction f(Z) (Tsai 1974, eq. 3.3)."""
    a2 = (ALPHA * z) ** 2
    return a2 * (1 / (1 + a2) + 0.20206 - 0.0369 * a2 + 0.0083 * a2**2 - 0.002 * a2**3)


def _radiation_logarithms(z: int) -> tuple[float, float]:
    """Tsai's L_rad and L'_rad (1974, table B.2 for Z <= 4; Thomas-Fermi above)."""
    table = {1: (5.31, 6.144), 2: (4.79, 5.621), 3: (4.74, 5.805), 4: (4.71, 5.924)}
    if z in table:
        return table[z]
    return math.log(184.15 * z ** (-1 / 3)), math.log(1194.0 * z ** (-2 / 3))


def bremsstrahlung_scaled_dxs(z: int, kinetic_mev: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """Seltzer-Berger's scaled bremsstrahlung cross section chi = (beta^2 / Z^2) k dsigma/dk (mb).

    The Seltzer-Berger tables themselves are not on any registry. This is Tsai's (Rev. Mod.
    Phys. 46 (1974) 815, eq. 3.9) Bethe-Heitler cross section with Thomas-Fermi screening
    (eqs. 3.38-3.41), the electron-electron term (Z instead of Z^2 terms) and the Coulomb
    correction, which is the high-energy theory the Seltzer-Berger tables follow above 50 MeV.
    Below that the Coulomb correction, a high-energy result, is switched off gradually (linearly
    in ln T down to 2 MeV), as the exact partial-wave results it stands for vanish at low
    energies; below 2 MeV (where Seltzer-Berger used Pratt's partial-wave numbers) this stays a
    Born approximation. ``kinetic_mev`` (T) and ``kappa`` (k / T) broadcast together.
    """
    t = np.asarray(kinetic_mev, dtype=float)
    kap = np.clip(np.asarray(kappa, dtype=float), 1e-12, 1.0)
    t, kap = np.broadcast_arrays(t, kap)
    energy = t + ELECTRON_MASS_MEV  # total energy E
    k = kap * t
    e_out = np.maximum(energy - k, ELECTRON_MASS_MEV)  # total energy after emission
    y = k / energy
    z13 = z ** (1 / 3)
    gamma = 100 * ELECTRON_MASS_MEV * k / (energy * e_out * z13)
    eps = 100 * ELECTRON_MASS_MEV * k / (energy * e_out * z13**2)
    phi1 = (
        20.863
        - 2 * np.log1p((0.55846 * gamma) ** 2)
        - 4 * (1 - 0.6 * np.exp(-0.9 * gamma) - 0.4 * np.exp(-1.5 * gamma))
    )
    phi1_minus_phi2 = (2 / 3) / (1 + 6.5 * gamma + 6 * gamma**2)
    psi1 = (
        28.340
        - 2 * np.log1p((3.621 * eps) ** 2)
        - 4 * (1 - 0.7 * np.exp(-8 * eps) - 0.3 * np.exp(-29.2 * eps))
    )
    psi1_minus_psi2 = (2 / 3) / (1 + 40 * eps + 400 * eps**2)
    if z <= 4:
        # Tsai's special radiation logarithms for light atoms, in the complete-screening form.
        l_rad, l_rad_prime = _radiation_logarithms(z)
        lnz = math.log(z)
        phi1 = np.minimum(phi1, 4 * l_rad + 4 / 3 * lnz)
        psi1 = np.minimum(psi1, 4 * l_rad_prime + 8 / 3 * lnz)
    ln_t = np.log(np.maximum(t, 1e-9))
    coulomb_weight = np.clip((ln_t - math.log(2.0)) / (math.log(50.0) - math.log(2.0)), 0, 1)
    fc = _coulomb_correction(z) * coulomb_weight
    lnz = math.log(z)
    nuclear = z * z * (phi1 - 4 / 3 * lnz - 4 * fc)
    electronic = z * (psi1 - 8 / 3 * lnz)
    k_dsigma_dk = _ALPHA_RE2_MB * (
        (4 / 3 - 4 / 3 * y + y * y) * (nuclear + electronic)
        + (2 / 3) * (1 - y) * (z * z * phi1_minus_phi2 + z * psi1_minus_psi2)
    )
    beta2 = t * (t + 2 * ELECTRON_MASS_MEV) / energy**2
    return np.maximum(beta2 / z**2 * k_dsigma_dk, 0.0)


# ----------------------------------------------------------------------------- photo effect
def _xraylib() -> Any:  # imported lazily: only table building needs it
    import xraylib

    return xraylib


def shell_binding_mev(z: int) -> list[tuple[int, float]]:
    """(xraylib shell index, binding energy in MeV) of every occupied shell, K first."""
    xrl = _xraylib()
    shells = []
    for shell in range(xrl.N7_SHELL + 1):
        try:
            edge = xrl.EdgeEnergy(z, shell)
        except ValueError:
            continue
        if edge > 0:
            shells.append((shell, edge / 1000.0))
    return shells


def _sauter_tail(energy_mev: np.ndarray | float) -> np.ndarray:
    """Shape of the K-shell photo effect at high energy (Sauter 1931), normalised at 1 MeV.

    Only the energy dependence is used: it continues xraylib's evaluated cross sections (which
    end below 1 MeV) smoothly to high energies, where the photo effect is negligible anyway.
    """

    def sauter(e: np.ndarray | float) -> np.ndarray:
        g = 1 + np.asarray(e, dtype=float) / ELECTRON_MASS_MEV
        b = np.sqrt(1 - 1 / g**2)
        log_ratio = 2 * np.log(g + np.sqrt(g * g - 1))  # ln((1+b)/(1-b)), stable as b -> 1
        return (
            (g * g - 1) ** 1.5
            / g**5
            * (4 / 3 + g * (g - 2) / (g + 1) * (1 - 1 / (2 * g * b * b) * log_ratio))
            / (g - 1) ** 4
            * g**4
        )

    return sauter(energy_mev) / sauter(np.array(1.0))


def photoelectric_shells(z: int, energy_mev: np.ndarray) -> np.ndarray:
    """Photo-ionisation cross section per shell (barn/atom), shape (n_shells, len(energy)).

    Up to 800 keV: xraylib's evaluated total photo-effect cross section, shared out among the
    shells in proportion to xraylib's partial photo-ionisation cross sections (Kissel's
    tabulation of Scofield's calculations, as in EPDL97), zero below each edge. The partial
    splines end at different energies, so a shell past its spline's end keeps the Sauter
    high-energy shape from its last value. Above 800 keV every shell follows the Sauter shape.
    """
    xrl = _xraylib()
    energy = np.atleast_1d(np.asarray(energy_mev, dtype=float))
    e_top = XRAYLIB_MAX_KEV / 1000.0
    grid = np.append(np.minimum(energy, e_top), e_top)  # evaluate at e_top too, for the tail
    shells = shell_binding_mev(z)
    partials = np.zeros((len(shells), len(grid)))
    for i, (shell, edge) in enumerate(shells):
        # xraylib's partial cross sections are per electron: times the shell's occupancy.
        electrons = xrl.ElectronConfig(z, shell)

        def partial(e_kev: float, shell: int = shell, electrons: float = electrons) -> float:
            try:
                return electrons * xrl.CSb_Photo_Partial(z, shell, e_kev)
            except ValueError:  # exactly at the edge xraylib refuses: take the value just above
                return electrons * xrl.CSb_Photo_Partial(z, shell, e_kev * (1 + 1e-6))

        e_last = _last_valid_kev(partial) / 1000.0
        for j in np.flatnonzero(grid >= edge):
            e = grid[j]
            partials[i, j] = (
                partial(e * 1000.0)
                if e <= e_last
                else partial(e_last * 1000.0) * _sauter_tail(e) / _sauter_tail(e_last)
            )
    total = np.array([xrl.CSb_Photo(z, e * 1000.0) for e in grid])
    shell_sum = partials.sum(axis=0)
    fraction = np.divide(partials, shell_sum, out=np.zeros_like(partials), where=shell_sum > 0)
    # No listed shell open: hydrogen (one shell, degenerate partial table), or below the lowest
    # listed edge (Pb under 136 eV: outer shells xraylib lists no partials for). The outermost
    # listed shell takes it, never K, which would be open 88 keV below its edge.
    fraction[-1, shell_sum <= 0] = 1.0
    out = fraction * total
    beyond = energy > e_top
    out = out[:, :-1]
    out[:, beyond] = out[:, beyond] * (_sauter_tail(energy[beyond]) / _sauter_tail(e_top))
    return out


def _last_valid_kev(
    cross_section: Callable[[float], float], start_kev: float = XRAYLIB_MAX_KEV
) -> float:
    """The highest energy (keV, on a 2% grid down from ``start_kev``) xraylib's spline covers."""
    e = start_kev
    while e > 1.0:
        try:
            cross_section(e)
            return e
        except ValueError:
            e *= 0.98
    raise ValueError("xraylib has no cross section for this shell")


def photoelectric_total_barn(z: int, energy_mev: np.ndarray) -> np.ndarray:
    """Total photo-effect cross section (barn/atom): the sum over shells."""
    return photoelectric_shells(z, energy_mev).sum(axis=0)


def rayleigh_barn(z: int, energy_mev: np.ndarray) -> np.ndarray:
    """Rayleigh (coherent) scattering cross section (barn/atom).

    xraylib's evaluated values (form-factor integrals, Hubbell) up to 800 keV; above, the
    high-energy limit sigma ~ E^-2 (the form factor cuts the angular range as 1/E).
    """
    xrl = _xraylib()
    energy = np.atleast_1d(np.asarray(energy_mev, dtype=float))
    e_max = XRAYLIB_MAX_KEV / 1000.0
    at_max = xrl.CSb_Rayl(z, XRAYLIB_MAX_KEV)
    out = np.empty(len(energy))
    for j, e in enumerate(energy):
        if e <= e_max:
            out[j] = xrl.CSb_Rayl(z, max(e * 1000.0, 1e-3))
        else:
            out[j] = at_max * (e_max / e) ** 2
    return out


# ----------------------------------------------------------------------------- hadronic
NEUTRON_MASS_MEV = 939.56542
HBAR_C_MEV_FM = 197.3269804
THERMAL_ENERGY_MEV = 2.53e-8  # 0.0253 eV: where thermal cross sections are quoted (2200 m/s)
FIRST_EXCITED_LEVEL_MEV = {82: 2.614, 18: 1.461}
"""First excited level of the dominant isotope (208Pb 3-, 40Ar 2+; ENSDF), where inelastic
neutron scattering opens. Elements not in the geometry get a generic 1 MeV."""


def _neutron_thermal(z: int) -> tuple[float, float]:
    """Evaluated thermal (2200 m/s) absorption and bound-atom scattering cross sections in barn
    (Sears 1992, via the ``periodictable`` package, whose ``total`` is the total *scattering*
    cross section, coherent + incoherent)."""
    import periodictable

    neutron = periodictable.elements[z].neutron
    return float(neutron.absorption or 0.0), float(neutron.total or 0.0)


def _black_disk_barn(z: int, energy_mev: np.ndarray) -> np.ndarray:
    """pi (R + lambda-bar)^2 with R = 1.25 A^(1/3) fm: the strong-absorption (black nucleus)
    reaction cross section, which also equals the shape-elastic one in that limit."""
    a = _atomic_mass(z)
    radius = 1.25 * a ** (1 / 3)
    momentum = np.sqrt(2 * NEUTRON_MASS_MEV * np.asarray(energy_mev, dtype=float))
    lambda_bar = HBAR_C_MEV_FM / momentum
    return np.pi * (radius + lambda_bar) ** 2 / 100.0  # fm^2 -> barn


def _atomic_mass(z: int) -> float:
    return float(_xraylib().AtomicWeight(z))


def neutron_capture_barn(z: int, energy_mev: np.ndarray) -> np.ndarray:
    """Radiative capture: the evaluated thermal value continued with the 1/v law (no resonances)."""
    absorption, _ = _neutron_thermal(z)
    return absorption * np.sqrt(THERMAL_ENERGY_MEV / np.asarray(energy_mev, dtype=float))


def neutron_elastic_barn(z: int, energy_mev: np.ndarray) -> np.ndarray:
    """Elastic scattering: s-wave potential scattering (the evaluated thermal value, constant) while
    kR << 1, i.e. below 10 keV; the black-disk shape-elastic value pi (R + lambda-bar)^2 once
    kR >~ 1, above 1 MeV; interpolated in ln E between the two (no resonances)."""
    energy = np.asarray(energy_mev, dtype=float)
    _, scattering = _neutron_thermal(z)
    weight = np.clip(np.log(energy / 1e-2) / np.log(1.0 / 1e-2), 0.0, 1.0)
    return (1 - weight) * scattering + weight * _black_disk_barn(z, energy)


def neutron_inelastic_barn(z: int, energy_mev: np.ndarray) -> np.ndarray:
    """Non-elastic reactions: the black-disk cross section above the first excited level, opening
    as (1 - E_threshold / E). Its value at 20 MeV sets Geant4's normalisation of the Glauber-Gribov
    cross section at higher energies (G4NeutronInelasticXS scales to the table's last point)."""
    energy = np.asarray(energy_mev, dtype=float)
    threshold = FIRST_EXCITED_LEVEL_MEV.get(z, 1.0)
    return _black_disk_barn(z, energy) * np.clip(1 - threshold / energy, 0.0, None)


def photonuclear_barn(z: int, energy_mev: np.ndarray) -> np.ndarray:
    """Photo-nuclear absorption through the giant dipole resonance (a Lorentzian).

    Peak position from the Myers-Swiatecki systematics E0 = 31.2 A^-1/3 + 20.6 A^-1/6 MeV, width
    5 MeV, strength from the Thomas-Reiche-Kuhn sum rule (60 NZ/A mb MeV); zero below 8 MeV, the
    typical neutron separation energy. Geant4 joins it to its own (CHIPS) values above the table.
    """
    energy = np.asarray(energy_mev, dtype=float)
    a = _atomic_mass(z)
    n = max(a - z, 0.0)
    e0 = 31.2 * a ** (-1 / 3) + 20.6 * a ** (-1 / 6)
    width = 5.0
    sigma0_mb = 2 * 60 * n * z / a / (np.pi * width)
    e2 = np.maximum(energy, 1e-9) ** 2
    lorentz = sigma0_mb / (1 + (e2 - e0**2) ** 2 / (e2 * width**2))
    return np.where(energy >= 8.0, lorentz, 0.0) / 1000.0  # mb -> barn
