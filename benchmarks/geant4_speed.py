"""Geant4's honest speed in the CaloGAN calorimeter: ms per shower on one core.

Scoring runs on the C++ side (volume scorers read once per event), so this is Geant4's own
speed plus one Python call per event for the gun and one for the read-out. Each figure is the
median over repeats of a batch, after a warm-up batch that pays the initialisation.

    python benchmarks/geant4_speed.py                 # e+, gamma, pi+ at 1, 10, 100 GeV and 1-100
    python benchmarks/geant4_speed.py --events 20 --particles e+ --json speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

# One core: Geant4 runs serially, and BLAS threads must not hide behind the figures.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from fastshower.simulate.calo import CaloSettings, geant4_info, simulate_showers

SPECTRA = {
    "1 GeV": (1.0, 1.0),
    "10 GeV": (10.0, 10.0),
    "100 GeV": (100.0, 100.0),
    "1-100 GeV": (1.0, 100.0),
}


def time_per_shower(settings: CaloSettings, n_events: int, repeats: int, seed: int) -> list[float]:
    """ms/shower for each repeat (CPU time of this process: other load does not count)."""
    times = []
    for r in range(repeats):
        start = time.process_time()
        simulate_showers(settings, n_events, seed + r)
        times.append((time.process_time() - start) / n_events * 1000.0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", nargs="+", default=["e+", "gamma", "pi+"])
    parser.add_argument("--events", type=int, default=20, help="showers per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    simulate_showers(CaloSettings("e+", (1.0, 1.0)), 2, seed=0)  # initialise Geant4 once
    info = geant4_info()
    print(f"# {info['geant4_version']}, {info['physics_list']}, data: {info['physics_data']}")
    print(f"# {platform.processor() or platform.machine()}, one core, CPU time per shower")
    print(f"{'particle':>8} {'energy':>10} {'ms/shower':>10} {'spread':>8}")
    rows = []
    for particle in args.particles:
        for label, energy in SPECTRA.items():
            settings = CaloSettings(particle, energy)
            times = time_per_shower(settings, args.events, args.repeats, seed=100)
            median = statistics.median(times)
            spread = (max(times) - min(times)) / 2
            print(f"{particle:>8} {label:>10} {median:10.1f} {spread:8.1f}", flush=True)
            rows.append(
                {
                    "particle": particle,
                    "energy": label,
                    "ms_per_shower": median,
                    "spread_ms": spread,
                    "events": args.events,
                    "repeats": args.repeats,
                }
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"geant4": info, "machine": platform.platform(), "results": rows}, f, indent=2
            )


if __name__ == "__main__":
    main()
