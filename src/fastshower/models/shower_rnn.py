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
step), each the hottest of the layer's hits still to come; each step reads the previous hit,
the condition and summaries, and how far the layer has got (its share of the count written,
the energy so far against the layer's), and predicts:

- the next cell: its group of 24 (a quarter of a layer-0 row of strips, two rows of layer 1,
  four of layer 2; groups of other layers and full groups excluded), then the cell within the
  group, cells already hit excluded;
- its energy given the cell: one of ``bins`` bins of ``log(cell / E)`` between ``cell_range``,
  as a coarse bin of 16 and the bin within it, bins above the layer's previous hit excluded,
  the energy uniform in log within its bin.

Last, each layer is fitted to flow I's summaries as the shower flow's are
(``ShowerSpace.decode_head``): rescaled to the layer's energy, its hottest cell set to the
layer's energy minus the energy outside it. Every hit Geant4 leaves down to ``noise_mev`` (1 eV)
is a hit here: no faint-cell map is needed.

``forward(latent, condition)`` samples: latent (N, 9 + 3 * 504) standard normal (flow I's, then
three numbers per step, turned into uniforms: the cell's, the bin's and the place in the bin),
condition (N, 4) (``CONDITION_FIELDS``); it returns the three layers in MeV.
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
from fastshower.models.family import flow_family
from fastshower.models.hit_lists import below, draw, draw_split, gru_step, mlp
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
"""Fine energy bins per coarse bin."""
_NONE = N_CELLS
"""The cell index (and, with ``bins``, the bin) of no hit: the input of the first step."""
_MEV_PER_GEV = 1000.0


class Tokens(NamedTuple):
    """A batch of showers as the network learns them (``ShowerTokens.encode``)."""

    cells: torch.Tensor
    """(N, L) int64: each hit's cell, layer by layer, hottest first; ``_NONE`` after the last."""
    bins: torch.Tensor
    """(N, L) int64: each hit's energy bin (0 after the last)."""
    counts: torch.Tensor
    """(N, 3) int64: hits per layer."""
    summary: torch.Tensor
    """(N, 9) the standardised layer summaries (fresh noise)."""


class ShowerTokens(nn.Module):
    """Showers <-> what the network learns: the layer summaries of a ``ShowerSpace`` (which it
    standardises and fits generated cells to) and each shower's hit list."""

    def __init__(
        self,
        particles: Sequence[str],
        bins: int,
        cell_range: tuple[float, float],
        noise_mev: float,
    ) -> None:
        super().__init__()
        low, high = (float(v) for v in cell_range)
        if not 0 < low < high:
            raise ValueError(f"cell range {low:g}:{high:g} (of E): need 0 < low < high")
        # the summaries the network is written towards: energies, hit counts, hottest cells
        settings = ShowerSpaceSettings(
            noise_mev=noise_mev, layer_hits=True, layer_peaks=True, layer_energies="shares"
        )
        self.summaries = ShowerSpace(particles, settings)
        self.head = self.summaries.head
        self.context_size = self.summaries.context_size
        self.noise_mev = noise_mev
        self.bins = bins
        self.log_low = math.log(low)
        self.bin_width = (math.log(high) - self.log_low) / bins
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

    @torch.no_grad()
    def fit(self, cells_mev: torch.Tensor, condition: torch.Tensor, seed: int = 0) -> ShowerTokens:
        """Set the summaries' standardisation from a training sample."""
        self.summaries.fit(cells_mev, condition, seed)
        return self

    def encode(
        self, cells_mev: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> Tokens:
        """Showers (N, 504) in MeV -> ``Tokens``, L the most hits in the batch."""
        summary = self.summaries.encode(cells_mev, condition, rng)[:, : self.head]
        hit = cells_mev >= self.noise_mev
        counts = torch.stack([h.sum(1) for h in hit.split(_LAYER_SIZES, dim=1)], 1)
        length = max(1, int(counts.sum(1).max()))
        share = cells_mev / (condition[:, :1] * _MEV_PER_GEV)
        # layer by layer, hottest first, the empty cells last (in float64: a float32 sum of
        # the layer and a share of 1e-6 loses the share)
        log_share = share.double().clamp_min(1e-300).log()
        key = torch.where(hit, self.cell_layer * 1e3 - log_share, torch.inf)
        order = key.argsort(dim=1, stable=True)[:, :length]
        live = torch.arange(length, device=hit.device) < counts.sum(1, keepdim=True)
        cells = torch.where(live, order, _NONE)
        bins = self.bin_of(share.gather(1, order)).masked_fill(~live, 0)
        return Tokens(cells, bins, counts, summary)

    def bin_of(self, share: torch.Tensor) -> torch.Tensor:
        """The energy bin of cells of ``share`` of the incident energy."""
        bins = ((share.clamp_min(1e-30).log() - self.log_low) / self.bin_width).floor()
        return bins.clamp(0, self.bins - 1).long()

    def share_of(self, bins: torch.Tensor, place: torch.Tensor | float = 0.5) -> torch.Tensor:
        """The share of the incident energy at ``place`` in [0, 1) of bins ``bins``."""
        return torch.exp(self.log_low + (bins.to(torch.float32) + place) * self.bin_width)

    def targets(self, summary: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Standardised summaries -> (each layer's share of the incident energy (N, 3), its
        hit count (N, 3) int64): what the hits are written towards."""
        raw = self.summaries.raw_head(summary)
        shares = self.summaries.layer_energies(raw, condition) / (condition[:, :1] * _MEV_PER_GEV)
        sizes = torch.tensor(_LAYER_SIZES, device=summary.device)
        counts = (raw[:, _N_LAYERS : 2 * _N_LAYERS].exp() - 1).floor().long()
        return shares, torch.minimum(counts.clamp_min(0), sizes)


class ShowerRNNGenerator(nn.Module):
    """Noise + condition -> showers (three layers, MeV), one hit cell per step."""

    def __init__(
        self,
        particles: Sequence[str] = ("e+",),
        width: int = 128,
        layers: int = 1,
        bins: int = 1024,
        cell_range: tuple[float, float] = (1e-12, 2.0),
        noise_mev: float = 1e-6,
        summary_transforms: int = 4,
        summary_hidden: int = 64,
        summary_bins: int = 8,
        max_hits: int = N_CELLS,
    ) -> None:
        super().__init__()
        if not 1 <= max_hits <= N_CELLS:
            raise ValueError(f"max_hits must be in 1-{N_CELLS}, got {max_hits}")
        if bins % _FINE:
            raise ValueError(f"bins must be a multiple of {_FINE}, got {bins}")
        self.space = ShowerTokens(particles, bins, tuple(cell_range), noise_mev)  # type: ignore[arg-type]
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
        # how far the layer being written has got: its one-hot, the share of its count written
        # and the log of the count left, its energy so far over its energy (bin centres)
        self.progress_embedding = nn.Linear(_N_LAYERS + 3, width)
        rows, columns = _cell_rows_and_columns()
        self.register_buffer("cell_row", rows)
        self.register_buffer("cell_column", columns)
        self.cell_row: torch.Tensor
        self.cell_column: torch.Tensor
        # a cell is told by its own vector and those of its row and column in its layer
        self.cell = nn.Embedding(N_CELLS + 1, width)
        self.row = nn.Embedding(int(rows.max()) + 1, width)
        self.column = nn.Embedding(int(columns.max()) + 1, width)
        self.energy = nn.Embedding(bins + 1, width)  # the last: no hit yet
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
        return self.shower_embedding(
            torch.cat([self.space.summaries.context(condition), summary], 1)
        )

    def _progress(
        self,
        layer: torch.Tensor,
        written: torch.Tensor,
        count: torch.Tensor,
        so_far: torch.Tensor,
        target: torch.Tensor,
    ) -> torch.Tensor:
        """(..., 6) from the layer being written (...), the hits of it written and its count,
        its energy so far and its energy (shares of E)."""
        count = count.to(so_far.dtype)
        return torch.cat(
            [
                F.one_hot(layer, _N_LAYERS).to(so_far.dtype),
                (written / count.clamp_min(1.0))[..., None],
                torch.log1p((count - written).clamp_min(0.0))[..., None] / 6.0,
                (so_far / target.clamp_min(1e-12)).clamp_max(4.0)[..., None],
            ],
            -1,
        )

    def _energy_nll(
        self, h: torch.Tensor, cell: torch.Tensor, ceiling: torch.Tensor, bins: torch.Tensor
    ) -> torch.Tensor:
        """-log p (N, L) of each hit's energy bin given its cell, bins above ``ceiling``
        excluded."""
        h = h + self.chosen(cell.clamp_max(N_CELLS - 1))
        coarse, fine = bins.div(_FINE, rounding_mode="floor"), bins.remainder(_FINE)
        top = ceiling.div(_FINE, rounding_mode="floor")
        coarse_logits = below(self.coarse_head(h), top)
        fine_ceiling = torch.where(coarse == top, ceiling.remainder(_FINE), _FINE - 1)
        fine_logits = below(self.fine_head(h + self.chosen_coarse(coarse)), fine_ceiling)
        return F.cross_entropy(
            coarse_logits.transpose(1, 2), coarse, reduction="none"
        ) + F.cross_entropy(fine_logits.transpose(1, 2), fine, reduction="none")

    def log_prob(self, tokens: Tokens, condition: torch.Tensor) -> torch.Tensor:
        """Log-likelihood (N,) in nats of ``Tokens``: the summaries' under flow I plus the
        hits' given them."""
        cells, bins, counts, summary = tokens
        n, length = cells.shape
        device = cells.device
        place = torch.arange(length, device=device)
        ends = counts.cumsum(1)  # (N, 3): where each layer's hits end
        live = place < ends[:, -1:]
        layer = (place[None, :, None] >= ends[:, None, :]).sum(-1).clamp_max(_N_LAYERS - 1)
        starts = ends - counts
        written = place - starts.gather(1, layer)
        count = counts.gather(1, layer)
        # the inputs: the previous hit, and the layer's energy before this hit
        none = torch.full((n, 1), _NONE, dtype=torch.long, device=device)
        previous = torch.cat([none, cells[:, :-1]], 1)
        previous_bins = torch.cat([none * 0 + self.space.bins, bins[:, :-1]], 1)
        share = self.space.share_of(bins) * live
        per_layer = share[..., None] * F.one_hot(layer, _N_LAYERS).to(share.dtype)
        so_far = (per_layer.cumsum(1) - per_layer).gather(2, layer[..., None])[..., 0]
        targets = self.space.targets(summary, condition)[0]
        progress = self._progress(layer, written, count, so_far, targets.gather(1, layer))
        x = self._cell_table()[previous] + self.energy.weight[previous_bins]
        x = x + self._shower_vector(condition, summary)[:, None] + self.progress_embedding(progress)
        h = self.norm(self.recurrent(x)[0])
        # the cell: its group among the layer's groups not full, then the cell among those free
        # (the masks only where there is a hit: a padded place's row may have nothing left)
        hit_at = torch.full((n, N_CELLS + 1), length, dtype=torch.long, device=device)
        hit_at.scatter_(1, cells, place.expand(n, -1))  # each cell's place in the list
        taken = (hit_at[:, None, :N_CELLS] < place[:, None]) & live[..., None]
        taken = taken.unflatten(-1, (_N_GROUPS, _GROUP))  # (N, L, groups, 24): hit before
        other_layer = (self.space.group_layer != layer[..., None]) & live[..., None]
        group_logits = self.group_head(h).masked_fill(other_layer | taken.all(-1), -torch.inf)
        group = cells.clamp_max(N_CELLS - 1).div(_GROUP, rounding_mode="floor")
        group_nll = F.cross_entropy(group_logits.transpose(1, 2), group, reduction="none")
        in_group = taken.gather(2, group[..., None, None].expand(n, length, 1, _GROUP))[:, :, 0]
        cell_logits = self.cell_head(h + self.chosen_group(group)).masked_fill(in_group, -torch.inf)
        cell_nll = F.cross_entropy(
            cell_logits.transpose(1, 2), cells.remainder(_GROUP) * live, reduction="none"
        )
        # the energy: at most the layer's previous hit's
        first = written == 0
        ceiling = torch.where(
            first, self.space.bins - 1, previous_bins.clamp_max(self.space.bins - 1)
        )
        energy_nll = self._energy_nll(h, cells, ceiling, bins)
        nll = torch.where(live, group_nll + cell_nll + energy_nll, 0.0).sum(1)
        context = self.space.summaries.context(condition)
        return self.summary_flow(context).log_prob(summary) - nll

    def forward(self, x: Any, condition: torch.Tensor, density: bool = False) -> Any:
        if density:
            return self.log_prob(cast(Tokens, x), condition)
        return self.sample(x, condition)

    def sample(self, latent: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Showers (three layers (N, rows, columns), MeV) from standard-normal latent (N,
        ``latent_size``)."""
        head, n_bins = self.space.head, self.space.bins
        context = self.space.summaries.context(condition)
        summary = invert_flow(self.summary_flow, latent[:, :head], context)
        targets, counts = self.space.targets(summary, condition)
        uniforms = torch.special.ndtr(latent[:, head:]).unflatten(1, (self.max_hits, 3))
        total = counts.sum(1).clamp_max(self.max_hits)
        shower = self._shower_vector(condition, summary)
        if tracing():  # every step on the whole batch, the showers that have ended unchanged
            order, plan = None, [None] * self.max_hits
        else:  # the longest showers first: those still being written are the first m
            order = total.argsort(descending=True, stable=True)
            targets, counts, total, uniforms, shower = (
                t[order] for t in (targets, counts, total, uniforms, shower)
            )
            steps = torch.arange(int(total.max()) if len(total) else 0, device=latent.device)
            plan = (total[None] > steps[:, None]).sum(1).tolist()
        ends = counts.cumsum(1)
        shares = torch.zeros_like(latent[:, :1]).repeat(1, N_CELLS)  # batch kept free
        hit = shares > 0
        group_hits = torch.zeros_like(counts[:, :1]).repeat(1, _N_GROUPS)
        so_far = torch.zeros_like(targets)
        cell = torch.zeros_like(counts[:, 0]) + _NONE
        energy_bin = torch.zeros_like(cell) + n_bins
        state: torch.Tensor | None = None
        table = self._cell_table()
        for step, m in enumerate(plan):
            rows = slice(None) if m is None else slice(m)
            alive = step < total[rows]
            layer = (step >= ends[rows]).sum(1).clamp_max(_N_LAYERS - 1)
            written = step - (ends[rows] - counts[rows]).gather(1, layer[:, None])[:, 0]
            progress = self._progress(
                layer,
                written.to(so_far.dtype),
                counts[rows].gather(1, layer[:, None])[:, 0],
                so_far[rows].gather(1, layer[:, None])[:, 0],
                targets[rows].gather(1, layer[:, None])[:, 0],
            )
            x = table[cell[rows]] + self.energy.weight[energy_bin[rows]] + shower[rows]
            x = x + self.progress_embedding(progress)
            h, state = gru_step(self.recurrent, x, None if state is None else state[:, rows])
            h = self.norm(h)
            u = uniforms[rows, step]
            full = (self.space.group_layer != layer[:, None]) | (group_hits[rows] >= _GROUP)
            group, rest = draw_split(self.group_head(h).masked_fill_(full, -torch.inf), u[:, 0])
            taken = hit[rows].unflatten(1, (_N_GROUPS, _GROUP))
            taken = taken.gather(1, group[:, None, None].expand(-1, 1, _GROUP))[:, 0]
            cell_logits = self.cell_head(h + self.chosen_group(group))
            new_cell = group * _GROUP + draw(cell_logits.masked_fill_(taken, -torch.inf), rest)
            ceiling = torch.where(written == 0, n_bins - 1, energy_bin[rows])
            new_bin = self._draw_energy(h, new_cell, ceiling, u[:, 1])
            # added, not set: a shower that has ended (in a trace) adds nothing where it draws
            share = self.space.share_of(new_bin, u[:, 2]) * alive
            shares[rows].scatter_add_(1, new_cell[:, None], share[:, None])
            hit[rows].scatter_(1, new_cell[:, None], True)
            group_hits[rows].scatter_add_(1, group[:, None], alive.long()[:, None])
            centre = self.space.share_of(new_bin) * alive
            so_far[rows].scatter_add_(1, layer[:, None], centre[:, None])
            cell[rows], energy_bin[rows] = new_cell, new_bin
        if order is not None:
            shares = torch.empty_like(shares).index_copy_(0, order, shares)
        cells_mev = shares * condition[:, :1] * _MEV_PER_GEV
        layers = self.space.summaries.decode_head(summary, cells_mev, condition)
        return tuple(
            c.reshape(-1, *layer.shape) for c, layer in zip(layers, CALORIMETER.layers, strict=True)
        )

    def _draw_energy(
        self, h: torch.Tensor, cell: torch.Tensor, ceiling: torch.Tensor, u: torch.Tensor
    ) -> torch.Tensor:
        """The energy bin of the new hit in ``cell``, at most ``ceiling``, by the inverse CDF at
        ``u`` (coarse then fine)."""
        h = h + self.chosen(cell)
        top = ceiling.div(_FINE, rounding_mode="floor")
        coarse, rest = draw_split(below(self.coarse_head(h), top), u)
        fine_ceiling = torch.where(coarse == top, ceiling.remainder(_FINE), _FINE - 1)
        fine_logits = self.fine_head(h + self.chosen_coarse(coarse))
        return coarse * _FINE + draw(below(fine_logits, fine_ceiling), rest)


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
