"""The space in which fastshower's flows learn showers, and the way back to cells in MeV.

A shower is 504 cells (layer 0, 1, 2 flattened, in the dataset's order) whose energies span eight
orders of magnitude (1e-4 to 1e4 MeV), about half of them exactly 0. A flow needs a smooth,
unbounded, roughly standard space. Each shower becomes one vector of 3 (+ 3 + 3) + 504 numbers:

- **Layer energies**, ``log((E_layer + delta) / E_incident)``: what the classifier and physicists
  look at first (energy fractions, the total response) is then three explicit numbers, not a sum
  of hundreds of exponentials; on the way back each layer's generated cells are rescaled to sum
  to its generated energy. This is CaloFlow's factorisation (arXiv:2106.05285: layer energies,
  then the normalised shower), inside one model.
  With ``layer_energies="shares"`` they are CaloFlow's instead: the logit of the total's share of
  the incident energy, then of each layer's share of what the layers after it leave (layer 0's
  of the total, layer 1's of layers 1 and 2). Why: a shower cannot deposit more than it brought,
  and three free logs can: the layer-summary model gave 1 % of its e+ showers more than 1.02x
  the incident energy (Geant4: never more than the positron's annihilation, 1.022 MeV). In
  shares the total is at most the incident energy plus the largest excess in the training set
  (a buffer, like ``upper``), whatever the flow does.
- **Layer summaries** (optional, ``layer_hits`` and ``layer_peaks``): three more numbers each,
  per layer, after the layer energies: ``log(1 + hits + u)``, the number of cells of at least
  ``delta`` dequantised by ``u`` uniform in [0, 1); and ``log((E_layer - E_hottest + delta w) /
  (E_layer + delta))``, the energy outside the hottest cell (``w`` uniform, so that a layer of
  one cell is a band, not a point at minus infinity), which ``decode`` gives the layer exactly:
  its hottest cell gets the rest. Why: a pion's layer is either a MIP's few cells, one of
  which holds most of the energy, or a shower's many (25 % of Geant4's pions hit at most 4
  strips of layer 0, half hit 36 or more), and a coupling flow must split such modes out of
  Gaussian noise; here they are three numbers each that a small autoregressive flow learns
  first, and the cell flow is given them.
- **Cells**, ``log(cell / E_incident)`` for a cell of at least ``delta`` = 1 keV; an empty cell
  (or one below ``delta``: 0.3-0.8 % of the non-empty cells of the e+ reference) becomes
  ``log(delta / E_incident) - GAP - ZERO_BAND * u`` with ``u`` uniform in [0, 1):
  dequantisation, so the half of the cells that are empty form a band a continuous flow can learn
  instead of a point mass it cannot. On the way back, a value below
  ``log(delta / E_incident) - GAP / 2`` is an empty cell: the empty band's blurred edge falls into
  the gap and stays empty. Three choices here were measured, on e+ (first 15-60 epochs):

  - *relative to the incident energy*: in absolute ``log(cell)`` every cell carries the shower's
    scale (4.6 e-folds over 1-100 GeV), which standardisation then makes most of each cell's
    spread, so the network's small errors became large ones in energy: the two hottest cells of
    layer 1 came out unequal (E_ratio 0.18 against Geant4's 0.04) and widths 3x too large;
  - *a wide band*: a first version used ``log(cell + delta + u delta)``, a band 0.7 wide, and the
    model smeared that narrow spike across the threshold, so 74 % of layer 0's cells came out
    hit instead of 44 %; what leaks across the threshold is the band's blurred edge, a smaller
    share of a wider (4 e-folds) band;
  - *a gap* (2 e-folds) between the empty band and the smallest hit: without it, 32 % of the
    outermost strips of layer 0 came out hit (with 5 keV: the band's edge), against 9 %.

- **Standardised**: each coordinate minus the training set's mean, over its standard deviation.
  Both are buffers of this module, so a model file carries its own preprocessing, as is each
  coordinate's largest training value: on the way back, nothing goes above it. A generated cell
  beyond anything seen in training is the flow's blurred upper tail, and in energy (an
  exponential) that tail is what widened the generated showers.

The condition is a float tensor (N, 4): incident energy in GeV, the particle's PDG code, the
incidence point x and y in mm. The networks see ``log(E / 10 GeV)``, the particle one-hot among
the particles the model was trained on, and the position in cm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import torch
from torch import nn

from fastshower.detector import CALORIMETER
from fastshower.models.faint_cells import FaintCellMap
from fastshower.particles import canonical_name, pdg_code

__all__ = [
    "CONDITION_FIELDS",
    "GAP",
    "LAYER_ENERGY_SPACES",
    "N_CELLS",
    "ZERO_BAND",
    "CellCoding",
    "ShowerFlow",
    "ShowerSpace",
    "ShowerSpaceSettings",
    "standardise",
]

CONDITION_FIELDS = ("energy_gev", "pdg", "x_mm", "y_mm")
"""The columns of a shower model's condition tensor (N, 4)."""

_LAYER_SIZES = tuple(layer.n_cells for layer in CALORIMETER.layers)
N_CELLS = sum(_LAYER_SIZES)
_N_LAYERS = len(_LAYER_SIZES)
_MEV_PER_GEV = 1000.0
ZERO_BAND = 4.0
"""Default width, in e-folds, of the band that empty cells are spread over."""
LAYER_ENERGY_SPACES = ("log", "shares")
"""How flow I sees the layer energies: each one's log relative to the incident energy, or the
logits of the total's share of the incident energy and of each layer's share of what is left."""
GAP = 2.0
"""Default e-folds between the empty band's top and the smallest hit (delta); the threshold is
halfway."""


@dataclass(frozen=True)
class CellCoding:
    """The cell coordinates of the module docstring, for any cells of any scale: a cell of at
    least ``delta`` becomes ``log(cell / scale + floor)``; an empty one (or one below ``delta``)
    a point of the band ``zero_band`` e-folds wide, ``gap`` e-folds below the smallest hit.
    Shower cells (scale: the incident energy) and jet pixels (scale: the jet's pT) are coded
    alike."""

    delta: float
    floor: float
    gap: float = GAP
    zero_band: float = ZERO_BAND

    def smallest_hit(self, scale: torch.Tensor) -> torch.Tensor:
        """Where a cell of ``delta`` lands: the bottom of the hits, the top of the gap."""
        return torch.log(self.delta / scale + self.floor)

    def encode(self, cells: torch.Tensor, scale: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Cells (N, n), their scales (N, 1) in the same unit, ``u`` uniform in [0, 1) (N, n)."""
        hits = torch.log(cells / scale + self.floor)
        empty = self.smallest_hit(scale) - self.gap - self.zero_band * u
        return torch.where(cells >= self.delta, hits, empty)

    def decode(self, coordinates: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """``encode``'s inverse: cells >= 0, in the unit of ``scale``."""
        smallest = self.smallest_hit(scale)
        hits = (torch.exp(coordinates) - self.floor) * scale
        # in the gap's upper half: below delta, falling off smoothly (a clamp at delta piled the
        # blurred edges up at exactly 1 keV, which the cell classifier saw at once)
        in_gap = self.delta * torch.exp(torch.clamp(coordinates - smallest, max=0.0))
        # hits < in_gap below the gap's top and hits >= in_gap (= delta) above it, so the
        # larger of the two picks the branch; and the lower half of the gap is zeroed by a 0/1
        # factor. The same numbers as two torch.where, 5x faster: onnxruntime's Where took 39 %
        # of a one-step model's time (CHANGELOG.md, 0.1.0).
        kept = (coordinates >= smallest - self.gap / 2).to(coordinates.dtype)
        return torch.maximum(hits, in_gap) * kept


@dataclass(frozen=True)
class ShowerSpaceSettings:
    """How showers are mapped into the flows' space (the module docstring says why each is so).
    Model configs store these fields flat, beside the network's; ``of`` picks them out."""

    noise_mev: float = 1e-3
    """delta: the smallest hit, in MeV; smaller cells count as empty."""
    cell_floor: float = 1e-6
    """Added to a cell's share of the incident energy before its log."""
    gap: float = GAP
    zero_band: float = ZERO_BAND
    layer_hits: bool = False
    """Flow I also learns each layer's number of hit cells."""
    layer_peaks: bool = False
    """Flow I also learns each layer's energy outside its hottest cell."""
    layer_energies: str = "log"
    """One of ``LAYER_ENERGY_SPACES``."""
    faint_mev: float = 0.0
    """Generated cells below this are moved onto Geant4's spectrum of such cells by a map
    fitted after training (``fastshower.models.faint_cells``); 0: no map."""

    def __post_init__(self) -> None:
        if self.layer_energies not in LAYER_ENERGY_SPACES:
            raise ValueError(
                f"layer_energies must be one of {LAYER_ENERGY_SPACES}, got {self.layer_energies!r}"
            )
        if self.noise_mev <= 0 or self.gap <= 0 or self.zero_band <= 0:
            raise ValueError(f"need noise_mev, gap, zero_band > 0: {self}")
        if self.cell_floor < 0 or self.faint_mev < 0:
            raise ValueError(f"need cell_floor, faint_mev >= 0: {self}")

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> ShowerSpaceSettings:
        """The settings among a model config's keys (the others are the network's)."""
        return cls(**{f.name: config[f.name] for f in fields(cls) if f.name in config})


class ShowerSpace(nn.Module):
    """Invertible map between showers (cells in MeV, incident energy) and standard vectors."""

    # buffers, registered in __init__ (declared here: nn.Module types attributes it does not
    # know as Tensor | Module); excess_mev only with layer_energies="shares"
    pdg: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    upper: torch.Tensor
    excess_mev: torch.Tensor

    def __init__(
        self, particles: Sequence[str], settings: ShowerSpaceSettings | None = None
    ) -> None:
        super().__init__()
        if not particles:
            raise ValueError("a shower model needs at least one particle")
        self.settings = settings = settings or ShowerSpaceSettings()
        names = [canonical_name(p) for p in particles]
        self.particles = names
        self.cells = CellCoding(
            settings.noise_mev, settings.cell_floor, settings.gap, settings.zero_band
        )
        self.head = _N_LAYERS * (1 + settings.layer_hits + settings.layer_peaks)
        self.dim = self.head + N_CELLS
        self.context_size = 1 + len(names) + 2
        self.register_buffer("pdg", torch.tensor([float(pdg_code(p)) for p in names]))
        self.register_buffer("mean", torch.zeros(self.dim))
        self.register_buffer("std", torch.ones(self.dim))
        self.register_buffer("upper", torch.full((self.dim,), torch.inf))
        if settings.layer_energies == "shares":  # only then: older model files have no such buffer
            self.register_buffer("excess_mev", torch.zeros(()))
        self.faint = (
            FaintCellMap(len(names), _N_LAYERS, settings.faint_mev) if settings.faint_mev else None
        )

    @torch.no_grad()
    def fit(self, cells_mev: torch.Tensor, condition: torch.Tensor, seed: int = 0) -> ShowerSpace:
        """Set the standardisation from a training sample (one draw of the noise)."""
        rng = torch.Generator(device=cells_mev.device).manual_seed(seed)
        self.mean.zero_()
        self.std.fill_(1.0)
        if self.settings.layer_energies == "shares":
            excess = cells_mev.sum(1) - condition[:, 0] * _MEV_PER_GEV
            self.excess_mev.copy_(excess.max().clamp_min(0.0))
        standardise(self, self.encode(cells_mev, condition, rng))
        return self

    def encode(
        self, cells_mev: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        """Showers (N, 504) in MeV -> standardised vectors (N, ``dim``), with fresh noise."""
        delta = self.settings.noise_mev
        energy_mev = condition[:, :1] * _MEV_PER_GEV
        layers = torch.stack([c.sum(1) for c in cells_mev.split(_LAYER_SIZES, dim=1)], dim=1)
        u = torch.rand(cells_mev.shape, generator=rng, device=cells_mev.device)
        log_cells = self.cells.encode(cells_mev, energy_mev, u)
        head = [self._layer_coordinates(layers, energy_mev)]
        if self.settings.layer_hits:
            hits_per_layer = torch.stack(
                [(c >= delta).sum(1) for c in cells_mev.split(_LAYER_SIZES, dim=1)], dim=1
            )
            v = torch.rand(hits_per_layer.shape, generator=rng, device=cells_mev.device)
            head.append(torch.log1p(hits_per_layer + v))  # dequantised: a count is not a density
        if self.settings.layer_peaks:
            peaks = torch.stack([c.max(1).values for c in cells_mev.split(_LAYER_SIZES, dim=1)], 1)
            w = torch.rand(peaks.shape, generator=rng, device=cells_mev.device)
            head.append(torch.log((layers - peaks + delta * w) / (layers + delta)))
        x = torch.cat([*head, log_cells], dim=1)
        return (x - self.mean) / self.std

    def decode(self, x: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Standardised vectors -> cells in MeV per layer, (N, n_cells) each, >= 0."""
        x = torch.minimum(x, self.upper) * self.std + self.mean
        cells = self.cells.decode(x[:, self.head :], condition[:, :1] * _MEV_PER_GEV)
        return self._fit_layers(x[:, : self.head], cells, condition)

    def raw_head(self, head: torch.Tensor) -> torch.Tensor:
        """Standardised layer summaries (N, ``head``) -> unstandardised, each at most its
        largest training value."""
        upper, mean, std = (t[: self.head] for t in (self.upper, self.mean, self.std))
        return torch.minimum(head, upper) * std + mean

    def layer_energies(self, raw_head: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Each layer's energy (N, 3) in MeV from unstandardised summaries (``raw_head``)."""
        return self._layer_energies(raw_head[:, :_N_LAYERS], condition[:, :1] * _MEV_PER_GEV)

    def layer_rests(self, raw_head: torch.Tensor, layer_energies: torch.Tensor) -> torch.Tensor:
        """Each layer's energy outside its hottest cell (N, 3) in MeV, float64, from
        unstandardised summaries (``raw_head``, with ``layer_peaks``) and the layers' energies:
        between 0 and the layer's energy."""
        delta = self.settings.noise_mev
        energies = layer_energies.double()
        log_rests = raw_head[:, self.head - _N_LAYERS : self.head].double()
        rests = torch.exp(log_rests) * (energies + delta) - delta / 2
        return torch.minimum(rests.clamp(min=0.0), energies)

    def _fit_layers(
        self, head: torch.Tensor, cells: torch.Tensor, condition: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """Cells (N, 504) in MeV -> per layer (N, n_cells), rescaled to the (unstandardised)
        layer summaries ``head``'s energy, with its hottest cell set and its faint cells
        mapped."""
        layer_energy = self.layer_energies(head, condition)
        if self.settings.layer_peaks:
            rests = self.layer_rests(head, layer_energy)
        if self.faint is not None:
            particle = (condition[:, 1:2] == self.pdg).to(torch.int64).argmax(1)
        out = []
        for i, layer in enumerate(cells.split(_LAYER_SIZES, dim=1)):
            total = layer.sum(1, keepdim=True)
            energy = layer_energy[:, i : i + 1]
            scale = torch.where(total > 0, energy / total.clamp_min(1e-30), torch.zeros_like(total))
            layer = layer * scale
            if self.settings.layer_peaks:
                # in float64: the peak is energy - rest, which can cancel to a few digits
                rest = rests[:, i : i + 1]
                peak = energy.double() - rest
                layer = _set_peak(layer, peak.to(head.dtype), rest.to(head.dtype))
            if self.faint is not None:
                layer = self.faint(layer, i, particle)
            out.append(layer)
        return tuple(out)

    def _layer_coordinates(
        self, layers_mev: torch.Tensor, energy_mev: torch.Tensor
    ) -> torch.Tensor:
        """Layer energies (N, 3) -> flow I's first three coordinates (``layer_energies``)."""
        shifted = layers_mev + self.settings.noise_mev  # an empty layer is delta, not log(0)
        if self.settings.layer_energies == "log":
            return torch.log(shifted / energy_mev)
        # in float64, and each share's complement as a ratio of its own: 1 - share in float32
        # is 0 for an empty layer beside a 100 GeV one
        shifted = shifted.double()
        left = shifted.flip(1).cumsum(1).flip(1)  # each layer's energy and the ones after it
        largest = self._largest_total(energy_mev).double()
        wholes = torch.cat([largest, left[:, :-1]], dim=1)
        parts = torch.cat([left[:, :1].clamp(max=largest), shifted[:, :-1]], dim=1)
        rests = torch.cat([(largest - left[:, :1]).clamp_min(0.0), left[:, 1:]], dim=1)
        floor = _SHARE_FLOOR
        logits = torch.log(parts / wholes + floor) - torch.log(rests / wholes + floor)
        return logits.to(layers_mev.dtype)

    def _layer_energies(self, coordinates: torch.Tensor, energy_mev: torch.Tensor) -> torch.Tensor:
        """``_layer_coordinates``' inverse, unstandardised coordinates -> layer energies (N, 3)."""
        delta = self.settings.noise_mev
        if self.settings.layer_energies == "log":
            return (torch.exp(coordinates) * energy_mev - delta).clamp_min(0.0)
        # products of shares and their complements (from the logits), in float64: a
        # difference of float32 totals would lose an empty layer's 1 keV in a 100 GeV shower
        logits = coordinates.double()
        share = _expit(logits, _SHARE_FLOOR).clamp(0.0, 1.0)
        rest = _expit(-logits, _SHARE_FLOOR).clamp(0.0, 1.0)  # 1 - share, without cancelling
        left = share[:, :1] * self._largest_total(energy_mev).double()
        layers = []
        for i in range(1, _N_LAYERS):
            layers.append(share[:, i : i + 1] * left)
            left = rest[:, i : i + 1] * left
        layers_mev = torch.cat([*layers, left], dim=1) - delta
        return layers_mev.clamp_min(0.0).to(coordinates.dtype)

    def _largest_total(self, energy_mev: torch.Tensor) -> torch.Tensor:
        """The most the layers may hold, each shifted by delta: the incident energy plus the
        largest excess seen in training."""
        return energy_mev + self.excess_mev + _N_LAYERS * self.settings.noise_mev

    def context(self, condition: torch.Tensor) -> torch.Tensor:
        """Condition (N, 4) -> what the networks see (N, context_size)."""
        log_energy = torch.log(condition[:, :1] / 10.0)
        one_hot = (condition[:, 1:2] == self.pdg).to(condition.dtype)
        return torch.cat([log_energy, one_hot, condition[:, 2:4] / 10.0], dim=1)

    def extra_repr(self) -> str:
        return f"particles={self.particles}, {self.settings}, dim={self.dim}"


def standardise(space: nn.Module, raw: torch.Tensor) -> None:
    """Set a space's ``mean``, ``std`` and ``upper`` buffers from unstandardised training
    vectors (encoded with ``mean`` 0 and ``std`` 1)."""
    mean, std = raw.mean(0), raw.std(0).clamp_min(1e-3)
    for name, value in (
        ("mean", mean),
        ("std", std),
        ("upper", ((raw - mean) / std).max(0).values),
    ):
        getattr(space, name).copy_(value)


class ShowerFlow(Protocol):
    """What every generator that learns in ``ShowerSpace`` has (flow matching, CaloFlow), for
    code that holds one as a plain ``nn.Module``, whose typing cannot see its attributes."""

    space: ShowerSpace
    latent_size: int

    def sample_space(self, latent: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Noise (N, ``latent_size``) -> standardised shower vectors (N, ``space.dim``)."""
        ...


_SHARE_FLOOR = 1e-6
"""Keeps a share's logit finite at 0 and 1: 13.8 at most, a 1 keV edge of a 1 GeV shower."""


def _logit(share: torch.Tensor, floor: float) -> torch.Tensor:
    """``log(share + floor) - log(1 - share + floor)``: finite at 0 and 1, open at both edges."""
    return torch.log(share + floor) - torch.log(1.0 - share + floor)


def _expit(logit: torch.Tensor, floor: float) -> torch.Tensor:
    """``_logit``'s inverse."""
    odds = torch.exp(logit.clamp(max=30.0))
    return (odds * (1.0 + floor) - floor) / (1.0 + odds)


def _set_peak(cells: torch.Tensor, peak: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """Give each row's hottest cell ``peak`` and the others ``rest``, in their proportions. A
    row with one cell hit gets ``peak + rest`` there: the layer's energy stays the same."""
    top = cells.max(1, keepdim=True).values
    is_peak = ((cells >= top) & (top > 0)).to(cells.dtype)
    others = cells * (1.0 - is_peak)
    others_sum = others.sum(1, keepdim=True)
    has_others = (others_sum > 0).to(cells.dtype)
    n_peaks = is_peak.sum(1, keepdim=True).clamp_min(1.0)
    peak = (peak + rest * (1.0 - has_others)) / n_peaks
    return others * (rest * has_others / others_sum.clamp_min(1e-30)) + is_peak * peak
