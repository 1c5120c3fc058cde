"""The faintest cells of a generated shower, moved onto Geant4's spectrum of such cells.

Why: the classifier tests (docs/validation.md) tell the shipped flow's e+ and photon showers from
Geant4's mostly by their cells below 1 MeV, which hold almost none of the energy: each layer's
smallest hit alone separates them at AUC 0.95. Geant4 deposits down to fractions of an eV; the
flow codes cells below ``noise_mev`` (1 keV) as empty and blurs the edge of that band into a
pile of hits just below 1 keV. Coding the faint cells in full (``noise_mev`` 10 eV, pure log)
and training again moved the pile to 10 eV instead (the smallest hit's AUC rose to 0.99).

So after training, a monotone map per particle and layer, fitted on the model's own showers
against Geant4 *training* showers, moves each generated cell below ``threshold_mev`` to Geant4's
value at the same quantile of such cells: the quantile function of Geant4's faint cells composed
with the generated ones' distribution function, tabulated at knots uniform in log(cell), so that
applying it is arithmetic and two gathers (ONNX exports it). It changes no cell's order within
its layer; the layer is then rescaled to keep its energy (by a part in 10^4 in a layer of GeV,
where the cells above the threshold are all but unchanged).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["KNOTS", "LOWEST_MEV", "FaintCellMap"]

KNOTS = 256
"""Knots of each map, uniform in log(cell) between ``LOWEST_MEV`` and the threshold."""
LOWEST_MEV = 1e-7
"""The map's first knot; a generated cell below it goes where a cell at it would."""


class FaintCellMap(nn.Module):
    """Per particle and layer, log(cell) -> log(cell) for cells in (0, ``threshold_mev``);
    the identity until ``fit``."""

    table: torch.Tensor

    def __init__(self, n_particles: int, n_layers: int, threshold_mev: float) -> None:
        super().__init__()
        if threshold_mev <= LOWEST_MEV:
            raise ValueError(f"the faint-cell threshold must be above {LOWEST_MEV} MeV")
        self.threshold_mev = threshold_mev
        self.log_lowest = math.log(LOWEST_MEV)
        self.step = (math.log(threshold_mev) - self.log_lowest) / (KNOTS - 1)
        knots = torch.linspace(self.log_lowest, math.log(threshold_mev), KNOTS)
        self.register_buffer("table", knots.repeat(n_particles, n_layers, 1))

    def forward(self, cells: torch.Tensor, layer: int, particle: torch.Tensor) -> torch.Tensor:
        """One layer's cells (N, n) in MeV, each shower's particle index (N,) -> the cells with
        the faint ones moved and the layer's energy kept."""
        rows = self.table[:, layer].index_select(0, particle)  # (N, KNOTS)
        position = (torch.log(cells.clamp_min(LOWEST_MEV)) - self.log_lowest) / self.step
        position = position.clamp(0.0, KNOTS - 1.001)
        below = position.floor()
        frac = position - below
        index = below.long()
        log_moved = torch.gather(rows, 1, index) * (1.0 - frac)
        log_moved = log_moved + torch.gather(rows, 1, index + 1) * frac
        faint = ((cells > 0) & (cells < self.threshold_mev)).to(cells.dtype)
        moved = cells + faint * (torch.exp(log_moved) - cells)
        # rescaled to the layer's energy, which is flow I's and a physicist's first look: a
        # layer of GeV changes by a part in 10^4, one of only faint cells keeps their shape
        total, moved_total = cells.sum(1, keepdim=True), moved.sum(1, keepdim=True)
        return moved * (total / moved_total.clamp_min(1e-30))

    @torch.no_grad()
    def fit(
        self,
        generated: list[np.ndarray],
        geant4: list[np.ndarray],
        particle: int,
    ) -> None:
        """Fit one particle's maps: per layer, the generated cells (N, n) and Geant4's (M, n)
        in MeV. A layer with no faint cells in either keeps the identity."""
        knots = np.linspace(self.log_lowest, math.log(self.threshold_mev), KNOTS)
        for layer, (gen, ref) in enumerate(zip(generated, geant4, strict=True)):
            gen_logs = np.sort(np.log(_faint(gen, self.threshold_mev)))
            ref_logs = np.log(_faint(ref, self.threshold_mev))
            if len(gen_logs) == 0 or len(ref_logs) == 0:
                continue
            levels = np.searchsorted(gen_logs, knots, side="right") / len(gen_logs)
            table = np.quantile(ref_logs, np.clip(levels, 0.0, 1.0))
            self.table[particle, layer] = torch.as_tensor(table, dtype=self.table.dtype)

    def extra_repr(self) -> str:
        return f"threshold_mev={self.threshold_mev}, knots={KNOTS}"


def _faint(cells: np.ndarray, threshold_mev: float) -> np.ndarray:
    flat = np.asarray(cells, dtype=np.float64).reshape(-1)
    return flat[(flat > 0) & (flat < threshold_mev)]
