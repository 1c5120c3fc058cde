"""What a jet costs: CPU seconds per accepted jet, per class, before and after the efficiency work.

Three recipes, each run until it has accepted ``--jets`` jets (|eta| < 2, 250 < pT < 300 GeV):

- W' -> WZ (signal);
- QCD as LAGAN made it: pT-hat 100-500 GeV, every event fully generated ("before");
- QCD with the parton-level veto (the default, "after").

It prints the acceptance, the share of accepted jets in the 60-100 GeV mass window, and the
CPU time per accepted jet with and without that window. CPU time of this process only, so
other load on the machine does not count. A last line times the hot path itself: Pythia's
events read one particle at a time in Python (the original re-implementation) against
``Pythia.nextBatch`` (awkward arrays, here).

    python benchmarks/jet_generation.py                  # 100 jets per recipe, a few minutes
    python benchmarks/jet_generation.py --jets 300 --json jets.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from fastshower.simulate.jets import JetGenerator, JetSettings, pythia_info

RECIPES = {
    "W' -> WZ": JetSettings("w"),
    "QCD, LAGAN (pT-hat 100-500, no veto)": JetSettings("qcd", parton_veto_gev=0.0),
    "QCD, parton-level veto 200 GeV": JetSettings("qcd"),
}
MASS_WINDOW_GEV = (60.0, 100.0)


def measure(settings: JetSettings, n_jets: int, seed: int) -> dict[str, float]:
    generator = JetGenerator(settings, seed)
    masses = []
    start = time.process_time()
    while len(masses) < n_jets:
        masses.extend(generator.next_jets()["jet_mass"])
    cpu = time.process_time() - start
    masses = np.asarray(masses)
    in_window = float(((masses > MASS_WINDOW_GEV[0]) & (masses < MASS_WINDOW_GEV[1])).mean())
    per_jet = cpu / len(masses)
    return {
        "events": generator.n_events,
        "jets": len(masses),
        "acceptance": len(masses) / generator.n_events,
        "mass_window_fraction": in_window,
        "cpu_ms_per_event": 1000 * cpu / generator.n_events,
        "cpu_s_per_jet": per_jet,
        "cpu_s_per_mass_window_jet": per_jet / in_window if in_window else float("nan"),
    }


def hot_path(n_events: int, seed: int) -> dict[str, float]:
    """ms/event for LAGAN's QCD: particle-by-particle Python reads against one batch call."""
    settings = JetSettings("qcd", parton_veto_gev=0.0)
    pythia = JetGenerator(settings, seed)._pythia
    start = time.process_time()
    for _ in range(n_events):
        pythia.next()
        [(p.isFinal(), p.id(), p.px(), p.py(), p.pz(), p.e()) for p in pythia.event.particles()]
    loop = time.process_time() - start
    start = time.process_time()
    pythia.nextBatch(n_events)
    batch = time.process_time() - start
    return {
        "python_loop_ms_per_event": 1000 * loop / n_events,
        "next_batch_ms_per_event": 1000 * batch / n_events,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jets", type=int, default=100, help="accepted jets per recipe")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    results = {}
    print(
        f"{'recipe':40s} {'events':>8s} {'accept':>8s} {'m 60-100':>8s} {'ms/evt':>7s} "
        f"{'s/jet':>7s} {'s/jet 60-100':>12s}"
    )
    for name, settings in RECIPES.items():
        r = results[name] = measure(settings, args.jets, args.seed)
        print(
            f"{name:40s} {r['events']:8d} {r['acceptance']:8.4f} "
            f"{r['mass_window_fraction']:8.3f} {r['cpu_ms_per_event']:7.2f} "
            f"{r['cpu_s_per_jet']:7.3f} {r['cpu_s_per_mass_window_jet']:12.3f}",
            flush=True,
        )
    lagan = results["QCD, LAGAN (pT-hat 100-500, no veto)"]
    after = results["QCD, parton-level veto 200 GeV"]["cpu_s_per_jet"]
    path = hot_path(200, args.seed)
    print(
        f"hot path, LAGAN QCD: Python particle loop {path['python_loop_ms_per_event']:.2f} "
        f"ms/event, nextBatch {path['next_batch_ms_per_event']:.2f} ms/event"
    )
    # The original re-implementation read every particle in Python: its cost per event is
    # ours with nextBatch's share replaced by the loop's.
    loop_ms = (
        lagan["cpu_ms_per_event"]
        + path["python_loop_ms_per_event"]
        - path["next_batch_ms_per_event"]
    )
    before_loop = loop_ms / 1000 / lagan["acceptance"]
    path["lagan_with_python_loop_s_per_jet"] = before_loop
    print(
        f"QCD CPU per accepted jet: LAGAN recipe with the Python loop {before_loop:.3f} s, "
        f"without it {lagan['cpu_s_per_jet']:.3f} s, with the veto {after:.3f} s: "
        f"{before_loop / after:.1f}x and {lagan['cpu_s_per_jet'] / after:.1f}x cheaper"
    )
    if args.json:
        info = {"cpu": platform.processor() or platform.machine(), **pythia_info()}
        with open(args.json, "w") as f:
            json.dump({"machine": info, "recipes": results, "hot_path": path}, f, indent=2)


if __name__ == "__main__":
    main()
