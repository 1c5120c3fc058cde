"""Real Pythia 8 + FastJet jets: a few dozen per class, through the whole recipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pythia8mc", reason="needs the jets extra (pythia8mc, fastjet)")
import awkward as ak

from fastshower.io import JET_SCHEMA, read_dataset
from fastshower.observables.jets import image_observables, pixel_pt_fractions
from fastshower.simulate.jets import (
    JetGenerator,
    JetJob,
    JetSettings,
    simulate_jets,
    trimmed_leading_jets,
)
from fastshower.simulate.production import produce

N_JETS = 60  # per class in the pythia_jets fixture


pytestmark = pytest.mark.pythia


@pytest.fixture(scope="module")
def w_jets(pythia_jets: tuple[dict, dict]) -> dict[str, np.ndarray]:
    return pythia_jets[0]


@pytest.fixture(scope="module")
def qcd_jets(pythia_jets: tuple[dict, dict]) -> dict[str, np.ndarray]:
    return pythia_jets[1]


def test_layout_and_selection(w_jets: dict, qcd_jets: dict) -> None:
    for jets, signal in ((w_jets, 1.0), (qcd_jets, 0.0)):
        assert set(jets) == set(JET_SCHEMA.keys)
        assert jets["image"].shape == (N_JETS, 25, 25)
        assert (jets["signal"] == signal).all()
        assert ((jets["jet_pt"] > 250) & (jets["jet_pt"] < 300)).all()
        assert (np.abs(jets["jet_eta"]) < 2).all()
        assert (jets["image"] >= 0).all()  # exact preprocessing: no negative pixels
        # the image holds the jet's pT: the scalar sum of constituents is a little above the
        # vector sum (up to 10 % in a wide two-pronged QCD jet), and the window clips a little
        ratio = jets["image"].sum(axis=(1, 2)) / jets["jet_pt"]
        assert ((ratio > 0.9) & (ratio < 1.15)).all(), ratio
        assert (jets["tau_1"] >= jets["tau_2"]).all() and (jets["tau_2"] >= jets["tau_3"]).all()
        # the leading subjet sits in the centre: the average image peaks there
        assert np.unravel_index(jets["image"].mean(axis=0).argmax(), (25, 25)) == (12, 12)


def test_w_jets_are_heavier_and_two_pronged(w_jets: dict, qcd_jets: dict) -> None:
    assert w_jets["jet_mass"].mean() > qcd_jets["jet_mass"].mean() + 15
    assert np.median(w_jets["tau_21"]) < np.median(qcd_jets["tau_21"]) - 0.1
    assert 60 < np.median(w_jets["jet_mass"]) < 95  # the W peak
    assert (qcd_jets["pt_hat"] > 100).all() and (w_jets["pt_hat"] == 0).all()


def test_image_mass_tracks_the_jet_mass(w_jets: dict) -> None:
    """Pixels as massless particles: the image's mass follows the constituents' within a few
    GeV (pixelisation smears a little and adds the 0.1 x 0.1 grid's own mass)."""
    obs = image_observables(w_jets["image"])
    difference = obs["mass"] - w_jets["jet_mass"]
    assert (
        abs(np.median(difference)) < 8 and np.corrcoef(obs["mass"], w_jets["jet_mass"])[0, 1] > 0.9
    )


def test_subjets_sit_two_masses_over_pt_apart_in_w_jets(w_jets: dict, qcd_jets: dict) -> None:
    """A W's two prongs are about 2 m / pT apart (the rule of thumb from its decay); the
    pixel shares of each image sum to one."""
    obs = image_observables(w_jets["image"])
    expected = 2 * np.asarray(w_jets["jet_mass"]) / np.asarray(w_jets["jet_pt"])
    assert abs(np.median(obs["delta_r"] / expected) - 1) < 0.25
    assert np.corrcoef(obs["delta_r"], expected)[0, 1] > 0.5
    assert (obs["n_pixels"] == (w_jets["image"] > 0).sum(axis=(1, 2))).all()
    images = np.concatenate([w_jets["image"], np.zeros((1, 25, 25))])  # and an empty image
    empty = image_observables(images[-1:])
    assert empty["delta_r"][0] == 0 and empty["n_pixels"][0] == 0
    shares = pixel_pt_fractions(images)
    assert len(shares) == obs["n_pixels"].sum() and (shares > 0).all()
    np.testing.assert_allclose(shares.sum(), len(w_jets["image"]), rtol=1e-9)


def test_image_holds_exactly_the_constituents_inside_the_window() -> None:
    from fastshower.simulate.jet_images import jet_images

    generator = JetGenerator(JetSettings("qcd"), seed=5)
    trimmed = trimmed_leading_jets(generator.next_events(60), pt_min=250.0)
    assert len(trimmed.constituents) > 3
    constituents = ak.flatten(trimmed.constituents)
    pt = np.hypot(ak.to_numpy(constituents.px), ak.to_numpy(constituents.py))
    counts = ak.to_numpy(ak.num(trimmed.constituents))
    images = jet_images(
        counts, pt, *trimmed.constituent_eta_phi(), *trimmed.subjet_axes(), mode="exact"
    )
    total = np.add.reduceat(pt, np.concatenate([[0], np.cumsum(counts)[:-1]]))
    assert (images.sum(axis=(1, 2)) <= total * (1 + 1e-6)).all()
    assert (images.sum(axis=(1, 2)) >= 0.95 * total).all()


def test_same_seed_same_jets(qcd_jets: dict) -> None:
    again = simulate_jets(JetSettings("qcd"), N_JETS, seed=2)
    for key in JET_SCHEMA.keys:
        np.testing.assert_array_equal(again[key], qcd_jets[key], err_msg=key)
    other = simulate_jets(JetSettings("qcd"), 3, seed=3)
    assert not np.array_equal(other["jet_pt"], qcd_jets["jet_pt"][:3])


def test_lagan_preprocessing_rings_but_keeps_the_jets(qcd_jets: dict) -> None:
    lagan = simulate_jets(JetSettings("qcd", preprocessing="lagan"), N_JETS, seed=2)
    np.testing.assert_array_equal(lagan["jet_mass"], qcd_jets["jet_mass"])
    assert (lagan["image"] < 0).any()
    np.testing.assert_allclose(
        lagan["image"].sum(axis=(1, 2)), qcd_jets["image"].sum(axis=(1, 2)), rtol=0.1
    )


def test_mass_window_is_applied() -> None:
    jets = simulate_jets(JetSettings("w", mass_window_gev=(60.0, 100.0)), 5, seed=4)
    assert ((jets["jet_mass"] > 60) & (jets["jet_mass"] < 100)).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"process": "z"}, "unknown process 'z': allowed are w, qcd"),
        ({"process": "w", "pt_window_gev": (300, 250)}, "pT window 300:250 GeV is not allowed"),
        ({"process": "qcd", "pthat_window_gev": (500, 100)}, "pT-hat window 500:100"),
        ({"process": "w", "pthat_window_gev": (100, 500)}, "applies to QCD only"),
        ({"process": "w", "preprocessing": "pca"}, "unknown preprocessing 'pca'"),
        ({"process": "w", "parton_veto_gev": 200.0}, "veto applies to QCD only"),
        ({"process": "qcd", "parton_veto_gev": 260.0}, "veto 260 GeV is not allowed"),
    ],
)
def test_settings_refuse_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JetSettings(**kwargs)


def test_production_file_reads_back_with_provenance(tmp_path: Path) -> None:
    job = JetJob(JetSettings("qcd"))
    out = produce(
        job, tmp_path / "qcd.h5", n_events=6, seed=9, chunk_size=3, workers=0, progress=False
    )
    data = read_dataset(out, JET_SCHEMA)
    assert len(data) == 6
    prov = data.provenance
    assert prov["schema"] == "jet_images" and prov["process"] == "qcd"
    assert "PhaseSpace:pTHatMin = 100" in prov["pythia_settings"]
    assert prov["jet_settings"]["parton_veto_gev"] == 200.0
    assert prov["pythia8mc_version"] == "8.317.2"
    assert prov["jet_settings"]["preprocessing"] == "exact"


class _InterruptedJetJob(JetJob):
    """The same production, interrupted (as by Ctrl-C) when its second chunk starts."""

    def run_chunk(self, n_events: int, seed: int) -> dict[str, np.ndarray]:
        if list(self.calls):
            raise KeyboardInterrupt
        self.calls.append(seed)
        return super().run_chunk(n_events, seed)

    @property
    def calls(self) -> list[int]:
        return self.__dict__.setdefault("_calls", [])


def test_interrupted_production_resumes(tmp_path: Path) -> None:
    settings = JetSettings("qcd")
    out = tmp_path / "qcd.h5"
    with pytest.raises(KeyboardInterrupt):
        produce(
            _InterruptedJetJob(settings), out, 6, seed=3, chunk_size=2, workers=0, progress=False
        )
    assert not out.exists() and len(list((tmp_path / "qcd.h5.parts").glob("chunk-*.h5"))) == 1
    produce(JetJob(settings), out, 6, seed=3, chunk_size=2, workers=0, progress=False)
    fresh = produce(
        JetJob(settings), tmp_path / "fresh.h5", 6, seed=3, chunk_size=2, workers=0, progress=False
    )
    got, want = read_dataset(out, JET_SCHEMA), read_dataset(fresh, JET_SCHEMA)
    for key in JET_SCHEMA.keys:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_parton_veto_drops_most_events_early() -> None:
    """Most QCD events are dropped by the veto (counted as generated), and what comes through
    is still selected by the full recipe. (Its loss is measured by benchmarks/jet_generation.py.)"""
    vetoed = JetGenerator(JetSettings("qcd", parton_veto_gev=200.0), seed=8)
    jets = vetoed.next_jets(100)
    assert vetoed.n_events > 100 + 5 * len(jets)  # most events are dropped early
    assert len(jets["jet_pt"]) > 5
    assert ((jets["jet_pt"] > 250) & (jets["jet_pt"] < 300)).all()
