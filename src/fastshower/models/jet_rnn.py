"""An autoregressive recurrent network of jet images: the hit pixels one after the other, hardest
first.

A 25 x 25 jet image is a short list: a W jet hits about 22 pixels, a QCD jet about 32, out of
625. Written as that list, ordered by pT, an image is a sentence whose words are (pixel, pT)
pairs, and an autoregressive network learns its probability exactly, word by word, as language
models do, and as jets' constituents were learnt by Finke et al. (2023, "Learning the language of
QCD jets with transformers"). Where a flow of all 625 pixels must learn which of them are empty
through a continuous map (``jet_flow``), here the next pixel is a choice among the 625 (or
"stop"), so which pixels are hit, and where the second prong lies, is learnt as it is.

First a small spline flow (the jet flow's flow I) draws the jet's summary given its class: log
pT, log mass and the (dequantised) number of hit pixels. Then a GRU reads the jet so far, one hit
per step, with the class, the summary and how far the hits so far are from it, and each step
predicts:

- the next pixel: its row among the 25 and "stop", rows with no pixel left excluded (and "stop"
  at the start: a jet hits one pixel at least), then its column among the 25 given the row,
  pixels already hit excluded;
- its pT given that pixel: one of ``pt_bins`` bins of log pT between ``pt_range_gev``, as a
  coarse bin of 16 and the bin within it, bins above the previous pixel's excluded (the list is
  ordered), the pT uniform in log within its bin.

Why the summary first: a W jet's mass is a sum over all its pixels, which a list written pixel
by pixel learns slowly unless it is told where it is heading (without it, 6 epochs on 18 000 W
jets left the mass peak four times too broad).

Why a GRU and choices in two steps: sampling writes a jet one hit per step. A causal
transformer (4 blocks of width 128) came closer to Pythia (pixel AUC 0.555 / 0.530 for W / QCD
against 0.593 / 0.573) but took 0.9 ms per jet at batch 1024 on 2 cores, most of it reading its
key/value cache at every step; one GRU layer keeps a state of 128 numbers instead (0.13 ms), and
its step costs more in the number of its small operations than in arithmetic. A softmax over all
626 pixels (and 256 pT bins) per step cost more than the network itself; a row then a column (a
coarse then a fine bin) are two choices among 26 and 25 (16 and 16), drawn from one uniform, so
that the pixel is the one inverse-CDF sampling over all of them would give.

Pixels below ``pt_range_gev[0]`` (1 MeV: 0.2 % of pixels, 0.001 % of the pT) count as empty, as
the jet flow's do.

``forward(latent, labels)`` samples: latent (N, 3 + 3 * max_hits) standard normal (the summary's,
then three numbers per step, turned into uniforms: the pixel's, the bin's and the place in the
bin), labels (N,) int64 (0 = QCD, 1 = W); it returns images (N, 25, 25) in GeV.
``forward(encoded, labels, density=True)`` returns each jet's log-likelihood in nats, of what
``JetTokens.encode`` makes: the training view.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, cast

import torch
import zuko
from torch import nn
from torch.nn import functional as F

from fastshower.models.autoregressive import invert_flow
from fastshower.models.family import JET_CLASSES, jet_family
from fastshower.models.hit_lists import below, draw, draw_split, gru_step, mlp
from fastshower.models.layers import tracing
from fastshower.models.splines import SplineTransform
from fastshower.observables.jets import IMAGE_GRID

__all__ = ["FAMILY", "IMAGE_SHAPE", "JetRNNGenerator", "JetTokens"]

IMAGE_SHAPE = (25, 25)
_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
STOP = _PIXELS
"""The pixel index that ends a jet (and, as an input, starts it)."""
_FINE = 16
"""Fine pT bins per coarse bin."""


class JetTokens(nn.Module):
    """Jet images <-> what the network learns: each jet's summary (log pT, log mass and the
    dequantised log hit count, standardised) and its token list, (pixel index, pT bin) of every
    hit, hardest first, padded with ``STOP``. The space of the training loop (``fit``,
    ``encode``)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, pt_bins: int, pt_range_gev: tuple[float, float], max_hits: int) -> None:
        super().__init__()
        low, high = (float(v) for v in pt_range_gev)
        if not 0 < low < high:
            raise ValueError(f"pT range {low:g}:{high:g} GeV: need 0 < low < high")
        self.pt_bins = pt_bins
        self.max_hits = max_hits
        self.log_low = math.log(low)
        self.bin_width = (math.log(high) - self.log_low) / pt_bins
        self.dim = 3  # the summary's
        self.register_buffer("mean", torch.zeros(self.dim))
        self.register_buffer("std", torch.ones(self.dim))
        x = torch.as_tensor(IMAGE_GRID.x_centres, dtype=torch.float32)
        y = torch.as_tensor(IMAGE_GRID.y_centres, dtype=torch.float32)
        # massless pixels at their centres: (E, px, py, pz) per unit pT, image[row, column]
        self.register_buffer(
            "unit_momenta",
            torch.stack(
                [
                    torch.cosh(x)[None].expand(IMAGE_SHAPE),
                    torch.cos(y)[:, None].expand(IMAGE_SHAPE),
                    torch.sin(y)[:, None].expand(IMAGE_SHAPE),
                    torch.sinh(x)[None].expand(IMAGE_SHAPE),
                ]
            ).reshape(4, _PIXELS),
            persistent=False,
        )
        self.unit_momenta: torch.Tensor
        # a hit's four-momentum is its bin's centre pT times its pixel's unit momentum (0: stop)
        centres = torch.exp(self.log_low + (torch.arange(pt_bins) + 0.5) * self.bin_width)
        self.register_buffer("bin_centres", centres, persistent=False)
        self.register_buffer(
            "pixel_momenta", F.pad(self.unit_momenta, (0, 1)).T.contiguous(), persistent=False
        )
        self.bin_centres: torch.Tensor
        self.pixel_momenta: torch.Tensor
        # each pixel's (x, y) on the image, for distances from the jet's axis
        self.register_buffer(
            "pixel_xy",
            torch.stack([x[None].expand(IMAGE_SHAPE), y[:, None].expand(IMAGE_SHAPE)]).reshape(
                2, _PIXELS
            ),
            persistent=False,
        )
        self.pixel_xy: torch.Tensor

    @torch.no_grad()
    def fit(self, images_gev: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> JetTokens:
        """Set the summary's standardisation from a training sample (one draw of the noise)."""
        self.mean.zero_()
        self.std.fill_(1.0)
        raw = self.encode(images_gev, labels, torch.Generator().manual_seed(seed))[1]
        self.mean.copy_(raw.mean(0))
        self.std.copy_(raw.std(0).clamp_min(1e-3))
        return self

    def encode(
        self, images_gev: torch.Tensor, labels: torch.Tensor, rng: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, 25, 25) in GeV -> (tokens (N, L, 2) int64: pixel and pT bin per hit,
        hardest first, then ``STOP``, L the most hits in the batch plus one, at most
        ``max_hits``; the standardised summary (N, 3), with fresh noise)."""
        pixels = images_gev.reshape(len(images_gev), _PIXELS)
        hit = pixels >= math.exp(self.log_low)
        pixels = pixels.masked_fill(~hit, 0.0)
        length = min(int(hit.sum(1).max()), self.max_hits) + 1
        pt, order = pixels.sort(dim=1, descending=True, stable=True)
        pt, order = pt[:, :length], order[:, :length]
        live = pt > 0
        live[:, -1] = False  # the last place is always a stop
        bins = ((pt.clamp_min(1e-30).log() - self.log_low) / self.bin_width).floor()
        bins = bins.clamp(0, self.pt_bins - 1).long()
        position = torch.where(live, order, torch.full_like(order, STOP))
        tokens = torch.stack([position, torch.where(live, bins, torch.zeros_like(bins))], dim=-1)
        return tokens, (self.summary(pixels, hit.sum(1), rng) - self.mean) / self.std

    def summary(
        self, pixels: torch.Tensor, hits: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        """log pT, log mass (GeV, at least 10 MeV) and log(1 + hits + u) of flat images."""
        p = pixels.double() @ self.unit_momenta.double().T
        mass = _minkowski(p, p).clamp_min(1e-4).sqrt()
        u = torch.rand(hits.shape, generator=rng, device=pixels.device)
        pt = torch.hypot(p[:, 1], p[:, 2]).clamp_min(math.exp(self.log_low))
        return torch.stack([pt.log(), mass.log(), torch.log1p(hits + u)], 1).to(pixels.dtype)

    def momenta(self, pixel: torch.Tensor, pt_bin: torch.Tensor) -> torch.Tensor:
        """Four-momenta (..., 4) of hits (pixel, pT bin) at their bins' centres; 0 for
        ``STOP``."""
        centre = self.bin_centres[pt_bin.clamp_max(self.pt_bins - 1)]
        return centre[..., None] * self.pixel_momenta[pixel]

    def progress_scale(self, summary: torch.Tensor) -> torch.Tensor:
        """1 / (pT, pT, pT, pT, mass) (..., 5) of standardised summaries: what ``progress``
        measures the hits against."""
        inverse = torch.exp(-(summary[..., :2] * self.std[:2] + self.mean[:2]))
        return inverse[..., [0, 0, 0, 0, 1]]

    def progress(self, momenta: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """What the hits so far add up to (four-momenta (..., 4)) against the summary the jet is
        heading for (its ``progress_scale``, broadcast): their four-momentum over its pT, and
        their mass over its mass (..., 5)."""
        mass = _minkowski(momenta, momenta).clamp_min(0).sqrt()
        return torch.cat([momenta, mass[..., None]], -1) * scale

    def pt_gev(self, bins: torch.Tensor, place: torch.Tensor) -> torch.Tensor:
        """pT of bin ``bins`` at ``place`` in [0, 1) of it (uniform in log pT)."""
        return torch.exp(self.log_low + (bins.to(place.dtype) + place) * self.bin_width)

    def match_summary(
        self, pixels: torch.Tensor, summary: torch.Tensor, steps: int = 8
    ) -> torch.Tensor:
        """Flat images (N, 625) reshaped to the standardised summary's mass and pT.

        First the mass over pT: each pixel's pT is weighted by ``exp(a (r^2 - <r^2>))``, ``r``
        its distance from the jet's axis (the pT-weighted centroid) and ``<r^2>`` the
        pT-weighted mean, so that ``a > 0`` moves pT outwards (more mass) and ``a < 0`` inwards,
        the same pixels stay hit and the hardest stay hardest where ``a`` is small. ``a`` is
        Newton's root of ``log(m^2 / pT^2)`` minus the summary's: ``steps`` steps from 0, each
        changing a weight by at most a factor e, the weights kept within e^+-4, and the step
        that came closest kept (the mass is not monotonic in ``a`` for every jet). Then the pT
        is scaled to the summary's, which keeps the mass over pT.

        In float32 at least: a jet's squared momenta (up to 1e5 GeV^2) overflow float16. On the
        hit pixels only (outside a trace): a jet hits a twentieth of the image, and over all 625
        pixels this took a sixth of a small model's sampling time.
        """
        dtype = pixels.dtype
        work = torch.promote_types(dtype, torch.float32)
        hits = _PIXELS if tracing() else max(1, int((pixels > 0).sum(1).max()))
        values, index = pixels.to(work).topk(hits, dim=1)  # (N, hits), every hit among them
        units = self.unit_momenta.to(work).T[index]  # (N, hits, 4)
        xy = self.pixel_xy.to(work).T[index]  # (N, hits, 2)
        raw = summary.to(work) * self.std.to(work) + self.mean.to(work)
        log_ratio2 = 2 * (raw[:, 1] - raw[:, 0])  # log (m / pT)^2
        total = values.sum(1, keepdim=True).clamp_min(1e-30)
        axis = torch.bmm((values / total)[:, None], xy)  # (N, 1, 2)
        r2 = ((xy - axis) ** 2).sum(2)
        r2 = r2 - (values * r2).sum(1, keepdim=True) / total
        reach = torch.where(values > 0, r2.abs(), 0.0).amax(1).clamp_min(1e-6)  # (N,)
        a = torch.zeros_like(reach)
        best, best_gap = a, torch.full_like(a, torch.inf)
        for _ in range(steps):
            weighted = values * torch.exp(a[:, None] * r2)
            p = torch.bmm(weighted[:, None], units)[:, 0]  # the momentum (N, 4)
            dp = torch.bmm((weighted * r2)[:, None], units)[:, 0]  # d/da of it
            mass2, pt2 = _minkowski(p, p).clamp_min(1e-12), _transverse(p, p).clamp_min(1e-12)
            gap = mass2.log() - pt2.log() - log_ratio2
            closer = gap.abs() < best_gap
            best, best_gap = torch.where(closer, a, best), torch.where(closer, gap.abs(), best_gap)
            slope = 2 * (_minkowski(p, dp) / mass2 - _transverse(p, dp) / pt2)
            steep = slope.abs() > 1e-12
            step = torch.where(steep, gap / torch.where(steep, slope, 1.0), torch.zeros_like(gap))
            a = (a - step.clamp(-1 / reach, 1 / reach)).clamp(-4 / reach, 4 / reach)
        values = values * torch.exp(best[:, None] * r2)
        momenta = torch.bmm(values[:, None], units)[:, 0]
        pt = _transverse(momenta, momenta).sqrt()  # (hypot has no ONNX export)
        scale = torch.where(pt > 0, raw[:, 0].exp() / pt.clamp_min(1e-30), torch.zeros_like(pt))
        out = torch.zeros_like(pixels, dtype=work).scatter(1, index, values * scale[:, None])
        return out.to(dtype)


class JetRNNGenerator(nn.Module):
    """Noise + class -> jet images (GeV), one hit pixel per step."""

    def __init__(
        self,
        width: int = 128,
        layers: int = 1,
        pt_bins: int = 256,
        pt_range_gev: tuple[float, float] = (1e-3, 400.0),
        max_hits: int = 100,
        summary_transforms: int = 4,
        summary_hidden: int = 64,
        summary_bins: int = 8,
    ) -> None:
        super().__init__()
        if pt_bins % _FINE:
            raise ValueError(f"pt_bins must be a multiple of {_FINE}, got {pt_bins}")
        self.space = JetTokens(pt_bins, tuple(pt_range_gev), max_hits)  # type: ignore[arg-type]
        self.max_hits = max_hits
        self.latent_size = self.space.dim + 3 * max_hits
        # the summary first, the pixels given it (the module docstring says why)
        self.summary_flow = zuko.flows.MAF(
            self.space.dim,
            len(JET_CLASSES),
            transforms=summary_transforms,
            hidden_features=[summary_hidden] * 2,
            univariate=partial(SplineTransform, bound=8.0),
            shapes=[(summary_bins,), (summary_bins,), (summary_bins - 1,)],
        )
        self.summary_embedding = nn.Linear(self.space.dim, width)
        # the running sums are given, not left for the network to add up: how far the hits so
        # far are from the summary's pT and mass is what the next pixel depends on
        self.progress_embedding = nn.Linear(5, width)
        rows, cols = IMAGE_SHAPE
        index = torch.arange(_PIXELS)
        # a pixel is told by its own vector and those of its row and column, so that a rarely hit
        # pixel shares what its neighbours learnt
        self.register_buffer("pixel_row", torch.cat([index // cols, torch.tensor([rows])]))
        self.register_buffer("pixel_col", torch.cat([index % cols, torch.tensor([cols])]))
        self.pixel = nn.Embedding(_PIXELS + 1, width)
        self.row = nn.Embedding(rows + 1, width)
        self.col = nn.Embedding(cols + 1, width)
        self.pt = nn.Embedding(pt_bins + 1, width)  # the last: no pT yet (the start)
        self.jet_class = nn.Embedding(len(JET_CLASSES), width)
        self.place = nn.Embedding(max_hits + 1, width)
        self.recurrent = nn.GRU(width, width, num_layers=layers, batch_first=True)
        self.norm = nn.LayerNorm(width)
        # the row (or stop), then the column given the row
        self.row_head = nn.Linear(width, rows + 1)
        self.chosen_row = nn.Embedding(rows, width)
        self.column_head = mlp(width, cols)
        # the pT bin given the pixel: a coarse bin, then the bin within it
        self.chosen = nn.Embedding(_PIXELS, width)
        self.pt_coarse_head = mlp(width, pt_bins // _FINE)
        self.chosen_coarse = nn.Embedding(pt_bins // _FINE, width)
        self.pt_fine_head = mlp(width, _FINE)
        self.pixel_row: torch.Tensor
        self.pixel_col: torch.Tensor

    def _pixel_table(self) -> torch.Tensor:
        """(626, width): each pixel's vector plus its row's and its column's."""
        return self.pixel.weight + self.row(self.pixel_row) + self.col(self.pixel_col)

    def _jet_vector(self, labels: torch.Tensor, summary: torch.Tensor) -> torch.Tensor:
        """(N, width): each jet's class and summary, the same at every step."""
        return self.jet_class(labels) + self.summary_embedding(summary)

    def _embed(
        self,
        pixel_table: torch.Tensor,
        jet: torch.Tensor,
        pixel: torch.Tensor,
        pt_bin: torch.Tensor,
        place: torch.Tensor | int,
        progress: torch.Tensor,
    ) -> torch.Tensor:
        """What the GRU reads at a step: the previous hit (pixel and pT bin), the place, the
        jet's class and summary (``jet``, broadcast) and the progress towards it. The tables are
        made once per batch: a sampling step is dozens of small operations, and their number is
        its time."""
        return (
            pixel_table[pixel]
            + self.pt.weight[pt_bin]
            + self.place.weight[place]
            + jet
            + self.progress_embedding(progress)
        )

    def _pt_nll(
        self, h: torch.Tensor, pixel: torch.Tensor, ceiling: torch.Tensor, pt_bin: torch.Tensor
    ) -> torch.Tensor:
        """-log p (N, L) of each hit's pT bin given its pixel, bins above ``ceiling`` (the
        previous hit's) excluded."""
        h = h + self.chosen(pixel.clamp_max(_PIXELS - 1))
        coarse, fine = pt_bin.div(_FINE, rounding_mode="floor"), pt_bin.remainder(_FINE)
        top = ceiling.div(_FINE, rounding_mode="floor")
        coarse_logits = below(self.pt_coarse_head(h), top)
        fine_ceiling = torch.where(coarse == top, ceiling.remainder(_FINE), _FINE - 1)
        fine_logits = below(self.pt_fine_head(h + self.chosen_coarse(coarse)), fine_ceiling)
        return F.cross_entropy(
            coarse_logits.transpose(1, 2), coarse, reduction="none"
        ) + F.cross_entropy(fine_logits.transpose(1, 2), fine, reduction="none")

    def _draw_pt(
        self, h: torch.Tensor, pixel: torch.Tensor, ceiling: torch.Tensor, u: torch.Tensor
    ) -> torch.Tensor:
        """The pT bin of the next pixel ``pixel`` (STOP allowed: its bin is not used), at most
        ``ceiling``, by the inverse CDF at ``u`` (coarse then fine: as ``_draw_pixel``)."""
        h = h + self.chosen(pixel.clamp_max(_PIXELS - 1))
        top = ceiling.div(_FINE, rounding_mode="floor")
        coarse, rest = draw_split(below(self.pt_coarse_head(h), top), u)
        fine_ceiling = torch.where(coarse == top, ceiling.remainder(_FINE), _FINE - 1)
        fine_logits = self.pt_fine_head(h + self.chosen_coarse(coarse))
        return coarse * _FINE + draw(below(fine_logits, fine_ceiling), rest)

    def log_prob(
        self, encoded: tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor
    ) -> torch.Tensor:
        """Log-likelihood (N,) in nats of (tokens, summary) from ``JetTokens.encode``: the
        summary's under its flow plus the tokens' given it."""
        tokens, summary = encoded
        n, length, _ = tokens.shape
        pixel, pt_bin = tokens[..., 0], tokens[..., 1]
        start = torch.full((n, 1), STOP, dtype=torch.long, device=tokens.device)
        inputs = torch.cat([start, pixel[:, :-1]], dim=1)
        no_pt = torch.full((n, 1), self.space.pt_bins, dtype=torch.long, device=tokens.device)
        input_bins = torch.cat([no_pt, pt_bin[:, :-1]], dim=1)
        place = torch.arange(length, device=tokens.device).clamp_max(self.max_hits)
        momenta = self.space.momenta(inputs, input_bins).cumsum(1)
        progress = self.space.progress(momenta, self.space.progress_scale(summary[:, None]))
        jet = self._jet_vector(labels, summary)[:, None]
        h = self._embed(self._pixel_table(), jet, inputs, input_bins, place[None], progress)
        h = self.norm(self.recurrent(h)[0])
        # pixels hit before each step are excluded from its choice
        hit_before = F.one_hot(inputs, _PIXELS + 1).cumsum(1).bool()
        hit_before[..., STOP] = False
        hit_before[:, 0, STOP] = True  # a jet has a pixel at least
        pixel_nll = self._pixel_nll(h, hit_before, pixel)
        ceiling = torch.cat(
            [torch.full_like(pt_bin[:, :1], self.space.pt_bins - 1), pt_bin[:, :-1]], dim=1
        )
        pt_nll = self._pt_nll(h, pixel, ceiling, pt_bin)
        # a jet ends at its first stop: later places are padding
        live = (pixel == STOP).long().cumsum(1) - (pixel == STOP).long() == 0
        hits = live & (pixel != STOP)
        log_p = self.summary_flow(self._context(labels)).log_prob(summary)
        return log_p - (pixel_nll * live).sum(1) - (pt_nll * hits).sum(1)

    def _pixel_nll(
        self, h: torch.Tensor, hit_before: torch.Tensor, pixel: torch.Tensor
    ) -> torch.Tensor:
        """-log p (N, L) of each place's pixel (or stop), the pixels hit before it excluded."""
        rows, cols = IMAGE_SHAPE
        grid = hit_before[..., :_PIXELS].unflatten(-1, IMAGE_SHAPE)  # (N, L, rows, cols)
        stop = pixel == STOP
        row = torch.where(stop, rows, pixel // cols)
        full = torch.cat([grid.all(-1), hit_before[..., STOP:]], -1)  # rows with no pixel left
        row_logits = self.row_head(h).masked_fill(full, -torch.inf)
        row_nll = F.cross_entropy(row_logits.transpose(1, 2), row, reduction="none")
        in_row = row.clamp_max(rows - 1)
        taken = grid.gather(2, in_row[..., None, None].expand(*row.shape, 1, cols))[:, :, 0]
        taken = taken & ~stop[..., None]  # a stop's column is not scored: keep its row finite
        column_logits = self.column_head(h + self.chosen_row(in_row)).masked_fill(taken, -torch.inf)
        column_nll = F.cross_entropy(
            column_logits.transpose(1, 2), pixel.remainder(cols), reduction="none"
        )
        return row_nll + torch.where(stop, 0.0, column_nll)

    def _draw_pixel(
        self, h: torch.Tensor, hit: torch.Tensor, row_hits: torch.Tensor, u: torch.Tensor
    ) -> torch.Tensor:
        """The next pixel (or ``STOP``) of jets whose hit pixels are ``hit`` (N, 626), ``row_hits``
        (N, rows) of them in each row, by the inverse CDF at ``u``. Row then column: the column
        is drawn at where ``u`` fell within its row's share of the CDF, so the pixel is the one
        a single inverse-CDF draw over all the pixels (row by row, then stop) would give."""
        rows, cols = IMAGE_SHAPE
        # rows counted as they fill (all() over the hit map took a fifth of a step)
        full = torch.cat([row_hits >= cols, hit[:, STOP:]], 1)
        row, rest = draw_split(self.row_head(h).masked_fill_(full, -torch.inf), u)
        in_row = row.clamp_max(rows - 1)
        grid = hit[:, :_PIXELS].unflatten(1, IMAGE_SHAPE)
        taken = grid.gather(1, in_row[:, None, None].expand(-1, 1, cols))[:, 0]
        column_logits = self.column_head(h + self.chosen_row(in_row))
        column = draw(column_logits.masked_fill_(taken, -torch.inf), rest)
        return torch.where(row == rows, STOP, in_row * cols + column)

    def _context(self, labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels.long(), len(JET_CLASSES)).to(self.summary_embedding.weight.dtype)

    def forward(self, x: torch.Tensor, labels: torch.Tensor, density: bool = False) -> Any:
        if density:
            return self.log_prob(cast(tuple[torch.Tensor, torch.Tensor], x), labels)
        return self.sample(x, labels)

    def sample(self, latent: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images (N, 25, 25) in GeV from standard-normal latent (N, 3 + 3 * max_hits)."""
        head = self.space.dim
        summary = invert_flow(self.summary_flow, latent[:, :head], self._context(labels))
        uniforms = torch.special.ndtr(latent[:, head:]).unflatten(1, (self.max_hits, 3))
        # every tensor shaped from the latent, so that an export keeps the batch size free
        column = torch.zeros_like(latent[:, :1], dtype=torch.long)
        image = torch.zeros_like(latent[:, :1]).repeat(1, _PIXELS + 1)
        hit = torch.cat([image[:, :_PIXELS] > 0, image[:, _PIXELS:] == 0], 1)  # no empty jet
        row_hits = column.repeat(1, IMAGE_SHAPE[0])
        pixel = column[:, 0] + STOP
        pt_bin = column[:, 0] + self.space.pt_bins
        ceiling = pt_bin - 1
        done = pixel < 0
        momenta = torch.zeros_like(latent[:, :1]).repeat(1, 4)
        state: torch.Tensor | None = None  # the GRU's
        pixel_table, jet = self._pixel_table(), self._jet_vector(labels, summary)
        scale = self.space.progress_scale(summary)
        rows: torch.Tensor | None = None  # where the jets still being written sit in the batch
        finished = image
        for step in range(self.max_hits):
            progress = self.space.progress(momenta, scale)
            h = self._embed(pixel_table, jet, pixel, pt_bin, step, progress)
            h, state = gru_step(self.recurrent, h, state)
            h = self.norm(h)
            pixel = self._draw_pixel(h, hit, row_hits, uniforms[:, step, 0])
            done = done | (pixel == STOP)
            pt_bin = self._draw_pt(h, pixel, ceiling, uniforms[:, step, 1])
            pt = self.space.pt_gev(pt_bin, uniforms[:, step, 2])
            target = pixel.masked_fill(done, STOP)
            # in place: a copy of the (N, 626) image and hit map per step was a fifth of the time
            image.scatter_add_(1, target[:, None], pt.masked_fill(done, 0.0)[:, None])
            hit.scatter_(1, target[:, None], True)
            hit[:, STOP] = False
            in_row = (target // IMAGE_SHAPE[1]).clamp_max(IMAGE_SHAPE[0] - 1)
            row_hits.scatter_add_(1, in_row[:, None], (target < STOP).long()[:, None])
            ceiling = pt_bin
            momenta = momenta + self.space.momenta(target, pt_bin)
            if tracing():
                continue
            ended = int(done.sum())
            if ended == len(done):
                break
            if 4 * ended >= len(done):
                # a quarter of the jets have ended: the steps go on without them (each jet's
                # steps are its own, so its hits are the same; at batch 1024, where the longest
                # jet has two to three times the average hits, sampling takes 1.4x less time)
                if rows is None:
                    rows, finished = torch.arange(len(done), device=done.device), image.clone()
                ended_at, keep = done.nonzero()[:, 0], (~done).nonzero()[:, 0]
                finished[rows[ended_at]] = image[ended_at]
                rows = rows[keep]
                jet, scale, uniforms, image, hit, row_hits = (
                    t[keep] for t in (jet, scale, uniforms, image, hit, row_hits)
                )
                pixel, pt_bin, ceiling, done, momenta = (
                    t[keep] for t in (pixel, pt_bin, ceiling, done, momenta)
                )
                state = None if state is None else state[:, keep]
        if rows is not None:
            finished[rows] = image
            image = finished
        # the list's pT strays from the summary's by about 6 % (after 6 epochs on W jets), its
        # mass by -3 % / +4 % (5-95 %, after 20 epochs), about as wide as the W peak itself,
        # while the summary's are close to the Pythia floor: the image is reshaped to the
        # summary, as the jet flow's pixels are rescaled to its flow I's pT
        # (``JetTokens.match_summary``)
        pixels = self.space.match_summary(image[:, :_PIXELS], summary)
        return pixels.unflatten(1, IMAGE_SHAPE)


def _minkowski(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The Minkowski product of four-momenta (..., 4): (E, px, py, pz)."""
    return (
        a[..., 0] * b[..., 0]
        - a[..., 1] * b[..., 1]
        - a[..., 2] * b[..., 2]
        - a[..., 3] * b[..., 3]
    )


def _transverse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The product of four-momenta's (..., 4) transverse parts."""
    return a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


FAMILY = jet_family("jet-rnn", JetRNNGenerator, 1.0, strict=False, optimize=False)
"""The contract (``fastshower.models.family``); exported without onnxscript's graph optimizer,
whose rewrites of the 100 unrolled steps had not finished after 14 minutes."""
