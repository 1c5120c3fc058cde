"""The first thing to run: real Geant4 e+ showers, real Pythia jets and their plots, in minutes.

``fastshower demo`` calls ``run_demo``: it simulates a small sample of positrons, uniform in
1-100 GeV (CaloGAN's range), with the same resumable production as ``fastshower simulate calo``,
reads the file back the way any user would, and writes the standard shower plots next to it.
At about 0.9 s per shower per core, the default 100 showers take one to two minutes on 2 cores;
200 W and 200 QCD jets (Pythia 8 + FastJet, ``fastshower.simulate.jets``) take about a minute more.
"""

from __future__ import annotations

import math
from pathlib import Path

from fastshower.evaluate.plots import (
    plot_average_shower,
    plot_layer_energy_vs_incident,
    plot_shower_observables,
)
from fastshower.io import JET_SCHEMA, read_dataset, read_showers
from fastshower.simulate.calo import CaloJob, CaloSettings
from fastshower.simulate.production import DEFAULT_CHUNK_SIZE, produce

__all__ = ["DEMO_SETTINGS", "demo_chunk_size", "run_demo"]

DEMO_SETTINGS = CaloSettings("e+", (1.0, 100.0))
"""What the demo simulates: e+ at normal incidence in the centre, uniform in 1-100 GeV."""
_PROGRESS_STEPS = 20


def demo_chunk_size(n_events: int) -> int:
    """About 20 chunks: the progress bar moves every few seconds and an interrupted demo loses
    only the chunks in flight when rerun; never more than a production's usual chunk."""
    return min(DEFAULT_CHUNK_SIZE, max(1, math.ceil(n_events / _PROGRESS_STEPS)))


def run_demo(
    out: Path,
    n_events: int = 100,
    workers: int | None = None,
    seed: int = 1,
    *,
    n_jets: int = 200,
    progress: bool = True,
) -> list[Path]:
    """Simulate ``n_events`` e+ showers and ``n_jets`` W and QCD jets into the folder ``out``,
    and plot them.

    Returns the written files: each HDF5 sample, then its plots (PNG). A sample's name holds
    its size and seed, so rerunning the same demo reuses the finished files (or resumes
    interrupted ones) and a demo of another size does not clash with them. ``workers`` is the
    number of local processes (default: one per core; 0 runs in this process, without dask).
    Prints nothing but the productions' progress bars (``progress=False`` hides them).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [
        *_shower_demo(out, n_events, workers, seed, progress),
        *_jet_demo(out, n_jets, workers, seed, progress),
    ]


def _shower_demo(
    out: Path, n_events: int, workers: int | None, seed: int, progress: bool
) -> list[Path]:
    sample = produce(
        CaloJob(DEMO_SETTINGS),
        out / f"eplus-demo-{n_events}ev-seed{seed}.h5",
        n_events=n_events,
        seed=seed,
        chunk_size=demo_chunk_size(n_events),
        workers=workers,
        progress=progress,
    )
    arrays = read_showers(sample).arrays
    lo, hi = DEMO_SETTINGS.energy_gev
    label = f"Geant4 e+, {lo:g}-{hi:g} GeV"
    return [
        sample,
        plot_average_shower(arrays, out / "eplus-average-shower.png", label=label),
        plot_layer_energy_vs_incident(arrays, out / "eplus-energy-response.png", label=label),
        plot_shower_observables(arrays, out / "eplus-shower-observables.png", label=label),
    ]


def _jet_demo(out: Path, n_jets: int, workers: int | None, seed: int, progress: bool) -> list[Path]:
    """W' -> WZ and QCD jets in LAGAN's window, their average images, mass and tau_21."""
    from fastshower.evaluate.jet_plots import plot_average_jet_images, plot_jet_observables
    from fastshower.simulate.jets import JetJob, JetSettings

    files, samples = [], {}
    for process, label in (("w", "W jets"), ("qcd", "QCD jets")):
        sample = produce(
            JetJob(JetSettings(process)),
            out / f"jets-{process}-demo-{n_jets}-seed{seed}.h5",
            n_events=n_jets,
            seed=seed,
            chunk_size=demo_chunk_size(n_jets),
            workers=workers,
            progress=progress,
        )
        files.append(sample)
        samples[f"Pythia 8 {label}"] = read_dataset(sample, JET_SCHEMA).arrays
    return [
        *files,
        plot_average_jet_images(samples, out / "jets-average-images.png"),
        plot_jet_observables(samples, out / "jets-mass-tau21.png"),
    ]
