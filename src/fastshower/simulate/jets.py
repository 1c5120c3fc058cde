"""Jet images from Pythia 8 and FastJet: boosted W jets and QCD jets, LAGAN's recipe.

Per event (``../shared/jets.md`` has the recipe and its sources):

1. Pythia 8 at 14 TeV: W' (800 GeV) -> W Z, W -> quarks, Z -> neutrinos (signal), or QCD 2 -> 2.
2. An idealised calorimeter: every final-state particle except neutrinos adds its energy to a
   cell of 0.1 in pseudorapidity (|eta| < 5) by 2 pi / 63 in azimuth; each cell becomes a
   massless particle at the cell's centre.
3. Anti-kt R = 1.0 on the cells; the leading jet is trimmed (kt R = 0.3 subjets, keep those with
   more than 5% of the jet's pT).
4. Keep the trimmed jet if |eta| < 2 and 250 < pT < 300 GeV (and, optionally, in a mass window).
5. Its constituents become a 25 x 25 image (``jet_images``); its kinematics and N-subjettiness
   (``fastshower.observables.jets``) are stored next to the image.

Two departures from the original, both on purpose: cells are binned in pseudorapidity (where a
calorimeter cell sits), not rapidity, and the azimuth is cut into 63 equal cells instead of
0.1-wide bins whose last one straddles +-pi. The hot path has no per-particle Python loop:
Pythia hands over whole batches of events as awkward arrays (``Pythia.nextBatch``), cells are
summed with ``numpy.bincount``, and FastJet clusters all events of a batch in one C++ call.

QCD efficiency: LAGAN generated QCD with pT-hat in 100-500 GeV, where 99% of events can never
give a 250-300 GeV jet, and a pT-hat window cannot help much (jets in the window come from
pT-hat as low as 130 GeV: ISR and the underlying event push them up). Instead a parton-level
veto (``_parton_veto``) drops hopeless events when the shower reaches 20 GeV, before the costly
soft part; its loss is measured and documented in ``docs/jets.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fastshower._stdout import stdout_silenced
from fastshower.io import JET_SCHEMA, Schema
from fastshower.observables.jets import (
    four_momentum_sum,
    mass,
    nsubjettiness,
    quiet_fastjet,
    ratio,
)
from fastshower.simulate.jet_images import PREPROCESSING, jet_images, wrap_phi

__all__ = [
    "JET_PT_WINDOW_GEV",
    "PROCESSES",
    "QCD_PARTON_VETO_GEV",
    "JetGenerator",
    "JetJob",
    "JetSettings",
    "TrimmedJets",
    "pythia_info",
    "simulate_jets",
    "trimmed_leading_jets",
]

PROCESSES = {"w": "W' -> W Z, W -> quarks, Z -> neutrinos", "qcd": "QCD 2 -> 2 (HardQCD:all)"}
JET_PT_WINDOW_GEV = (250.0, 300.0)
ORIGINAL_PTHAT_WINDOW_GEV = (100.0, 500.0)
PARTON_VETO_SCALE_GEV = 20.0
QCD_PARTON_VETO_GEV = 200.0
"""Default QCD parton-level veto threshold; what it loses is measured in docs/jets.md."""

ETA_MAX = 2.0
CALORIMETER_ETA_MAX = 5.0
CELL_ETA = 0.1
CELL_PHI_COUNT = 63
JET_R = 1.0
TRIM_R = 0.3
TRIM_PT_FRACTION = 0.05
BATCH_EVENTS = 100
"""Events asked of Pythia at a time: large enough that per-batch overheads vanish."""

_COMMON = ("Beams:eCM = 14000.", "Print:quiet = on", "Next:numberCount = 0")
_PROCESS_SETTINGS = {
    "w": (
        "NewGaugeBoson:ffbar2Wprime = on",
        "Wprime:coup2WZ = 1.",
        "34:m0 = 800.",
        "34:onMode = off",
        "34:onIfAll = 23 24",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4",
        "23:onMode = off",
        "23:onIfAny = 12",
    ),
    "qcd": ("HardQCD:all = on",),
}
_PYTHIA_SEED_MAX = 900_000_000


@dataclass(frozen=True)
class JetSettings:
    """What a jet sample is made of. Windows are (low, high) in GeV, both exclusive."""

    process: str
    preprocessing: str = "exact"
    pt_window_gev: tuple[float, float] = JET_PT_WINDOW_GEV
    mass_window_gev: tuple[float, float] | None = None
    pthat_window_gev: tuple[float, float] | None = None
    """QCD only: Pythia's pT-hat range; None means LAGAN's 100-500 GeV."""
    parton_veto_gev: float | None = None
    """QCD only: drop events early whose parton-level leading jet is below this pT (GeV) when
    the shower reaches 20 GeV; None means ``QCD_PARTON_VETO_GEV``, 0 switches it off."""

    def __post_init__(self) -> None:
        process = str(self.process).strip().lower()
        if process not in PROCESSES:
            raise ValueError(
                f"unknown process {self.process!r}: allowed are {', '.join(PROCESSES)}"
            )
        object.__setattr__(self, "process", process)
        if self.preprocessing not in PREPROCESSING:
            raise ValueError(
                f"unknown preprocessing {self.preprocessing!r}: allowed are "
                f"{', '.join(PREPROCESSING)}"
            )
        object.__setattr__(self, "pt_window_gev", _window("pT window", self.pt_window_gev))
        if self.mass_window_gev is not None:
            object.__setattr__(
                self, "mass_window_gev", _window("mass window", self.mass_window_gev, low=0.0)
            )
        if process == "w":
            if self.pthat_window_gev is not None:
                raise ValueError("a pT-hat window applies to QCD only (W' is a 2 -> 1 process)")
            if self.parton_veto_gev:
                raise ValueError("the parton-level veto applies to QCD only")
            object.__setattr__(self, "parton_veto_gev", 0.0)
        else:
            pthat = self.pthat_window_gev or ORIGINAL_PTHAT_WINDOW_GEV
            object.__setattr__(self, "pthat_window_gev", _window("pT-hat window", pthat))
            veto = QCD_PARTON_VETO_GEV if self.parton_veto_gev is None else self.parton_veto_gev
            if not (math.isfinite(veto) and 0.0 <= veto < self.pt_window_gev[0]):
                raise ValueError(
                    f"parton-level veto {veto:g} GeV is not allowed: need 0 (off) <= veto < "
                    f"{self.pt_window_gev[0]:g} GeV (the jet pT window's low edge)"
                )
            object.__setattr__(self, "parton_veto_gev", float(veto))

    def pythia_settings(self) -> list[str]:
        """Pythia's configuration strings, seed excluded (recorded in the provenance)."""
        lines = [*_COMMON, *_PROCESS_SETTINGS[self.process]]  # the veto is a hook, not a setting
        if self.pthat_window_gev is not None:
            lo, hi = self.pthat_window_gev
            lines += [f"PhaseSpace:pTHatMin = {lo:g}", f"PhaseSpace:pTHatMax = {hi:g}"]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _window(name: str, window: Any, low: float = 0.0) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in window)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {window!r} must be two numbers (GeV), low:high") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and low <= lo < hi):
        raise ValueError(
            f"{name} {lo:g}:{hi:g} GeV is not allowed: need {low:g} <= low < high (finite)"
        )
    return (lo, hi)


class JetGenerator:
    """One seeded Pythia instance and the jet selection: ``next_jets`` returns accepted jets.

    ``n_events`` counts the events generated so far (those the parton-level veto dropped
    included), for acceptance and cost figures.
    """

    def __init__(self, settings: JetSettings, seed: int) -> None:
        import pythia8mc

        self.settings = settings
        self._returned = 0
        self._pythia = pythia8mc.Pythia("", False)
        for line in [*settings.pythia_settings(), *_seed_settings(seed)]:
            if not self._pythia.readString(line):
                raise RuntimeError(f"Pythia refused the setting {line!r}")
        self._veto = None
        if settings.parton_veto_gev:
            self._veto = _parton_veto(pythia8mc, settings.parton_veto_gev, PARTON_VETO_SCALE_GEV)
            self._pythia.setUserHooksPtr(self._veto)
        with stdout_silenced():
            ok = self._pythia.init()
        if not ok:
            raise RuntimeError(f"Pythia failed to initialise with {settings.pythia_settings()}")

    def next_events(self, n_events: int = BATCH_EVENTS) -> Any:
        """The next ``n_events`` Pythia events, as awkward arrays (``Pythia.nextBatch``)."""
        events = self._pythia.nextBatch(n_events)
        self._returned += len(events)
        return events

    @property
    def n_events(self) -> int:
        return self._returned + (self._veto.n_vetoed if self._veto is not None else 0)

    def next_jets(self, n_events: int = BATCH_EVENTS) -> dict[str, np.ndarray]:
        """Generate ``n_events`` events and return the accepted jets in the dataset layout."""
        return select_jets(self.next_events(n_events), self.settings)


def simulate_jets(settings: JetSettings, n_jets: int, seed: int) -> dict[str, np.ndarray]:
    """``n_jets`` accepted jets (the first ones, in generation order): same seed, same jets."""
    if n_jets <= 0:
        raise ValueError(f"number of jets must be positive, got {n_jets}")
    generator = JetGenerator(settings, seed)
    batches, found = [], 0
    while found < n_jets:
        batch = generator.next_jets()
        batches.append(batch)
        found += len(batch["signal"])
    return {k: np.concatenate([b[k] for b in batches])[:n_jets] for k in JET_SCHEMA.keys}


@dataclass(frozen=True)
class TrimmedJets:
    """The trimmed leading jet of each kept event of a batch (awkward arrays, one row per jet)."""

    event: np.ndarray
    """Index of each jet's event in the batch."""
    subjets: Any
    """Kept kt subjets, sorted by pT (px, py, pz, E)."""
    constituents: Any
    """Calorimeter cells of the kept subjets (px, py, pz, E)."""

    def __len__(self) -> int:
        return len(self.event)

    def __getitem__(self, mask: np.ndarray) -> TrimmedJets:
        return TrimmedJets(self.event[mask], self.subjets[mask], self.constituents[mask])

    def four_momentum(self) -> dict[str, np.ndarray]:
        return four_momentum_sum(self.subjets)

    def constituent_eta_phi(self) -> tuple[np.ndarray, np.ndarray]:
        """(eta, phi) of every constituent, jet after jet."""
        import awkward as ak

        _, eta, phi = _pt_eta_phi(ak.flatten(self.constituents))
        return eta, phi

    def subjet_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """(eta, phi) of the leading and of the second subjet, each (n_jets, 2); the second is
        NaN for jets with a single subjet."""
        import awkward as ak

        counts = ak.to_numpy(ak.num(self.subjets))
        _, eta, phi = _pt_eta_phi(ak.flatten(self.subjets))
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        axes = np.full((2, len(counts), 2), np.nan)
        for k in (0, 1):
            has = counts > k
            axes[k, has] = np.stack([eta[first[has] + k], phi[first[has] + k]], axis=1)
        return axes[0], axes[1]


def trimmed_leading_jets(events: Any, pt_min: float) -> TrimmedJets:
    """Cells, anti-kt R = 1.0, the leading jet, trimming; events whose leading jet is below
    ``pt_min`` before trimming are dropped (trimming only removes pT)."""
    cells = _calorimeter_cells(events.prt)
    event, jet_pt, constituents = _leading_jet_constituents(cells, pt_min)
    if len(event) == 0:
        return TrimmedJets(event, constituents, constituents)
    subjets, members = _trim(constituents, jet_pt)
    return TrimmedJets(event, subjets, members)


def select_jets(events: Any, settings: JetSettings) -> dict[str, np.ndarray]:
    """The accepted leading trimmed jets of a batch of Pythia events, in the dataset layout."""
    import awkward as ak

    trimmed = trimmed_leading_jets(events, settings.pt_window_gev[0])
    if len(trimmed) == 0:
        return _empty()
    p = trimmed.four_momentum()
    pt = np.hypot(p["px"], p["py"])
    eta = np.arcsinh(np.divide(p["pz"], pt, out=np.zeros_like(pt), where=pt > 0))
    m = mass(p["px"], p["py"], p["pz"], p["E"])
    lo, hi = settings.pt_window_gev
    keep = (np.abs(eta) < ETA_MAX) & (pt > lo) & (pt < hi)
    if settings.mass_window_gev is not None:
        m_lo, m_hi = settings.mass_window_gev
        keep &= (m > m_lo) & (m < m_hi)
    if not keep.any():
        return _empty()

    jets = trimmed[keep]
    taus = nsubjettiness(jets.constituents, 3)
    c_pt = np.hypot(*(ak.to_numpy(ak.flatten(jets.constituents[k])) for k in ("px", "py")))
    lead, second = jets.subjet_axes()
    images = jet_images(
        ak.to_numpy(ak.num(jets.constituents)),
        c_pt,
        *jets.constituent_eta_phi(),
        lead,
        second,
        mode=settings.preprocessing,
    )
    d_eta, d_phi = second[:, 0] - lead[:, 0], wrap_phi(second[:, 1] - lead[:, 1])
    delta_r = np.where(np.isfinite(d_eta), np.hypot(d_eta, d_phi), 0.0)
    return {
        "image": images,
        "signal": np.full(len(jets), 1.0 if settings.process == "w" else 0.0, dtype=np.float32),
        "jet_pt": pt[keep],
        "jet_eta": eta[keep],
        "jet_phi": np.arctan2(p["py"], p["px"])[keep],
        "jet_mass": m[keep],
        "jet_delta_R": delta_r,
        "tau_1": taus[:, 0],
        "tau_2": taus[:, 1],
        "tau_3": taus[:, 2],
        "tau_21": ratio(taus[:, 1], taus[:, 0]),
        "tau_32": ratio(taus[:, 2], taus[:, 1]),
        "pt_hat": np.sqrt(ak.to_numpy(events.info.pT2Hat))[jets.event],
    }


def _calorimeter_cells(particles: Any) -> Any:
    """Per event, the non-empty cells as massless particles (awkward px, py, pz, E)."""
    import awkward as ak

    final = particles[particles.status > 0]
    pid = abs(final.id)
    final = final[(pid != 12) & (pid != 14) & (pid != 16)]  # neutrinos leave no energy
    counts = ak.to_numpy(ak.num(final))
    p = final.p
    px, py, pz, e = (ak.to_numpy(ak.flatten(p[k])) for k in ("px", "py", "pz", "e"))
    pt = np.hypot(px, py)
    along_beam = pt <= 0
    eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pt), where=~along_beam))
    phi = np.arctan2(py, px)
    n_eta = round(2 * CALORIMETER_ETA_MAX / CELL_ETA)
    i_eta = np.floor((eta + CALORIMETER_ETA_MAX) / CELL_ETA).astype(np.int64)
    i_phi = np.floor((phi + np.pi) / (2 * np.pi / CELL_PHI_COUNT)).astype(np.int64)
    i_phi %= CELL_PHI_COUNT
    seen = ~along_beam & (i_eta >= 0) & (i_eta < n_eta)
    event = np.repeat(np.arange(len(counts)), counts)
    n_cells = n_eta * CELL_PHI_COUNT
    flat = (event * n_eta + i_eta) * CELL_PHI_COUNT + i_phi
    energy = np.bincount(flat[seen], weights=e[seen], minlength=len(counts) * n_cells)
    hit = np.flatnonzero(energy > 0)
    cell_eta = -CALORIMETER_ETA_MAX + CELL_ETA * ((hit % n_cells) // CELL_PHI_COUNT + 0.5)
    cell_phi = -np.pi + (2 * np.pi / CELL_PHI_COUNT) * (hit % CELL_PHI_COUNT + 0.5)
    cell_pt = energy[hit] / np.cosh(cell_eta)
    cells = ak.zip(
        {
            "px": cell_pt * np.cos(cell_phi),
            "py": cell_pt * np.sin(cell_phi),
            "pz": cell_pt * np.sinh(cell_eta),
            "E": energy[hit],
        }
    )
    return ak.unflatten(cells, np.bincount(hit // n_cells, minlength=len(counts)))


def _leading_jet_constituents(cells: Any, pt_min: float) -> tuple[np.ndarray, np.ndarray, Any]:
    """Anti-kt R = 1.0; the leading jet of events where it could pass ``pt_min`` after trimming
    (trimming only removes pT, so a leading jet below ``pt_min`` is rejected before it)."""
    import awkward as ak

    fastjet = quiet_fastjet()
    sequence = fastjet.ClusterSequence(
        cells, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)
    )
    jets = sequence.inclusive_jets()
    constituents = sequence.constituents()
    jet_pt = np.hypot(jets.px, jets.py)
    best = ak.argmax(jet_pt, axis=1, keepdims=True)
    lead_pt = ak.to_numpy(ak.fill_none(ak.firsts(jet_pt[best]), 0.0))
    event = np.flatnonzero(lead_pt > pt_min)
    return event, lead_pt[event], ak.firsts(constituents[best])[event]


def _trim(constituents: Any, jet_pt: np.ndarray) -> tuple[Any, Any]:
    """Trimming (Krohn, Thaler, Wang, arXiv:0912.1342): kt R = 0.3 subjets of the jet's
    constituents, those above 5% of the (untrimmed) jet pT kept, sorted by pT."""
    import awkward as ak

    fastjet = quiet_fastjet()
    sequence = fastjet.ClusterSequence(
        _plain(constituents), fastjet.JetDefinition(fastjet.kt_algorithm, TRIM_R)
    )
    subjets = _plain(sequence.inclusive_jets())
    members = sequence.constituents()
    sub_pt = np.hypot(subjets.px, subjets.py)
    keep = sub_pt > TRIM_PT_FRACTION * jet_pt
    order = ak.argsort(sub_pt[keep], axis=1, ascending=False)
    return subjets[keep][order], ak.flatten(members[keep], axis=2)


def _pt_eta_phi(particles: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import awkward as ak

    px, py, pz = (ak.to_numpy(particles[k]).astype(np.float64) for k in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.full_like(pt, np.nan), where=pt > 0))
    return pt, eta, np.arctan2(py, px)


def _plain(particles: Any) -> Any:
    """Records with only px, py, pz, E (FastJet returns vector-library records)."""
    import awkward as ak

    return ak.zip({k: particles[k] for k in ("px", "py", "pz", "E")}, depth_limit=None)


def _empty() -> dict[str, np.ndarray]:
    return {f.key: np.zeros((0, *f.shape), dtype=f.dtype) for f in JET_SCHEMA.fields}


def _parton_veto(pythia8mc: Any, pt_min_gev: float, scale_gev: float) -> Any:
    """A Pythia ``UserHooks`` that drops an event as soon as its shower (ISR, FSR and MPI,
    interleaved) has evolved down to ``scale_gev``, unless the partons then form an anti-kt
    R = 1.0 jet (Pythia's ``SlowJet``, in C++) above ``pt_min_gev``.

    Why it is unbiased in practice: everything that can still change a jet's pT happens below
    that scale (softer emissions, the softer MPI, hadronisation), and it is measured not to
    move a jet from below ``pt_min_gev`` to the 250 GeV selection (``docs/jets.md``).
    Vetoed events cost a fraction of a full one, since most of the time goes into the soft part
    of the evolution.
    """

    class PartonVeto(pythia8mc.UserHooks):
        def __init__(self) -> None:
            pythia8mc.UserHooks.__init__(self)
            self.jets = pythia8mc.SlowJet(-1, JET_R, 10.0, CALORIMETER_ETA_MAX, 2, 1)
            self.n_vetoed = 0
            self._banner_shown = False

        def canVetoPT(self) -> bool:
            return True

        def scaleVetoPT(self) -> float:
            return scale_gev

        def doVetoPT(self, position: int, event: Any) -> bool:
            if not self._banner_shown:  # FastJet's core prints a banner on first use
                with stdout_silenced():
                    self.jets.analyze(event)
                self._banner_shown = True
            else:
                self.jets.analyze(event)
            veto = self.jets.sizeJet() == 0 or self.jets.pT(0) < pt_min_gev
            self.n_vetoed += veto
            return veto

    return PartonVeto()


def _seed_settings(seed: int) -> list[str]:
    """Pythia's seed must lie in 1..900 000 000 (0 would mean 'from the clock')."""
    return ["Random:setSeed = on", f"Random:seed = {(int(seed) - 1) % _PYTHIA_SEED_MAX + 1}"]


def pythia_info() -> dict[str, str]:
    """Generator versions for provenance."""
    from importlib.metadata import version

    return {"pythia8mc_version": version("pythia8mc"), "fastjet_version": version("fastjet")}


@dataclass(frozen=True)
class JetJob:
    """A jet-image production for ``fastshower.simulate.production.produce``."""

    jets: JetSettings

    @property
    def schema(self) -> Schema:
        return JET_SCHEMA

    @property
    def settings(self) -> dict[str, Any]:
        return {"jets": self.jets.to_dict(), "generators": pythia_info()}

    def run_chunk(self, n_events: int, seed: int) -> dict[str, np.ndarray]:
        return simulate_jets(self.jets, n_events, seed)

    def provenance(self) -> dict[str, Any]:
        return {
            "generator": "Pythia 8 + FastJet",
            "process": self.jets.process,
            "process_description": PROCESSES[self.jets.process],
            "pythia_settings": self.jets.pythia_settings(),
            "jet_settings": self.jets.to_dict(),
            "selection": (
                f"leading anti-kt R={JET_R:g} jet of calorimeter cells, trimmed (kt R={TRIM_R:g},"
                f" f_cut={TRIM_PT_FRACTION:g}); |eta| < {ETA_MAX:g}; pT in "
                f"{self.jets.pt_window_gev}; mass in {self.jets.mass_window_gev}"
            ),
            "nsubjettiness": "fjcontrib OnePass_WTA_KT_Axes, NormalizedMeasure(beta=1, R0=1)",
            **pythia_info(),
        }
