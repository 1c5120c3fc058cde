"""A CaloFlow-style normalizing flow of calorimeter showers (zuko), one model for every particle.

CaloFlow (Krause & Shih, arXiv:2106.05285) learns a shower as two densities: flow I, the layer
energies given the incident energy; flow II, the normalised shower given those energies. Here:

- **Flow I**: the three layer coordinates of ``ShowerSpace`` (``log(E_layer / E)``) given the
  context (incident energy, particle, incidence point): a masked autoregressive neural spline
  flow (zuko's ``NSF``); three features, so its autoregressive inverse costs three small passes.
  With ``layer_hits`` / ``layer_peaks`` it also learns each layer's hit count and the energy
  outside its hottest cell (``ShowerSpace``): whether a pion's layer is a MIP or a shower is
  decided in this small flow, and flow II is given it. With ``layer_energies="shares"`` its
  first three coordinates are CaloFlow's (the total's share of the incident energy, each layer's
  of what is left), so no shower holds more energy than it brought.
- **Flow II**: the 504 cell coordinates (``log(cell / E)``, empty cells dequantised into a band)
  given the context *and* the three layer coordinates: rational-quadratic spline **coupling**
  layers (Durkan et al., arXiv:1906.04032; ``spline_coupling``, zuko's coupling sampled
  through a vectorised inverse). ``decode``
  rescales each layer's cells to flow I's energy, as CaloFlow normalises each layer; giving flow
  II the layer energies as context is what lets it shape the cells for the energy they will carry.

Why coupling and not CaloFlow's masked autoregressive flow II: a MAF's density is one pass, but
its inverse (sampling) is one pass per feature, 504 in a row: CaloFlow's teacher samples 500x
slower than it trains, which is why it needed a distilled inverse-autoregressive student. A
coupling layer transforms half of the cells given the other half, so its inverse is one pass as
well: sampling costs two network passes per layer pair, no student needed. The price is
expressiveness per layer, paid back with more layers; each pair of layers uses a random half of
the cells and then the other half, so every cell is transformed once per pair and sees a
different half of the shower each time (fixed by a seed, and stored as buffers: a model file
restores the same split). With ``coupling="grid"`` every other pair splits each layer like a
chessboard instead, and each coupling's network also reads the given cells on their layer's
grid (``grid_coupling``): a shower is contiguous, and a fully connected network did not learn
which cells are neighbours.

Both flows are trained by maximum likelihood (the loss is the negative log-density per
coordinate, in the standardised space), so the loss is a number with a meaning, comparable
between runs on the same data. The splines act on [-``bound``, ``bound``] and are the identity
outside, so ``bound`` is set above the standardised range of almost all coordinates: of the e+
reference's values, 0.14 % lie beyond 5 and 0.03 % beyond 8 (the rare hits of cells that are
almost always empty); of pi+, 0.003 % beyond 5 and none beyond 8.

``forward(latent, condition)`` samples: latent (N, 507) standard normal (3 for flow I, 504 for
flow II; flow I has 3 or 6 more with ``layer_hits`` and ``layer_peaks``), condition (N, 4)
(``CONDITION_FIELDS``); it returns the three layers in MeV.
``forward(x, condition, density=True)`` returns ``log p(x | condition)`` of standardised vectors:
the training view, routed through ``forward`` so DistributedDataParallel sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
import zuko
from torch import nn
from zuko.distributions import DiagNormal
from zuko.lazy import Flow, UnconditionalDistribution

from fastshower.detector import CALORIMETER
from fastshower.models.autoregressive import invert_flow
from fastshower.models.family import flow_family
from fastshower.models.grid_coupling import GridCouplingTransform, grid_masks
from fastshower.models.shower_space import N_CELLS, ShowerSpace, ShowerSpaceSettings
from fastshower.models.spline_coupling import SplineCouplingTransform
from fastshower.models.splines import SplineTransform

__all__ = ["COUPLINGS", "FAMILY", "CaloFlowGenerator", "TwoFlows", "coupling_masks"]

COUPLINGS = ("dense", "grid")
"""Flow II's coupling networks: fully connected (zuko's), or with a convolutional part on each
layer's grid beside it (``grid_coupling``)."""

_MASK_SEED = 20210610  # CaloFlow's arXiv date: any fixed number; the masks are buffers anyway


class TwoFlows(nn.Module):
    """CaloFlow's two densities over a space (``ShowerSpace``, or the jets' ``JetSpace``): flow
    I, a masked autoregressive spline flow of the space's ``head`` coordinates given the
    context; flow II, spline couplings (``coupling_class``, one per mask) of the remaining
    cells given the context and the head. A subclass builds the space and the masks; sampling
    and the density are the same for every space."""

    def __init__(
        self,
        space: Any,
        masks: Sequence[torch.Tensor],
        coupling_class: type[SplineCouplingTransform],
        hidden: int,
        hidden_layers: int,
        bins: int,
        bound: float,
        energy_transforms: int,
        energy_hidden: int,
    ) -> None:
        super().__init__()
        if min(len(masks), hidden, hidden_layers, energy_transforms, energy_hidden) < 1:
            raise ValueError("transforms, hidden sizes and layer counts must be positive")
        if bins < 2 or bound <= 0:
            raise ValueError(f"need bins >= 2 and bound > 0, got bins={bins}, bound={bound}")
        self.space = space
        head, context, cells = space.head, space.context_size, space.dim - space.head
        self.energy_flow = zuko.flows.MAF(
            head,
            context,
            transforms=energy_transforms,
            hidden_features=[energy_hidden] * 2,
            univariate=partial(SplineTransform, bound=bound),
            shapes=[(bins,), (bins,), (bins - 1,)],
        )
        couplings = [
            coupling_class(
                cells, context + head, mask, bins, bound, hidden_features=[hidden] * hidden_layers
            )
            for mask in masks
        ]
        normal = UnconditionalDistribution(
            DiagNormal, torch.zeros(cells), torch.ones(cells), buffer=True
        )
        self.cell_flow = Flow(couplings, normal)
        self.latent_size = space.dim

    def sample_space(self, latent: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Noise -> standardised vectors: flow I's inverse, then flow II's given it."""
        context = self.space.context(condition)
        head = self.space.head
        energies = invert_flow(self.energy_flow, latent[:, :head], context)
        cells = self.sample_cells(latent[:, head:], torch.cat([context, energies], dim=1))
        return torch.cat([energies, cells], dim=1)

    def sample_cells(self, latent: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Flow II's inverse: noise (N, cells) -> standardised cells, given the context and
        flow I's coordinates (``context``, concatenated)."""
        cells = latent
        for coupling in reversed(self.cell_flow.transform.transforms):
            cells = coupling.invert(cells, context)
        return cells

    def log_prob(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """log p(x | context) of standardised vectors (N, ``space.dim``): flow I's plus flow
        II's."""
        energies, cells = x[:, : self.space.head], x[:, self.space.head :]
        log_p = self.energy_flow(context).log_prob(energies)
        return log_p + self.cell_flow(torch.cat([context, energies], dim=1)).log_prob(cells)


class CaloFlowGenerator(TwoFlows):
    """Noise + condition -> showers (three layers, MeV), through two spline flows."""

    def __init__(
        self,
        particles: Sequence[str] = ("e+",),
        transforms: int = 8,
        hidden: int = 256,
        hidden_layers: int = 2,
        bins: int = 8,
        bound: float = 8.0,
        energy_transforms: int = 4,
        energy_hidden: int = 64,
        coupling: str = "dense",
        **space: Any,
    ) -> None:
        """``space``: the fields of ``ShowerSpaceSettings``, flat as model configs store them."""
        if coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {COUPLINGS}, got {coupling!r}")
        masks = coupling_masks(N_CELLS, transforms)
        coupling_class = SplineCouplingTransform
        if coupling == "grid":
            masks, coupling_class = grid_masks(masks), GridCouplingTransform
        super().__init__(
            ShowerSpace(particles, ShowerSpaceSettings(**space)),
            masks,
            coupling_class,
            hidden,
            hidden_layers,
            bins,
            bound,
            energy_transforms,
            energy_hidden,
        )
        self.layer_shapes = [layer.shape for layer in CALORIMETER.layers]

    def forward(self, x: torch.Tensor, condition: torch.Tensor, density: bool = False) -> Any:
        if density:
            return self.log_prob(x, self.space.context(condition))
        layers = self.space.decode(self.sample_space(x, condition), condition)
        return tuple(
            c.reshape(-1, *shape) for c, shape in zip(layers, self.layer_shapes, strict=True)
        )


def coupling_masks(features: int, transforms: int) -> list[torch.Tensor]:
    """Pairs of complementary random halves: every feature is transformed once per pair."""
    rng = torch.Generator().manual_seed(_MASK_SEED)
    masks = []
    for i in range(transforms):
        if i % 2 == 0:
            half = torch.randperm(features, generator=rng) < features // 2
            masks.append(half)
        else:
            masks.append(~masks[-1])
    return masks


FAMILY = flow_family("calo-flow", CaloFlowGenerator, strict=False, optimize=False)
"""The contract (``fastshower.models.family``). Its ONNX export is captured non-strict (zuko
builds its transforms as Python objects on each call, which TorchDynamo cannot capture) and not
optimised by onnxscript (2 of the export's 3.5 minutes for the unrolled flow I, for no speed in
onnxruntime: 0.848 against 0.895 ms per shower at batch 1024)."""
