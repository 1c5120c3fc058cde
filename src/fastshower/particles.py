"""Particle names as users type them, and the PDG codes stored in dataset files."""

from __future__ import annotations

__all__ = ["PARTICLES", "canonical_name", "particle_name", "pdg_code"]

# name -> PDG Monte Carlo code; the names are Geant4's particle names.
PARTICLES: dict[str, int] = {"e+": -11, "e-": 11, "gamma": 22, "pi+": 211, "pi-": -211}
_ALIASES = {"positron": "e+", "electron": "e-", "photon": "gamma", "eplus": "e+", "piplus": "pi+"}


def canonical_name(name: str) -> str:
    """The Geant4 name of a particle, accepting a few common spellings (``photon`` -> ``gamma``)."""
    key = _ALIASES.get(name.strip().lower(), name.strip())
    if key not in PARTICLES:
        allowed = ", ".join(PARTICLES)
        raise ValueError(f"unknown particle {name!r}: allowed are {allowed}")
    return key


def pdg_code(name: str) -> int:
    return PARTICLES[canonical_name(name)]


def particle_name(code: int) -> str:
    for name, pdg in PARTICLES.items():
        if pdg == int(code):
            return name
    raise ValueError(f"unknown PDG code {code}: known are {sorted(PARTICLES.values())}")
