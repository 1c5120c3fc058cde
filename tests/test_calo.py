"""Geant4 showers in the CaloGAN calorimeter: real events, a few of each, at low energy.

Geant4 lives once per process: the first test that simulates pays its start-up (~1.5 s), the
rest reuse it. Events cost ~0.2 s at 10 GeV (less for pions, which often punch through).
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastshower.detector import CALORIMETER
from fastshower.io import SHOWER_SCHEMA, read_showers, write_showers
from fastshower.particles import PARTICLES
from fastshower.simulate.calo import CaloJob, CaloSettings, simulate_showers

if importlib.util.find_spec("geant4_pybind") is None:  # not importorskip: it must come after
    pytest.skip("needs the sim extra (geant4-pybind)", allow_module_level=True)  # g4data

pytestmark = pytest.mark.geant4

LAYER_KEYS = [layer.key for layer in CALORIMETER.layers]
ELECTRON_MASS_MEV = 0.51099895
PION_MASS_MEV = 139.57039


def deposits_mev(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Energy deposited per event and layer, cells plus overflow (MeV), shape (n, 3)."""
    cells = np.stack([arrays[key].sum(axis=(1, 2)) for key in LAYER_KEYS], axis=1)
    return cells.astype(np.float64) + arrays["overflow"]


@pytest.fixture(scope="module")
def positrons() -> dict[str, np.ndarray]:
    return simulate_showers(CaloSettings("e+", (10.0, 10.0)), 8, seed=101)


@pytest.fixture(scope="module")
def pions() -> dict[str, np.ndarray]:
    return simulate_showers(CaloSettings("pi+", (10.0, 10.0)), 8, seed=102)


# ----------------------------------------------------------------------------- output layout
@pytest.mark.parametrize(
    ("particle", "energy_gev"),
    [
        ("e+", (2.0, 4.0)),
        ("e-", (2.0, 4.0)),
        ("gamma", (2.0, 4.0)),
        ("pi+", (5.0, 8.0)),
        ("pi-", (5.0, 8.0)),
    ],
)
def test_output_layout_and_units(
    tmp_path: Path, particle: str, energy_gev: tuple[float, float]
) -> None:
    settings = CaloSettings(particle, energy_gev, position_mm=(30.0, -20.0), position_spread_mm=10)
    arrays = simulate_showers(settings, 2, seed=5)

    assert set(arrays) == set(SHOWER_SCHEMA.keys)
    for f in SHOWER_SCHEMA.fields:
        assert arrays[f.key].shape == (2, *f.shape), f.key
        assert arrays[f.key].dtype == np.dtype(f.dtype), f.key
    for key in [*LAYER_KEYS, "overflow"]:
        assert np.all(np.isfinite(arrays[key])) and np.all(arrays[key] >= 0), key
    assert np.all(arrays["particle"] == PARTICLES[particle])
    energy = arrays["energy"][:, 0]  # GeV, uniform in the range
    assert np.all((energy >= energy_gev[0]) & (energy <= energy_gev[1]))
    assert energy[0] != energy[1]
    offset = arrays["position"] - np.float32([30.0, -20.0])  # mm, in the +-10 mm square
    assert np.all(np.abs(offset) <= 10.0) and np.any(offset != 0)

    # cells are MeV and energy GeV: a deposit is a share of 1000 x energy, never more than the
    # kinetic energy plus what annihilation (2 m_e) or pion absorption (m_pi) adds
    total = deposits_mev(arrays).sum(axis=1)
    kinetic = 1000.0 * energy
    extra = {"e+": 2 * ELECTRON_MASS_MEV, "pi+": PION_MASS_MEV, "pi-": PION_MASS_MEV}
    assert np.all(total <= 1.01 * kinetic + extra.get(particle, 0.0))
    if particle in ("e+", "e-", "gamma"):  # electromagnetic showers are ~99% contained
        assert np.all(total >= 0.9 * kinetic)
    else:  # a pion crossing 480 mm deposits at least a MIP's ~300 MeV
        assert np.all(total >= 200.0)

    # what Geant4 returns is what the dataset files take
    path = write_showers(tmp_path / "s.h5", arrays, {"seed": 5})
    back = read_showers(path)
    for key, value in arrays.items():
        np.testing.assert_array_equal(back[key], value)


# ----------------------------------------------------------------------------- physics
def test_positron_showers_are_contained(positrons: dict[str, np.ndarray]) -> None:
    """30 radiation lengths deep and 1 m wide: only back-scatter (albedo) and the odd escaping
    neutron or photon leave a 10 GeV shower, ~0.5% on average, a few % in a rare event."""
    kinetic = 1000.0 * positrons["energy"][:, 0]
    contained = deposits_mev(positrons).sum(axis=1) / kinetic
    assert contained.mean() >= 0.98
    assert contained.min() >= 0.95
    assert np.all(contained <= 1 + 2 * ELECTRON_MASS_MEV / kinetic + 1e-3)  # conservation
    assert np.all(positrons["layer_1"].sum(axis=(1, 2)) > 0.5 * kinetic)  # shower maximum


def test_pions_deposit_deeper_than_positrons(
    positrons: dict[str, np.ndarray], pions: dict[str, np.ndarray]
) -> None:
    """Observable: the share of an event's deposit behind z = 197 mm (layer 2 + its overflow).

    A 10 GeV positron shower (X0 ~ 16 mm here) has long peaked in layer 1 by 197 mm (~28 X0):
    ~0.07% of it is deposited behind, never more than 0.2% in any event seen. The 480 mm hold only
    ~1.3 nuclear interaction lengths, so a pion either crosses as a MIP (~300 MeV spread evenly,
    9% of it behind 197 mm) or starts a hadronic shower a few hundred mm long: its share is ~10%
    on average (8-19% over five 8-event samples), though one event may show anywhere from 0.1%
    to 70%. The means differ by ~100x; asking for 10x leaves the 8-event pion mean room to
    fluctuate down by an order of magnitude, which would need nearly every pion to shower early
    and end before 197 mm.
    """
    e_share = deposits_mev(positrons)[:, 2] / deposits_mev(positrons).sum(axis=1)
    pi_share = deposits_mev(pions)[:, 2] / deposits_mev(pions).sum(axis=1)
    assert e_share.mean() < 0.005
    assert pi_share.mean() > 10 * e_share.mean()
    assert np.median(pi_share) > 10 * np.median(e_share)


def test_incidence_point_moves_the_shower() -> None:
    """A shower aimed at (x, y) = (100, -60) mm, x != y so a transposed layout would show.
    100 and -60 are layer-1 cell centres (40 mm cells), so the centroids sit on them within the
    few-mm fluctuations of a 5 GeV shower's transverse profile."""
    arrays = simulate_showers(CaloSettings("e+", (5.0, 5.0), position_mm=(100.0, -60.0)), 2, 21)
    x, y = CALORIMETER.cell_centres_mm(1)
    e = arrays["layer_1"]
    cx = (e * x).sum(axis=(1, 2)) / e.sum(axis=(1, 2))
    cy = (e * y).sum(axis=(1, 2)) / e.sum(axis=(1, 2))
    np.testing.assert_allclose(cx, 100.0, atol=10.0)
    np.testing.assert_allclose(cy, -60.0, atol=10.0)

    e0 = arrays["layer_0"]  # 3 strips of 160 mm along x, 96 cells of 5 mm along y
    assert np.all(e0[:, 2, :].sum(axis=1) > 0.9 * e0.sum(axis=(1, 2)))  # strip 80 < x < 240
    _, y0 = CALORIMETER.cell_centres_mm(0)
    np.testing.assert_allclose((e0 * y0).sum(axis=(1, 2)) / e0.sum(axis=(1, 2)), -60.0, atol=5.0)


def test_same_seed_same_showers() -> None:
    settings = CaloSettings("e+", (3.0, 6.0), position_spread_mm=20.0)
    first = simulate_showers(settings, 2, seed=7)
    other = simulate_showers(settings, 2, seed=8)  # a run in between must not matter
    again = simulate_showers(settings, 2, seed=7)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key], err_msg=key)
    for key in [*LAYER_KEYS, "energy", "position"]:
        assert not np.array_equal(first[key], other[key]), key
    zero = simulate_showers(CaloSettings("e-", (1.0, 1.0)), 1, seed=0)  # Geant4 refuses seed 0
    np.testing.assert_array_equal(
        zero["layer_1"], simulate_showers(CaloSettings("e-", (1.0, 1.0)), 1, seed=0)["layer_1"]
    )


def test_cpp_scoring_equals_a_per_step_python_reference(tmp_path: Path) -> None:
    """The C++ volume scorers against a Python stepping action binning every step's deposit at
    its midpoint with ``detector.py``'s edges: same events, same cells, to float32 precision.

    In a subprocess: a stepping action on the process-wide Geant4 runner would slow every later
    test in this process down (a Python call per step) and cannot be removed cleanly.
    """
    out = tmp_path / "steps.npz"
    script = Path(__file__).with_name("step_reference.py")
    done = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = np.load(out)
    n_cases = 3
    for case in range(n_cases):
        for key in [*LAYER_KEYS, "overflow"]:
            cpp, ref = data[f"cpp_{key}_{case}"], data[f"ref_{key}_{case}"]
            assert cpp.shape == ref.shape, (case, key)
            np.testing.assert_allclose(cpp, ref, rtol=1e-4, atol=1e-5, err_msg=f"{case} {key}")
        total = sum(data[f"ref_{key}_{case}"].sum() for key in [*LAYER_KEYS, "overflow"])
        assert total > 500.0  # MeV: the comparison saw real showers
    # every path of the binning was exercised: overflow (e- aimed at the corner), layer 2 (pions)
    assert data["ref_overflow_1"].sum() > 10.0
    assert data["ref_layer_2_2"].sum() > 1.0
    assert np.count_nonzero(data["ref_layer_0_0"]) > 10


# ----------------------------------------------------------------------------- settings
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"particle": "mu+"}, r"unknown particle 'mu\+': allowed are e\+, e-, gamma, pi\+, pi-"),
        ({"energy_gev": (0.05, 0.05)}, r"energy 0.05 GeV is outside the allowed 0.1-1000 GeV"),
        ({"energy_gev": (10.0, 2000.0)}, r"energy 2000 GeV is outside the allowed 0.1-1000 GeV"),
        ({"energy_gev": (math.nan, 5.0)}, r"energy nan GeV is outside"),
        ({"energy_gev": (50.0, 10.0)}, r"energy range 50:10 GeV is inverted"),
        ({"position_mm": (240.0, 0.0)}, r"incidence point \(240.0, 0.0\).*\|x\|, \|y\| < 240"),
        ({"position_mm": (0.0, -300.0)}, r"incidence point \(0.0, -300.0\)"),
        ({"position_mm": (200.0, 0.0), "position_spread_mm": 50.0}, r"\+- 50.0 mm must lie"),
        ({"position_spread_mm": -1.0}, r"spread >= 0"),
    ],
)
def test_settings_refuse_bad_values(kwargs: dict, message: str) -> None:
    request = {"particle": "e+", "energy_gev": (10.0, 10.0), **kwargs}
    with pytest.raises(ValueError, match=message):
        CaloSettings(**request)


@pytest.mark.parametrize("energy_gev", [(0.5, 0.5), (50.0, 200.0)])
def test_settings_warn_outside_the_calogan_range(energy_gev: tuple[float, float]) -> None:
    with pytest.warns(UserWarning, match=r"reaches outside CaloGAN's 1-100 GeV range"):
        settings = CaloSettings("gamma", energy_gev)
    assert settings.energy_gev == energy_gev


def test_settings_normalise_and_serialise() -> None:
    settings = CaloSettings("photon", (1, 100), position_mm=(1, 2))
    assert settings.particle == "gamma"
    assert settings.to_dict() == {
        "particle": "gamma",
        "energy_gev": [1.0, 100.0],
        "position_mm": [1.0, 2.0],
        "position_spread_mm": 0.0,
    }
    with pytest.raises(ValueError, match=r"number of events must be positive, got 0"):
        simulate_showers(settings, 0, seed=1)


def test_job_provenance_names_geant4_and_the_physics() -> None:
    job = CaloJob(CaloSettings("e-", (1.0, 100.0)))
    prov = job.provenance()
    assert prov["generator"] == "Geant4" and prov["detector"] == "CaloGAN"
    assert prov["geant4_version"].startswith("geant4-11")
    assert prov["physics_list"] == "FTFP_BERT"
    assert prov["energy_spectrum"] == "uniform 1-100 GeV" and prov["particle_name"] == "e-"
    assert job.settings["calo"] == job.calo.to_dict()
    assert job.settings["physics"]["physics_list"] == "FTFP_BERT"


def test_job_refuses_to_run_with_other_physics() -> None:
    """A worker whose Geant4 data differs from the client's must not add chunks to the file."""
    from fastshower.simulate.calo import CaloJob

    job = CaloJob(CaloSettings("e+", (2.0, 2.0)))
    assert job.settings["physics"]["physics_list"] == "FTFP_BERT"
    assert len(job.run_chunk(1, seed=5)["energy"]) == 1
    other = CaloJob(job.calo, physics={**job.physics, "physics_data": "some other tables"})
    with pytest.raises(RuntimeError, match="refusing to mix"):
        other.run_chunk(1, seed=5)


def test_processes_started_after_configure_see_the_same_physics() -> None:
    """``configure`` exports the tables' paths, so Dask workers inherit them: they must still
    recognise them as fastshower's tables (not official data) and agree with the client."""
    import json
    import subprocess
    import sys

    from fastshower.simulate.calo import _physics_identity

    here = _physics_identity()
    code = (
        "import json; from fastshower.simulate.calo import _physics_identity; "
        "print(json.dumps(_physics_identity()))"
    )
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert json.loads(child.stdout.strip().splitlines()[-1]) == here
