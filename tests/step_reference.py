"""Score Geant4 events twice: with fastshower's C++ scorers and with a Python per-step reference.

Run as a script (``python tests/step_reference.py OUT.npz``) by ``test_calo.py``: it adds a
``G4UserSteppingAction`` to the process-wide Geant4 runner, which would slow down (and could
disturb) every later Geant4 test if it ran inside the pytest process.

The reference bins each step's total energy deposit at the step midpoint with the cell edges and
``layer_of_z`` of ``fastshower.detector``: inside the +-240 mm read-out square it goes to a cell,
elsewhere in a slab (|x|, |y| <= 500 mm) to that layer's overflow, and outside the calorimeter
(the vacuum world) nowhere. ``OUT.npz`` holds, per case, the arrays ``simulate_showers`` returned
and the reference's, under ``cpp_<key>_<case>`` and ``ref_<key>_<case>``.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from fastshower.detector import CALORIMETER
from fastshower.simulate import calo
from fastshower.simulate.calo import CaloSettings, simulate_showers

# (particle, energy GeV, incidence point mm, events, seed): off-axis points, never on a cell edge
# (a primary travelling exactly along an edge would be binned by a tie-break, not by physics);
# the e- near the corner leaks into the overflow, the pion showers deep into layer 2.
CASES = [
    ("e+", 1.0, (13.7, -21.3), 2, 11),
    ("e-", 2.0, (225.3, 231.1), 1, 12),
    ("pi+", 5.0, (-50.3, 70.1), 2, 13),
]


def reference_bins(steps: np.ndarray) -> dict[str, np.ndarray]:
    """Cells and overflow of one event from its steps (rows: x, y, z midpoint in mm, edep MeV)."""
    out = {layer.key: np.zeros(layer.shape) for layer in CALORIMETER.layers}
    overflow = np.zeros(len(CALORIMETER.layers))
    half_slab = CALORIMETER.transverse_size_mm / 2
    half_depth = CALORIMETER.depth_mm / 2
    for x, y, z, edep in steps:
        if abs(z) > half_depth or abs(x) > half_slab or abs(y) > half_slab:
            continue  # the vacuum world: not part of the calorimeter
        layer = CALORIMETER.layer_of_z(z)
        spec = CALORIMETER.layers[layer]
        w = spec.half_width_mm
        if abs(x) < w and abs(y) < w:
            ix = int(np.searchsorted(spec.x_edges_mm, x, side="right")) - 1
            iy = int(np.searchsorted(spec.y_edges_mm, y, side="right")) - 1
            out[spec.key][ix, iy] += edep
        else:
            overflow[layer] += edep
    out["overflow"] = overflow
    return out


def main(path: str) -> None:
    runner = calo._runner()
    g4 = runner.g4
    mm, mev = g4.mm, g4.MeV
    steps: list[tuple[float, float, float, float]] = []
    events: list[dict[str, np.ndarray]] = []

    class Midpoints(g4.G4UserSteppingAction):
        def UserSteppingAction(self, step: Any) -> None:  # Geant4 API name
            edep = step.GetTotalEnergyDeposit()
            if edep > 0:
                a = step.GetPreStepPoint().GetPosition()
                b = step.GetPostStepPoint().GetPosition()
                steps.append(
                    (
                        0.5 * (a.getX() + b.getX()) / mm,
                        0.5 * (a.getY() + b.getY()) / mm,
                        0.5 * (a.getZ() + b.getZ()) / mm,
                        edep / mev,
                    )
                )

    record = runner.record

    def record_and_bin(event: Any) -> None:  # the runner's end-of-event hook, wrapped
        record(event)
        events.append(reference_bins(np.asarray(steps).reshape(-1, 4)))
        steps.clear()

    runner.record = record_and_bin
    action = Midpoints()  # referenced until the end: Geant4 does not own Python objects
    runner.run_manager.SetUserAction(action)

    saved: dict[str, np.ndarray] = {}
    for case, (particle, energy, point, n, seed) in enumerate(CASES):
        events.clear()
        settings = CaloSettings(particle, (energy, energy), position_mm=point)
        arrays = simulate_showers(settings, n, seed)
        for key in (*(layer.key for layer in CALORIMETER.layers), "overflow"):
            saved[f"cpp_{key}_{case}"] = arrays[key]
            saved[f"ref_{key}_{case}"] = np.stack([e[key] for e in events])
    np.savez(path, **saved)


if __name__ == "__main__":
    main(sys.argv[1])
