"""Coupling transforms whose networks also see each cell's neighbourhood on its layer's grid.

A coupling layer transforms half of the cells given the other half. zuko's network for it is
fully connected: it sees every given cell, but no geometry, and must learn from the data alone
which cells are neighbours. On pions it did not: the CaloFlow's generated showers held 1.5x
Geant4's share of hits with no hit neighbour, and neither a wider network nor checkerboard
masks changed that. Here each layer's given cells are also laid out on its grid
(3 x 96, 12 x 12, 12 x 6) and read by two 3 x 3 convolutions, which give every transformed
cell spline parameters from its 5 x 5 neighbourhood (and the context, as constant channels).
They are added to the fully connected network's. Their last convolution starts at zero: an
untrained grid coupling is the plain one, and the grid learns what the dense network missed.

``checkerboard_mask`` splits every layer like a chessboard, so that each transformed cell has
all eight neighbours among the given ones; ``grid_masks`` alternates such pairs with random
halves (which mix distant cells).
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from fastshower.detector import CALORIMETER
from fastshower.models.keras_init import zero_bias
from fastshower.models.spline_coupling import SplineCouplingTransform

__all__ = ["GridCouplingTransform", "checkerboard_mask", "checkerboard_pairs", "grid_masks"]

_SHAPES = tuple(layer.shape for layer in CALORIMETER.layers)
_SIZES = tuple(layer.n_cells for layer in CALORIMETER.layers)


class GridCouplingTransform(SplineCouplingTransform):
    """The spline coupling plus a convolutional network per read-out layer."""

    def __init__(
        self,
        features: int,
        context: int,
        mask: torch.Tensor,
        bins: int,
        bound: float,
        channels: int = 16,
        **kwargs: Any,
    ) -> None:
        if features != sum(_SIZES):
            raise ValueError(f"a grid coupling transforms the {sum(_SIZES)} cells, got {features}")
        super().__init__(features, context, mask, bins, bound, **kwargs)
        self.grids = nn.ModuleList(_grid_network(context, channels, self.total) for _ in _SHAPES)

    def _index_mask(self) -> None:
        super()._index_mask()
        # the transformed cells come layer by layer (their indices are sorted): how many each
        self._layer_counts = tuple(int(m.sum()) for m in (~self.mask).split(_SIZES))

    def spline_parameters(self, given: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return super().spline_parameters(given, context) + self._grid_parameters(given, context)

    def _grid_parameters(self, given: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """(N, parameters, transformed cells) from each layer's convolutions. The last one (1 x
        1) is a product over channels, applied at the transformed cells only: half the work, and
        a product's output is one contiguous block, which keeps the spline's compiled code
        vectorised (the parameters gathered at those cells after it were not)."""
        n = given.shape[0]
        empty = given.new_zeros(n, self._transformed.numel())
        cells = torch.cat([given, empty], dim=1)[:, self._merge]  # (N, 504), 0 where unknown
        mask = self.mask.to(given.dtype)
        # _grid_network's, which a ModuleList and a Sequential type as any Module
        grids = [cast(nn.Sequential, network) for network in self.grids]
        hidden = []
        for grid, shape, layer_cells, layer_mask in zip(
            grids, _SHAPES, cells.split(_SIZES, 1), mask.split(_SIZES), strict=True
        ):
            first = cast(nn.Conv2d, grid[0])
            layer = _first_convolution(
                first, layer_cells.reshape(n, 1, *shape), layer_mask.reshape(1, 1, *shape), c
            )
            hidden.append(grid[1:-1](layer).flatten(2))  # (N, channels, layer cells)
        at_transformed = torch.cat(hidden, dim=2)[:, :, self._transformed]
        out = []
        for grid, layer in zip(grids, at_transformed.split(self._layer_counts, 2), strict=True):
            last = cast(nn.Conv2d, grid[-1])
            bias = cast(torch.Tensor, last.bias)  # _grid_network's convolutions have one
            out.append(torch.matmul(last.weight.flatten(1), layer) + bias[:, None])
        return torch.cat(out, dim=2)


def _first_convolution(
    conv: nn.Conv2d, cells: torch.Tensor, mask: torch.Tensor, context: torch.Tensor | None
) -> torch.Tensor:
    """``conv`` of the planes (cells, mask, each context feature), convolving only the cells.

    The mask is the same for every shower, and a context feature is one number over the whole
    grid: a zero-padded convolution of a constant plane is that number times a fixed map (the
    kernel's weights that fall inside the grid, summed). So the mask adds one map, the context
    a (N, context) x (context, channels x grid) product: with 15 context features, 9x fewer
    operations than convolving their planes, which was most of the grid networks' time."""
    out = F.conv2d(cells, conv.weight[:, :1], conv.bias, padding=conv.padding)
    out = out + F.conv2d(mask, conv.weight[:, 1:2], padding=conv.padding)
    if context is None:
        return out
    k = context.shape[1]
    unit_planes = torch.eye(k, dtype=cells.dtype, device=cells.device)[:, :, None, None]
    unit_planes = unit_planes.expand(k, k, *cells.shape[2:]).contiguous()
    response = F.conv2d(unit_planes, conv.weight[:, 2:], padding=conv.padding)  # (k, C, H, W)
    return out + torch.einsum("nk,kchw->nchw", context, response)


def _grid_network(context: int, channels: int, outputs: int) -> nn.Sequential:
    last = nn.Conv2d(channels, outputs, 1)
    nn.init.zeros_(last.weight)
    zero_bias(last.bias)
    return nn.Sequential(
        nn.Conv2d(2 + context, channels, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.ReLU(),
        last,
    )


def checkerboard_mask() -> torch.Tensor:
    """(504,) True on the "white" cells of every layer's grid, in the dataset's cell order."""
    parts = []
    for n_x, n_y in _SHAPES:
        ix, iy = torch.meshgrid(torch.arange(n_x), torch.arange(n_y), indexing="ij")
        parts.append(((ix + iy) % 2 == 0).flatten())
    return torch.cat(parts)


def grid_masks(random_masks: list[torch.Tensor]) -> list[torch.Tensor]:
    """Every other pair of ``random_masks`` (complementary halves) replaced by the calorimeter's
    checkerboard and its complement."""
    return checkerboard_pairs(random_masks, checkerboard_mask())


def checkerboard_pairs(random_masks: list[torch.Tensor], board: torch.Tensor) -> list[torch.Tensor]:
    """Every other pair of ``random_masks`` (complementary halves) replaced by ``board`` and its
    complement, starting with the first. Each mask is a tensor of its own: a coupling keeps its
    mask as a buffer, and two couplings sharing one would load each other's from a model file."""
    return [
        (board ^ bool(i % 2)) if (i // 2) % 2 == 0 else mask for i, mask in enumerate(random_masks)
    ]
