"""An autoregressive recurrent network of calorimeter showers: each layer's hit cells one after
the other, hottest first, after a flow of the layer summaries.

The jet RNN (``jet_rnn``) showed what writing an event as its list of hits buys over a flow of
every cell: which cells are hit, and where, is a choice among cells learnt as it is, not the
blurred edge of a continuous map; its jets came far closer to Pythia than the jet flow's. A
shower is such a list too: a pion hits about 200 of the 504 cells (25 % of them hit at most 4
strips of layer 0: a MIP), and the trees of the classifier test tell the shower flow's pions from
Geant4's by which cells are hit and by the energies of single cells.

First flow I (``calo_flow``'s: a masked autoregressive spline flow) draws the layer summaries
given the condition: each layer's energy (CaloFlow's shares), its number of hit cells and the
energy outside its hottest cell (``ShowerSpace``). Then a GRU writes layer 0's hits, then layer
1's, then layer 2's, **exactly as many as flow I drew** (the hit count is the sparsity the
classifier sees first, and a small flow learns it better than a stop decision taken step by
step), each the hottest of the layer's hits still to come. Each step reads the previous hit,
the condition and summaries, how far the layer has got (its share of the count written, the
energy left) and where the previous hit lies against its layer's hottest, and predicts:

- the next cell: its group of 24 (a quarter of a layer-0 row of strips, two rows of layer 1,
  four of layer 2; groups of other layers and full groups excluded), then the cell within the
  group, cells already hit excluded; each candidate group and cell weighed also by its place
  (row and column offsets) against the layer's hottest hit, once that is written;
- its energy, given the cell and its place against the hottest, as its share ``f`` of the
  layer's energy not yet written (stick-breaking): one of ``bins`` bins of ``log f`` between
  ``log(1/504)`` and 0, as a coarse bin of 16 and the bin within it, ``f`` uniform in log
  within its bin. ``f`` is at least ``1 / (hits left)`` (the hottest of the rest holds at least
  their mean) and at most what keeps the hit below the previous one. The hottest hit is flow
  I's (the layer's energy minus the energy outside its hottest cell) and the last takes what is
  left: neither is drawn.

Why places against the hottest: a pion's core moves from shower to shower (the hottest cell of
layer 1 is not always the centre's), and a cell's energy follows its distance from the core; a
cell's own vector says where it is in the calorimeter, not where it is in its shower.

Why shares of what is left: written as energies of their own (bins of ``log(cell / E)``), the
hits of a pion's layer summed to 0.2-3.8x flow I's energy (5-95 %, after 3 epochs), and rescaling
the layer to it moved every cell by that factor. Shares of the rest sum to the layer's energy
by construction, and each is learnt at the scale of what is left, so the faintest cells at the
end of a layer are written as precisely as the hottest. Every hit Geant4 leaves down to
``noise_mev`` (1 eV) is a hit here (``fastshower calibrate`` still fits a faint-cell map, as
``calo_flow``'s: the faintest hits come out too hot).

``forward(latent, condition)`` samples: latent (N, 9 + 3 * ``max_hits``) standard normal (flow
I's, then three numbers per step, turned into uniforms: the cell's, the bin's and the place in
the bin), condition (N, 4) (``CONDITION_FIELDS``); it returns the three layers in MeV.
``forward(encoded, condition, density=True)`` returns each shower's log-likelihood in nats, of
what ``ShowerTokens.encode`` makes: the training view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple, cast

import torch
import zuko
from torch import nn
from torch.nn import functional as F

from fastshower.detector import CALORIMETER
from fastshower.models.autoregressive import invert_flow
from fastshower.models.faint_cells import FaintCellMap
from fastshower.models.family import flow_family
from fastshower.models.hit_lists import draw, draw_split, gru_step, mlp
from fastshower.models.layers import tracing
from fastshower.models.shower_space import N_CELLS, ShowerSpace, ShowerSpaceSettings
from fastshower.models.splines import SplineTransform

__all__ = ["FAMILY", "ShowerRNNGenerator", "ShowerTokens", "Tokens"]

_GROUP = 24
"""Cells per group: every layer's cells (288, 144, 72) split into whole groups."""
_N_GROUPS = N_CELLS // _GROUP
_LAYER_SIZES = tuple(layer.n_cells for layer in CALORIMETER.layers)
_N_LAYERS = len(_LAYER_SIZES)
_FINE = 16
"""Fine bins per coarse bin."""
_NONE = N_CELLS
"""The cell index of no hit: the input of the first step, and the padding after the last."""
_MEV_PER_GEV = 1000.0
_LOG_SMALLEST_SHARE = -math.log(N_CELLS)
"""The lower end of the bins of log f: the hottest of 504 hits holds at least 1/504 of them."""
_KEY = 16
"""The size of the keys by which a candidate cell's place against its layer's hottest weighs
on its choice."""


class Tokens(NamedTuple):
    """A batch of showers as the network learns them (``ShowerTokens.encode``), (N, L) each
    but ``counts`` and ``summary``; L the most hits in the batch."""

    cells: torch.Tensor
    """int64: each hit's cell, layer by layer, hottest first; ``_NONE`` after the last."""
    bins: torch.Tensor
    """int64: each drawn hit's bin of log f (its share of what its layer had left); 0 where
    nothing is drawn (a layer's hottest and last hits, padding)."""
    low: torch.Tensor
    """int64: the lowest bin allowed for each hit (f at least 1 / hits left)."""
    high: torch.Tensor
    """int64: the highest bin allowed (the hit at most the previous one)."""
    left: torch.Tensor
    """float: log of the layer's energy left before each hit, as a share of the incident one."""
    room: torch.Tensor
    """float: log of the previous hit's energy over what is left (at most 0; 0 for a layer's
    hottest): the most a hit may take."""
    counts: torch.Tensor
    """(N, 3) int64: hits per layer."""
    summary: torch.Tensor
    """(N, 9): the standardised layer summaries (fresh noise)."""


class ShowerTokens(nn.Module):
    """Showers <-> what the network learns: the layer summaries of a ``ShowerSpace`` (which it
    standardises) and each shower's hit list."""

    def __init__(
        self, particles: Sequence[str], bins: int, noise_mev: float, faint_mev: float = 0.0
    ) -> None:
        super().__init__()
        # the summaries the hits are written towards: energies, hit counts, hottest cells; and
        # the faint-cell map, fitted after training (``fastshower calibrate``)
        settings = ShowerSpaceSettings(
            noise_mev=noise_mev,
            layer_hits=True,
            layer_peaks=True,
            layer_energies="shares",
            faint_mev=faint_mev,
        )
        self.summaries = ShowerSpace(particles, settings)
        self.head = self.summaries.head
        self.context_size = self.summaries.context_size
        self.noise_mev = noise_mev
        self.bins = bins
        self.bin_width = -_LOG_SMALLEST_SHARE / bins
        layer = torch.repeat_interleave(torch.arange(_N_LAYERS), torch.tensor(_LAYER_SIZES))
        self.register_buffer("cell_layer", layer, persistent=False)
        self.register_buffer("group_layer", layer[::_GROUP].clone(), persistent=False)
        self.cell_layer: torch.Tensor
        self.group_layer: torch.Tensor

    @property
    def pdg(self) -> torch.Tensor:
        """The PDG codes of the particles learnt, in the order of the one-hot condition."""
        return self.summaries.pdg

    @property
    def particles(self) -> list[str]:
        return self.summaries.particles

    @property
    def faint(self) -> FaintCellMap | None:
        """The summaries' faint-cell map (``fastshower calibrate`` fits it; None: no map)."""
        return self.summaries.faint

    @faint.setter
    def faint(self, value: FaintCellMap | None) -> None:
        self.summaries.faint = value

    @torch.no_grad()
    def fit(self, cells_mev: torch.Tensor, condition: torch.Tensor, seed: int = 0) -> ShowerTokens:
        """Set the summaries' standardisation from a training sample."""
        self.summaries.fit(cells_mev, condition, seed)
        return self

    def encode(
        self, cells_mev: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> Tokens:
        """Showers (N, 504) in MeV -> ``Tokens``."""
        summary = self.summaries.encode(cells_mev, condition, rng)[:, : self.head]
        hit = cells_mev >= self.noise_mev
        counts = torch.stack([h.sum(1) for h in hit.split(_LAYER_SIZES, dim=1)], 1)
        length = max(1, int(counts.sum(1).max()))
        # in float64: the energy left is a sum of up to 288 cells over nine decades
        share = cells_mev.double() / (condition[:, :1].double() * _MEV_PER_GEV)
        # layer by layer, hottest first, the empty cells last
        key = torch.where(hit, self.cell_layer * 1e3 - share.clamp_min(1e-300).log(), torch.inf)
        order = key.argsort(dim=1, stable=True)[:, :length]
        _, written, count, layer, live = _places(counts, length)
        energy = torch.where(live, share.gather(1, order), 0.0)
        in_layer = F.one_hot(layer, _N_LAYERS).to(energy.dtype) * live[..., None]
        # what each hit's layer has left before it: the sum of it and the hits after it
        left = ((energy[..., None] * in_layer).flip(1).cumsum(1).flip(1) * in_layer).sum(-1)
        previous = torch.cat([energy[:, :1], energy[:, :-1]], 1)
        room = self.room(previous, left)
        low, high = self.bounds(count - written, room)
        room = room.masked_fill(~live | (written == 0), 0.0)
        f = energy / left.clamp_min(1e-300)
        bins = self.bin_of(f.clamp_min(1e-300).log()).clamp(low, high)
        drawn = _drawn(written, count, live)
        return Tokens(
            cells=torch.where(live, order, _NONE),
            bins=torch.where(drawn, bins, 0),
            low=torch.where(drawn, low, 0),
            high=torch.where(drawn, high, 0),
            left=torch.where(live, left.clamp_min(1e-300).log(), 0.0).to(cells_mev.dtype),
            room=room.to(cells_mev.dtype),
            counts=counts,
            summary=summary,
        )

    def bin_of(self, log_f: torch.Tensor) -> torch.Tensor:
        """The bin of log f."""
        bins = ((log_f - _LOG_SMALLEST_SHARE) / self.bin_width).floor()
        return bins.clamp(0, self.bins - 1).long()

    def bounds(
        self, hits_left: torch.Tensor, room: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The lowest and highest bins of a hit's log f: at least ``1 / hits_left``, at most
        ``room`` (``room``: the previous hit's energy over what is left)."""
        low = self.bin_of(-torch.log(hits_left.clamp_min(1).to(room.dtype)))
        return low, torch.maximum(self.bin_of(room), low)

    @staticmethod
    def room(previous: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
        """log(previous / left), at most 0: the largest log f a hit may have."""
        tiny = torch.finfo(left.dtype).tiny  # (a layer drawn empty leaves 0 over 0)
        return (previous.clamp_min(tiny) / left.clamp_min(tiny)).log().clamp_max(0.0)

    def log_f(self, bins: torch.Tensor, place: torch.Tensor) -> torch.Tensor:
        """log f at ``place`` in [0, 1) of bins ``bins``."""
        return _LOG_SMALLEST_SHARE + (bins.to(place.dtype) + place) * self.bin_width

    def targets(self, summary: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Standardised summaries -> each layer's energy and the energy outside its hottest cell,
        as shares of the incident energy (N, 3) each, and its hit count (N, 3) int64: what
        the hits are written towards."""
        raw = self.summaries.raw_head(summary)
        energy_mev = condition[:, :1] * _MEV_PER_GEV
        energies = self.summaries.layer_energies(raw, condition)
        rests = self.summaries.layer_rests(raw, energies).to(energies.dtype) / energy_mev
        sizes = torch.tensor(_LAYER_SIZES, device=summary.device)
        counts = (raw[:, _N_LAYERS : 2 * _N_LAYERS].exp() - 1).floor().long()
        counts = torch.minimum(counts.clamp_min(0), sizes)
        # a layer of several hits leaves at least noise_mev to each after its hottest, and its
        # hottest holds at least their mean (flow I's numbers need not agree: they are drawn
        # one after the other)
        shares = energies / energy_mev
        others = (counts - 1).clamp_min(0)
        least = others * self.noise_mev / energy_mev
        most = shares * others / counts.clamp_min(1)
        return shares, torch.minimum(torch.maximum(rests, least), most), counts


class ShowerRNNGenerator(nn.Module):
    """Noise + condition -> showers (three layers, MeV), one hit cell per step."""

    def __init__(
        self,
        particles: Sequence[str] = ("e+",),
        width: int = 128,
        layers: int = 1,
        bins: int = 512,
        noise_mev: float = 1e-6,
        summary_transforms: int = 4,
        summary_hidden: int = 64,
        summary_bins: int = 8,
        max_hits: int = N_CELLS,
        faint_mev: float = 0.0,
    ) -> None:
        """``faint_mev``: generated cells below it are moved onto Geant4's spectrum of such
        cells by a map fitted after training (``fastshower calibrate``); 0: no map."""
        super().__init__()
        if not 1 <= max_hits <= N_CELLS:
            raise ValueError(f"max_hits must be in 1-{N_CELLS}, got {max_hits}")
        if bins % _FINE:
            raise ValueError(f"bins must be a multiple of {_FINE}, got {bins}")
        self.space = ShowerTokens(particles, bins, noise_mev, faint_mev)
        head, context = self.space.head, self.space.context_size
        self.max_hits = max_hits
        self.latent_size = head + 3 * max_hits
        self.summary_flow = zuko.flows.MAF(
            head,
            context,
            transforms=summary_transforms,
            hidden_features=[summary_hidden] * 2,
            univariate=partial(SplineTransform, bound=8.0),
            shapes=[(summary_bins,), (summary_bins,), (summary_bins - 1,)],
        )
        self.shower_embedding = nn.Linear(context + head, width)
        self.progress_embedding = nn.Linear(_N_LAYERS + 6, width)
        rows, columns = _cell_rows_and_columns()
        self.register_buffer("cell_row", rows)
        self.register_buffer("cell_column", columns)
        self.cell_row: torch.Tensor
        self.cell_column: torch.Tensor
        offsets, n_offsets = _offsets_from_hottest()
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("group_first", torch.arange(_N_GROUPS) * _GROUP, persistent=False)
        self.register_buffer("within_group", torch.arange(_GROUP), persistent=False)
        self.offsets: torch.Tensor
        self.group_first: torch.Tensor
        self.within_group: torch.Tensor
        self.no_offset = n_offsets
        # a hit's place against its layer's hottest (a shower's core moves from shower to
        # shower, and a cell's energy follows its distance from it): read with the previous
        # hit and with the cell whose energy is drawn, and as keys that weigh on which group
        # and cell come next
        # (from zero: the network starts as one that does not know them, and the many places
        # seldom seen, far from the core, do not start as large random logits)
        self.offset = nn.Embedding(n_offsets + 1, width)
        self.offset_key = nn.Embedding(n_offsets + 1, _KEY)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset_key.weight)
        self.group_query = nn.Linear(width, _KEY)
        self.cell_query = nn.Linear(width, _KEY)
        # a cell is told by its own vector and those of its row and column in its layer
        self.cell = nn.Embedding(N_CELLS + 1, width)
        self.row = nn.Embedding(int(rows.max()) + 1, width)
        self.column = nn.Embedding(int(columns.max()) + 1, width)
        self.share = nn.Embedding(bins + 1, width)  # the last: a hit not drawn, or none yet
        self.recurrent = nn.GRU(width, width, num_layers=layers, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.group_head = nn.Linear(width, _N_GROUPS)
        self.chosen_group = nn.Embedding(_N_GROUPS, width)
        self.cell_head = mlp(width, _GROUP)
        self.chosen = nn.Embedding(N_CELLS, width)
        self.coarse_head = mlp(width, bins // _FINE)
        self.chosen_coarse = nn.Embedding(bins // _FINE, width)
        self.fine_head = mlp(width, _FINE)

    def _cell_table(self) -> torch.Tensor:
        """(505, width): each cell's vector plus its row's and its column's."""
        return self.cell.weight + self.row(self.cell_row) + self.column(self.cell_column)

    def _shower_vector(self, condition: torch.Tensor, summary: torch.Tensor) -> torch.Tensor:
        """(N, width): the condition and the summaries, the same at every step."""
        context = self.space.summaries.context(condition)
        return self.shower_embedding(torch.cat([context, summary], 1))

    def _progress(
        self,
        layer: torch.Tensor,
        written: torch.Tensor,
        count: torch.Tensor,
        left: torch.Tensor,
        layer_share: torch.Tensor,
        room: torch.Tensor,
    ) -> torch.Tensor:
        """(..., 9): the layer being written (one-hot), the share of its count written, the log
        of the hits left, the log of its energy left over its energy and over the hits left
        (``left``: log of the energy left as a share of the incident one), and how much a hit
        may take (``room``, ``Tokens.room``), also against the least it must (1 / hits left)."""
        written, count = written.to(left.dtype), count.to(left.dtype)
        hits_left = (count - written).clamp_min(1.0)
        return torch.cat(
            [
                F.one_hot(layer, _N_LAYERS).to(left.dtype),
                (written / count.clamp_min(1.0))[..., None],
                hits_left.log()[..., None] / 6.0,
                ((left - layer_share.clamp_min(1e-30).log()) / 10.0).clamp(-3.0, 1.0)[..., None],
                ((left - hits_left.log()) / 10.0).clamp(-4.0, 1.0)[..., None],
                (room / 5.0).clamp_min(-2.0)[..., None],
                ((room + hits_left.log()) / 5.0).clamp(0.0, 2.0)[..., None],
            ],
            -1,
        )

    def _share_logits(
        self, h: torch.Tensor, cell: torch.Tensor, offset: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(h with the chosen cell and its place against its layer's hottest, the coarse bins'
        logits)."""
        h = h + self.chosen(cell.clamp_max(N_CELLS - 1)) + self.offset(offset)
        return h, self.coarse_head(h)

    def _place_bias(
        self, h: torch.Tensor, query: nn.Linear, cells: torch.Tensor, hottest: torch.Tensor
    ) -> torch.Tensor:
        """(..., K): what the places of candidate ``cells`` (..., K) against their layer's
        ``hottest`` (..., ``_NONE`` while it is being chosen) add to their logits."""
        keys = self.offset_key(self.offsets[cells, hottest[..., None]])
        return (keys @ query(h)[..., None])[..., 0]

    def _fine_logits(
        self, h: torch.Tensor, coarse: torch.Tensor, low: torch.Tensor, high: torch.Tensor
    ) -> torch.Tensor:
        """The fine bins' logits within coarse bin ``coarse``, those outside [low, high]
        excluded (h with the chosen cell)."""
        low_coarse, high_coarse = _coarse(low, high)
        fine_low = torch.where(coarse == low_coarse, low.remainder(_FINE), 0)
        fine_high = torch.where(coarse == high_coarse, high.remainder(_FINE), _FINE - 1)
        return _within(self.fine_head(h + self.chosen_coarse(coarse)), fine_low, fine_high)

    def _share_nll(
        self,
        h: torch.Tensor,
        cell: torch.Tensor,
        offset: torch.Tensor,
        bins: torch.Tensor,
        low: torch.Tensor,
        high: torch.Tensor,
    ) -> torch.Tensor:
        """-log p (N, L) of each hit's bin of log f given its cell, within [low, high]."""
        h, coarse_logits = self._share_logits(h, cell, offset)
        coarse, fine = bins.div(_FINE, rounding_mode="floor"), bins.remainder(_FINE)
        coarse_logits = _within(coarse_logits, *_coarse(low, high))
        fine_logits = self._fine_logits(h, coarse, low, high)
        return F.cross_entropy(
            coarse_logits.transpose(1, 2), coarse, reduction="none"
        ) + F.cross_entropy(fine_logits.transpose(1, 2), fine, reduction="none")

    def _draw_share(
        self,
        h: torch.Tensor,
        cell: torch.Tensor,
        offset: torch.Tensor,
        low: torch.Tensor,
        high: torch.Tensor,
        u: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The bin of log f of the new hit in ``cell``, within [low, high], by the inverse CDF
        at ``u`` (coarse then fine, as ``_share_nll`` scores it), and where ``u`` fell in it."""
        h, coarse_logits = self._share_logits(h, cell, offset)
        coarse, rest = draw_split(_within(coarse_logits, *_coarse(low, high)), u)
        fine, place = draw_split(self._fine_logits(h, coarse, low, high), rest)
        return coarse * _FINE + fine, place

    def log_prob(self, tokens: Tokens, condition: torch.Tensor) -> torch.Tensor:
        """Log-likelihood (N,) in nats of ``Tokens``: the summaries' under flow I plus the
        hits' given them."""
        cells, bins, low, high, left, room, counts, summary = tokens
        n, length = cells.shape
        place, written, count, layer, live = _places(counts, length)
        drawn = _drawn(written, count, live)
        # the inputs: the previous hit and its share, and the layer's progress
        none = torch.full((n, 1), _NONE, dtype=torch.long, device=cells.device)
        previous = torch.cat([none, cells[:, :-1]], 1)
        shares = torch.where(drawn, bins, self.space.bins)
        previous_shares = torch.cat([none * 0 + self.space.bins, shares[:, :-1]], 1)
        layer_shares = self.space.targets(summary, condition)[0].gather(1, layer)
        progress = self._progress(layer, written, count, left, layer_shares, room)
        # each hit's layer's hottest (the layer's first hit), and each hit's place against it
        hottest = torch.where(live, cells.gather(1, (place - written).clamp(0, length - 1)), _NONE)
        offset = self.offsets[cells, hottest]
        previous_offset = torch.cat([none * 0 + self.no_offset, offset[:, :-1]], 1)
        x = self._cell_table()[previous] + self.share.weight[previous_shares]
        x = x + self.offset.weight[previous_offset] + self.progress_embedding(progress)
        x = x + self._shower_vector(condition, summary)[:, None]
        h = self.norm(self.recurrent(x)[0])
        known = torch.where(written > 0, hottest, _NONE)  # (not while the hottest is chosen)
        # the cell: its group among the layer's groups not full, then the cell among those free
        # (the masks only where there is a hit: a padded place may have nothing left)
        hit_at = torch.full((n, N_CELLS + 1), length, dtype=torch.long, device=cells.device)
        hit_at.scatter_(1, cells, place.expand(n, -1))  # each cell's place in the list
        taken = (hit_at[:, None, :N_CELLS] < place[:, None]) & live[..., None]
        taken = taken.unflatten(-1, (_N_GROUPS, _GROUP))  # (N, L, groups, 24): hit before
        other_layer = (self.space.group_layer != layer[..., None]) & live[..., None]
        group_logits = self.group_head(h) + self._place_bias(
            h, self.group_query, self.group_first, known
        )
        group_logits = group_logits.masked_fill(other_layer | taken.all(-1), -torch.inf)
        group = cells.clamp_max(N_CELLS - 1).div(_GROUP, rounding_mode="floor")
        group_nll = F.cross_entropy(group_logits.transpose(1, 2), group, reduction="none")
        in_group = taken.gather(2, group[..., None, None].expand(n, length, 1, _GROUP))[:, :, 0]
        h_group = h + self.chosen_group(group)
        candidates = group[..., None] * _GROUP + self.within_group
        cell_logits = self.cell_head(h_group) + self._place_bias(
            h_group, self.cell_query, candidates, known
        )
        cell_logits = cell_logits.masked_fill(in_group, -torch.inf)
        cell_nll = F.cross_entropy(
            cell_logits.transpose(1, 2), cells.remainder(_GROUP) * live, reduction="none"
        )
        share_nll = self._share_nll(h, cells, offset, bins, low, high)
        nll = torch.where(live, group_nll + cell_nll, 0.0) + torch.where(drawn, share_nll, 0.0)
        context = self.space.summaries.context(condition)
        return self.summary_flow(context).log_prob(summary) - nll.sum(1)

    def forward(self, x: Any, condition: torch.Tensor, density: bool = False) -> Any:
        if density:
            return self.log_prob(cast(Tokens, x), condition)
        return self.sample(x, condition)

    def sample(self, latent: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Showers (three layers (N, rows, columns), MeV) from standard-normal latent (N,
        ``latent_size``)."""
        head = self.space.head
        context = self.space.summaries.context(condition)
        summary = invert_flow(self.summary_flow, latent[:, :head], context)
        layer_shares, rests, counts = self.space.targets(summary, condition)
        energy = condition[:, :1] * _MEV_PER_GEV
        uniforms = torch.special.ndtr(latent[:, head:]).unflatten(1, (self.max_hits, 3))
        total = counts.sum(1).clamp_max(self.max_hits)
        shower = self._shower_vector(condition, summary)
        if tracing():  # every step on the whole batch, the showers that have ended unchanged
            order, plan = None, [None] * self.max_hits
        else:  # the longest showers first: those still being written are the first m
            order = total.argsort(descending=True, stable=True)
            layer_shares, rests, counts, total, uniforms, shower = (
                t[order] for t in (layer_shares, rests, counts, total, uniforms, shower)
            )
            steps = torch.arange(int(total.max()) if len(total) else 0, device=latent.device)
            plan = (total[None] > steps[:, None]).sum(1).tolist()
        ends = counts.cumsum(1)
        shares = torch.zeros_like(latent[:, :1]).repeat(1, N_CELLS)  # batch kept free
        hit = shares > 0
        group_hits = torch.zeros_like(counts[:, :1]).repeat(1, _N_GROUPS)
        cell = torch.zeros_like(counts[:, 0]) + _NONE
        share_token = torch.zeros_like(cell) + self.space.bins
        hottest = torch.zeros_like(counts) + _NONE  # each layer's, once written
        offset = torch.zeros_like(cell) + self.no_offset  # the previous hit's against it
        left = torch.zeros_like(shares[:, 0])  # the layer's energy left (share of E)
        previous = torch.zeros_like(left)  # the previous hit's
        state: torch.Tensor | None = None
        table = self._cell_table()
        for step, m in enumerate(plan):
            rows = slice(None) if m is None else slice(m)
            alive = step < total[rows]
            layer = (step >= ends[rows]).sum(1).clamp_max(_N_LAYERS - 1)
            count = counts[rows].gather(1, layer[:, None])[:, 0]
            written = step - (ends[rows] - counts[rows]).gather(1, layer[:, None])[:, 0]
            layer_share = layer_shares[rows].gather(1, layer[:, None])[:, 0]
            left_now = torch.where(written == 0, layer_share, left[rows])
            log_left = left_now.clamp_min(1e-30).log()
            room = self.space.room(previous[rows], left_now)
            low, high = self.space.bounds(count - written, room)
            room = room.masked_fill(written == 0, 0.0)
            progress = self._progress(layer, written, count, log_left, layer_share, room)
            x = table[cell[rows]] + self.share.weight[share_token[rows]] + shower[rows]
            x = x + self.offset.weight[offset[rows]] + self.progress_embedding(progress)
            h, state = gru_step(self.recurrent, x, None if state is None else state[:, rows])
            h = self.norm(h)
            u = uniforms[rows, step]
            known = hottest[rows].gather(1, layer[:, None])[:, 0]  # _NONE for the hottest
            full = (self.space.group_layer != layer[:, None]) | (group_hits[rows] >= _GROUP)
            group_logits = self.group_head(h) + self._place_bias(
                h, self.group_query, self.group_first[None], known
            )
            group, rest = draw_split(group_logits.masked_fill_(full, -torch.inf), u[:, 0])
            taken = hit[rows].unflatten(1, (_N_GROUPS, _GROUP))
            taken = taken.gather(1, group[:, None, None].expand(-1, 1, _GROUP))[:, 0]
            h_group = h + self.chosen_group(group)
            candidates = group[:, None] * _GROUP + self.within_group
            cell_logits = self.cell_head(h_group) + self._place_bias(
                h_group, self.cell_query, candidates, known
            )
            new_cell = group * _GROUP + draw(cell_logits.masked_fill_(taken, -torch.inf), rest)
            known = torch.where(written == 0, new_cell, known)
            new_offset = self.offsets[new_cell, known]
            # the share of what is left: the hottest is flow I's, the last takes the rest
            bins, place = self._draw_share(h, new_cell, new_offset, low, high, u[:, 1])
            # within the bin, f kept to its bounds: then every hit is at most the one before,
            # and the last (the rest) too
            hits_left = (count - written).clamp_min(1).to(left_now.dtype)
            log_f = torch.maximum(self.space.log_f(bins, place), -hits_left.log())
            log_f = torch.minimum(log_f, room)
            first, last = written == 0, written == count - 1
            rest = rests[rows].gather(1, layer[:, None])[:, 0]
            drawn_energy = left_now * log_f.exp()
            new_energy = torch.where(
                last, left_now, torch.where(first, layer_share - rest, drawn_energy)
            )
            # (after the hottest, flow I's rest itself: the layer minus its hottest could
            # cancel to nothing in float32)
            new_left = torch.where(
                last, 0.0, torch.where(first, rest, -left_now * torch.expm1(log_f))
            )
            # added, not set: a shower that has ended (in a trace) adds nothing where it draws
            added = new_energy * alive
            shares[rows].scatter_add_(1, new_cell[:, None], added[:, None])
            hit[rows].scatter_(1, new_cell[:, None], True)
            group_hits[rows].scatter_add_(1, group[:, None], alive.long()[:, None])
            drawn = ~(first | last)
            cell[rows], offset[rows] = new_cell, new_offset
            hottest[rows].scatter_(1, layer[:, None], known[:, None])
            share_token[rows] = torch.where(drawn, bins, self.space.bins)
            left[rows], previous[rows] = new_left, new_energy
        if order is not None:
            shares = torch.empty_like(shares).index_copy_(0, order, shares)
        layers = (shares * energy).split(_LAYER_SIZES, dim=1)
        faint = self.space.faint
        if faint is not None:
            particle = (condition[:, 1:2] == self.space.pdg).to(torch.int64).argmax(1)
            layers = tuple(faint(cells, i, particle) for i, cells in enumerate(layers))
        return tuple(
            c.reshape(-1, *layer.shape) for c, layer in zip(layers, CALORIMETER.layers, strict=True)
        )


def _places(counts: torch.Tensor, length: int) -> tuple[torch.Tensor, ...]:
    """For lists of ``counts`` (N, 3) hits per layer, padded to ``length``: each place's index
    (L,), its index within its layer, its layer's count and its layer (N, L), and whether it
    holds a hit."""
    place = torch.arange(length, device=counts.device)
    ends = counts.cumsum(1)
    live = place < ends[:, -1:]
    layer = (place[None, :, None] >= ends[:, None, :]).sum(-1).clamp_max(_N_LAYERS - 1)
    written = place - (ends - counts).gather(1, layer)
    return place, written, counts.gather(1, layer), layer, live


def _drawn(written: torch.Tensor, count: torch.Tensor, live: torch.Tensor) -> torch.Tensor:
    """The hits whose share is drawn: not a layer's hottest (flow I's) or its last (the rest)."""
    return live & (written > 0) & (written < count - 1)


def _coarse(low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The coarse bins of the bins ``low`` and ``high``."""
    return low.div(_FINE, rounding_mode="floor"), high.div(_FINE, rounding_mode="floor")


def _within(logits: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """``logits`` (..., K) with the categories outside [``low``, ``high``] (...) excluded."""
    categories = torch.arange(logits.shape[-1], device=logits.device)
    outside = (categories < low[..., None]) | (categories > high[..., None])
    return logits.masked_fill(outside, -torch.inf)


def _offsets_from_hottest() -> tuple[torch.Tensor, int]:
    """(505, 505) int64: at [a, b], the index of cell a's place against cell b of the same
    layer (its row and column offsets), numbered across the layers; and their number, n, the
    index of pairs of different layers or with no cell (index 504)."""
    blocks, first, n = [], 0, 0
    for layer in CALORIMETER.layers:
        n_rows, n_columns = layer.shape
        index = torch.arange(layer.n_cells)
        row, column = index // n_columns, index % n_columns
        rows = row[:, None] - row[None, :] + n_rows - 1
        columns = column[:, None] - column[None, :] + n_columns - 1
        blocks.append((first, layer.n_cells, n + rows * (2 * n_columns - 1) + columns))
        first, n = first + layer.n_cells, n + (2 * n_rows - 1) * (2 * n_columns - 1)
    table = torch.full((N_CELLS + 1, N_CELLS + 1), n, dtype=torch.long)
    for start, size, block in blocks:
        table[start : start + size, start : start + size] = block
    return table, n


def _cell_rows_and_columns() -> tuple[torch.Tensor, torch.Tensor]:
    """Each cell's row and column (505,), numbered across the layers (the last: no cell)."""
    rows, columns = [], []
    row_offset = column_offset = 0
    for layer in CALORIMETER.layers:
        n_rows, n_columns = layer.shape
        index = torch.arange(layer.n_cells)
        rows.append(row_offset + index // n_columns)
        columns.append(column_offset + index % n_columns)
        row_offset, column_offset = row_offset + n_rows, column_offset + n_columns
    rows.append(torch.tensor([row_offset]))
    columns.append(torch.tensor([column_offset]))
    return torch.cat(rows), torch.cat(columns)


FAMILY = flow_family("shower-rnn", ShowerRNNGenerator, strict=False, optimize=False)
"""The contract (``fastshower.models.family``): the shower flows' condition and output."""
