"""The first thing to run: real Geant4 e+ showers and their plots, within minutes.

``fastshower demo`` calls ``run_demo``: it simulates a small sample of positrons, uniform in
1-100 GeV (CaloGAN's range), with the same resumable production as ``fastshower simulate calo``,
reads the file back the way any user would, and writes the standard shower plots next to it.
At about 0.9 s per shower per core, the default 100 showers take one to two minutes on 2 cores.
"""

from __future__ import annotations

import math
from pathlib import Path

from fastshower.evaluate.plots import (
    plot_average_shower,
    plot_layer_energy_vs_incident,
    plot_shower_observables,
)
from fastshower.io import read_showers
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
    progress: bool = True,
) -> list[Path]:
    """Simulate ``n_events`` e+ showers into the folder ``out`` and plot them.

    Returns the written files: the HDF5 sample, then the plots (PNG). The sample's name holds
    the event count and seed, so rerunning the same demo reuses the finished file (or resumes
    an interrupted one) and a demo of another size does not clash with it. ``workers`` is the
    number of local processes (default: one per core; 0 runs in this process, without dask).
    Prints nothing but the production's progress bar (``progress=False`` hides it).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
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
