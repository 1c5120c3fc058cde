"""The first thing to run: real Geant4 e+ showers, real Pythia jets, a trained generator's
showers and the report that compares them, in minutes.

``fastshower demo`` calls ``run_demo``: it simulates a small sample of positrons, uniform in
1-100 GeV (CaloGAN's range), with the same resumable production as ``fastshower simulate calo``,
reads the file back the way any user would, and writes the standard shower plots next to it.
At about 0.9 s per shower per core, the default 100 showers take one to two minutes on 2 cores;
200 W and 200 QCD jets (Pythia 8 + FastJet, ``fastshower.simulate.jets``) take about a minute more.
Then the shipped generators (``fastshower.pretrained``) make as many showers as Geant4 did, at
the same energies' range, and as many jets as Pythia did, half W and half QCD on average, in
seconds, and ``evaluate`` writes their reports against the simulated samples
(``report/report.html`` for the showers, ``report-jets/report.html`` for the jets):
demo-sized comparisons, not measurements (``docs/validation.md`` has those).
"""

from __future__ import annotations

import math
from pathlib import Path

from fastshower.evaluate.plots import (
    plot_average_shower,
    plot_layer_energy_vs_incident,
    plot_shower_observables,
)
from fastshower.io import JET_SCHEMA, dataset_info, read_dataset, read_showers
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
    generate as many of each with the shipped models, plot them, and report generated against
    simulated (each report needs at least 100 events: ``evaluate.classifier.MIN_EVENTS``).

    Returns the written files: showers, then jets, each kind's HDF5 samples before their plots
    (PNG) and report (``report/``, ``report-jets/``). A sample's name holds
    its size and seed, so rerunning the same demo reuses the finished files (or resumes
    interrupted ones) and a demo of another size does not clash with them. ``workers`` is the
    number of local processes (default: one per core; 0 runs in this process, without dask).
    Prints nothing but the productions' progress bars (``progress=False`` hides them).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    showers = _shower_demo(out, n_events, workers, seed, progress)
    jets = _jet_demo(out, n_jets, workers, seed, progress)
    return [
        *showers,
        *_generator_demo(out, showers[0], n_events, seed),
        *jets,
        *_jet_generator_demo(out, jets[:2], seed),
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


def _generator_demo(out: Path, geant4_sample: Path, n_events: int, seed: int) -> list[Path]:
    """The shipped generator's showers and the report comparing them with Geant4's."""
    from fastshower.evaluate.classifier import MIN_EVENTS
    from fastshower.evaluate.report import evaluate
    from fastshower.generate import GenerateJob
    from fastshower.pretrained import DEFAULT_SHOWER_MODEL, resolve_model

    lo, hi = DEMO_SETTINGS.energy_gev
    job = GenerateJob(
        str(resolve_model(DEFAULT_SHOWER_MODEL)),
        {"particle": DEMO_SETTINGS.particle, "energy_gev": [lo, hi]},
    )
    generated = produce(
        job,
        out / f"eplus-{DEFAULT_SHOWER_MODEL}-{n_events}ev-seed{seed}.h5",
        n_events=n_events,
        seed=seed,
        workers=0,
        progress=False,
    )
    arrays = read_showers(generated).arrays
    label = f"{DEFAULT_SHOWER_MODEL}, {lo:g}-{hi:g} GeV"
    files = [
        generated,
        plot_average_shower(arrays, out / "eplus-generated-average-shower.png", label=label),
    ]
    if n_events >= MIN_EVENTS:
        files.append(evaluate(geant4_sample, [generated], out / "report", seed=seed))
    return files


def _jet_generator_demo(out: Path, pythia_samples: list[Path], seed: int) -> list[Path]:
    """The shipped jet generator's W and QCD images, as many as Pythia's, and the report
    comparing them with Pythia's (both files pooled: the mix the generator makes)."""
    from fastshower.evaluate.classifier import MIN_EVENTS
    from fastshower.evaluate.jet_plots import plot_average_jet_images
    from fastshower.evaluate.report import evaluate
    from fastshower.generate import GenerateJob
    from fastshower.pretrained import DEFAULT_JET_MODEL, resolve_model

    n_jets = sum(dataset_info(p).n_events for p in pythia_samples)
    job = GenerateJob(str(resolve_model(DEFAULT_JET_MODEL)), {"class": "both"})
    generated = produce(
        job,
        out / f"jets-{DEFAULT_JET_MODEL}-{n_jets}-seed{seed}.h5",
        n_events=n_jets,
        seed=seed,
        workers=0,
        progress=False,
    )
    arrays = read_dataset(generated, JET_SCHEMA).arrays
    samples = {
        f"{DEFAULT_JET_MODEL} {label}": {"image": arrays["image"][arrays["signal"] == c]}
        for label, c in (("W jets", 1), ("QCD jets", 0))
    }
    files = [generated, plot_average_jet_images(samples, out / "jets-generated-average-images.png")]
    if n_jets >= MIN_EVENTS:
        files.append(evaluate(pythia_samples, [generated], out / "report-jets", seed=seed))
    return files


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
