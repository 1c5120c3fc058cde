"""Shower and jet plots and the demo, on tiny real Geant4 and Pythia samples."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from fastshower.demo import demo_chunk_size, run_demo
from fastshower.evaluate.plots import (
    plot_average_shower,
    plot_layer_energy_vs_incident,
    plot_shower_observables,
)
from fastshower.evaluate.tagger import TAGGERS
from fastshower.io import JET_SCHEMA, read_dataset, read_showers

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_DEMO_JETS = 50  # per class: W and QCD pooled make the 100 a classifier test needs
PLOTS: list[Callable[..., Path]] = [
    plot_average_shower,
    plot_layer_energy_vs_incident,
    plot_shower_observables,
]


def is_png(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_SIGNATURE)


@pytest.fixture(scope="module")
def showers(positrons: tuple[dict, dict]) -> dict[str, np.ndarray]:
    return {key: value[:6] for key, value in positrons[0].items()}


@pytest.mark.parametrize("plot", PLOTS, ids=lambda f: f.__name__)
def test_plot_writes_png(plot: Callable[..., Path], showers, tmp_path: Path) -> None:
    """A PNG at the given path; no pyplot figure left open (no memory growth across calls) and
    the caller's matplotlib settings untouched (the mplhep style is applied in a context)."""
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    path = plot(showers, tmp_path / "plot.png")
    assert path == tmp_path / "plot.png"
    assert is_png(path)
    assert plt.get_fignums() == []
    assert dict(matplotlib.rcParams) == before


def test_plots_accept_fixed_energy_and_empty_showers(showers, tmp_path: Path) -> None:
    """One incident energy (a single profile bin) and showers with no energy at all."""
    arrays = {key: value.copy() for key, value in showers.items()}
    arrays["energy"][:] = 3.0
    for key in ("layer_0", "layer_1", "layer_2", "overflow"):
        arrays[key][:2] = 0.0
    for i, plot in enumerate(PLOTS):
        assert is_png(plot(arrays, tmp_path / f"{i}.png"))


def test_plot_refuses_wrong_layer_shape(showers, tmp_path: Path) -> None:
    arrays = {**showers, "layer_0": showers["layer_0"].reshape(6, 96, 3)}
    with pytest.raises(
        ValueError, match=r"layer_0 has shape \(6, 96, 3\); expected \(N >= 1, 3, 96\)"
    ):
        plot_average_shower(arrays, tmp_path / "plot.png")


def test_demo_chunks() -> None:
    assert demo_chunk_size(1) == 1
    assert demo_chunk_size(100) == 5
    assert demo_chunk_size(10**6) == 500


def test_run_demo(tmp_path: Path) -> None:
    """4 showers (too few for a report) and 50 + 50 jets (just enough for the jet report)."""
    paths = run_demo(tmp_path, n_events=4, workers=0, n_jets=N_DEMO_JETS, progress=False)
    assert all(p.is_file() and p.parent in (tmp_path, tmp_path / "report-jets") for p in paths)
    h5 = [p for p in paths if p.suffix == ".h5"]
    pngs = [p for p in paths if p.suffix == ".png"]
    assert len(h5) == 5 and len(pngs) == 7
    assert all(is_png(p) for p in pngs)
    pythia = [f"jets-{c}-demo-{N_DEMO_JETS}-seed1.h5" for c in ("w", "qcd")]
    assert [p.name for p in h5[2:4]] == pythia
    assert {len(read_dataset(p, JET_SCHEMA)) for p in h5[2:4]} == {N_DEMO_JETS}
    data = read_showers(h5[0])
    assert len(data) == 4 and data.provenance["particle_name"] == "e+"
    assert np.all((data["energy"] >= 1.0) & (data["energy"] <= 100.0))
    # the shipped generator's showers (a report needs 100 events: the default demo's size)
    generated = read_showers(h5[1])
    assert h5[1].name == "eplus-calo-flow-4ev-seed1.h5" and len(generated) == 4
    assert (generated["particle"] == -11).all() and generated["layer_1"].sum() > 0
    assert not (tmp_path / "report").exists()
    # the shipped jet generator: as many jets as Pythia made, both classes, and their report
    jets = read_dataset(h5[4], JET_SCHEMA)
    assert h5[4].name == f"jets-jet-rnn-{2 * N_DEMO_JETS}-seed1.h5"
    assert len(jets) == 2 * N_DEMO_JETS
    assert set(np.unique(jets["signal"])) == {0.0, 1.0} and (jets["image"] >= 0).all()
    assert paths[-1] == tmp_path / "report-jets" / "report.html"
    metrics = json.loads((tmp_path / "report-jets" / "metrics.json").read_text())
    assert metrics["schema"] == "jet_images"
    assert metrics["reference"]["path"] == " + ".join(str(tmp_path / name) for name in pythia)
    (candidate,) = metrics["candidates"]
    assert 0.0 <= candidate["classifier"]["pixels"]["auc"] <= 1.0
    assert set(candidate["distances"]) == {"W jets", "QCD jets"}
    # Pythia's W jets peak at the W mass, its QCD jets do not
    peak = {group: found["mass_peak_share"] for group, found in candidate["distances"].items()}
    assert peak["W jets"]["window_gev"] == [75.0, 82.0]
    assert peak["W jets"]["reference"]["value"] > peak["QCD jets"]["reference"]["value"] + 0.1
    # the taggers: both kinds, trained on each side, on the same numbers of jets: at most half
    # of Pythia's per class (the generator draws each jet's class at random)
    taggers = {(t["features"], t["trained_on"]): t for t in candidate["taggers"]}
    assert set(taggers) == {(f, s) for f in TAGGERS for s in ("reference", "candidate")}
    (n_test,) = {t["n_test_per_class"] for t in taggers.values()}
    assert 0 < n_test <= N_DEMO_JETS // 2
    # a rerun reuses the finished sample instead of simulating again
    mtime = h5[0].stat().st_mtime_ns
    assert run_demo(tmp_path, n_events=4, workers=0, n_jets=N_DEMO_JETS, progress=False) == paths
    assert h5[0].stat().st_mtime_ns == mtime


def test_jet_plots_write_png(tmp_path: Path) -> None:
    from fastshower.evaluate.jet_plots import plot_average_jet_images, plot_jet_observables

    rng = np.random.default_rng(0)
    images = rng.exponential(1.0, (10, 25, 25)) * (rng.uniform(size=(10, 25, 25)) < 0.1)
    sample = {"image": images, "jet_mass": rng.uniform(0, 150, 10), "tau_21": rng.uniform(size=10)}
    samples = {"a": sample, "b": {k: v[:5] for k, v in sample.items()}}
    assert is_png(plot_average_jet_images(samples, tmp_path / "images.png"))
    assert is_png(plot_jet_observables(samples, tmp_path / "observables.png"))
    with pytest.raises(ValueError, match="no images"):
        plot_average_jet_images({"empty": {"image": np.zeros((0, 25, 25))}}, tmp_path / "x.png")
