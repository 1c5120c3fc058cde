"""Rational-quadratic spline couplings whose networks lay their outputs out bin by bin.

A coupling layer transforms P of the features (cells, pixels) given the others: its network
predicts the 3K - 1 parameters of each transformed feature's spline (K bins). zuko's coupling
orders the network's outputs feature by feature, (N, P, 3K - 1); this one bin by bin,
(N, 3K - 1, P), the layout in which the spline's inverse runs along P in vector registers
(``splines.inverse_bin_major`` says why and how much faster). Sampling goes through ``invert``,
which uses it; the density (training) hands the same parameters to zuko's spline as a
transposed view, so both directions are one map.

The layout is only the order of the last layer's rows, and model files keep zuko's: the rows are
permuted when a state dict is loaded and back when one is made, so files written before and
after this layout are the same and every version reads them.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn
from zuko.flows.coupling import GeneralCouplingTransform
from zuko.transforms import DependentTransform
from zuko.utils import broadcast, unpack

from fastshower.models.splines import SplineTransform, inverse_bin_major

__all__ = ["SplineCouplingTransform"]


class SplineCouplingTransform(GeneralCouplingTransform):
    """zuko's coupling transform with a ``bins``-bin spline on [-``bound``, ``bound``], its
    network's outputs bin-major in memory, and a fast inverse (``invert``)."""

    def __init__(
        self,
        features: int,
        context: int,
        mask: torch.Tensor,
        bins: int,
        bound: float,
        **kwargs: Any,
    ) -> None:
        shapes = [(bins,), (bins,), (bins - 1,)]
        univariate = partial(SplineTransform, bound=bound)
        super().__init__(features, context, mask, univariate=univariate, shapes=shapes, **kwargs)
        self.bins, self.bound = bins, bound
        self._index_mask()
        self.register_load_state_dict_pre_hook(_rows_to_bin_major)
        self.register_state_dict_post_hook(_rows_to_feature_major)
        # derived from the mask, so not stored: a loaded mask brings its indices with it
        self.register_load_state_dict_post_hook(lambda module, _: module._index_mask())

    def _index_mask(self) -> None:
        """The given and transformed features' places, and the order that puts [given,
        transformed] back in place: gathers with constant indices, which TorchDynamo and ONNX
        take as they are (zuko finds them with ``nonzero`` on every call)."""
        given, transformed = self.mask.nonzero().squeeze(1), (~self.mask).nonzero().squeeze(1)
        for name, value in (
            ("_given", given),
            ("_transformed", transformed),
            ("_merge", torch.cat([given, transformed]).argsort()),
        ):
            self.register_buffer(name, value, persistent=False)

    def spline_parameters(self, given: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """(N, 3 bins - 1, P): each transformed feature's spline, bin-major."""
        x = given if context is None else torch.cat(broadcast(given, context, ignore=1), dim=-1)
        return self.hyper(x).unflatten(-1, (self.total, -1))

    def meta(self, c: torch.Tensor | None, x: torch.Tensor) -> Any:
        phi = self.spline_parameters(x, c).transpose(1, 2)  # (N, P, 3 bins - 1), as zuko reads
        return DependentTransform(self.univariate(*unpack(phi, self.shapes)), 1)

    def invert(self, y: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """The coupling's inverse, ``self(context).inv(y)``, through ``inverse_bin_major``."""
        given = y[:, self._given]
        parameters = self.spline_parameters(given, context)
        x = inverse_bin_major(parameters, y[:, self._transformed], self.bins, self.bound)
        return torch.cat([given, x], dim=1)[:, self._merge]


def _last_layer(module: SplineCouplingTransform, prefix: str) -> list[str]:
    index = len(module.hyper) - 1
    return [f"{prefix}hyper.{index}.weight", f"{prefix}hyper.{index}.bias"]


def _rows_to_bin_major(module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any) -> None:
    """Load hook: a file's feature-major rows, (P, 3K - 1), to bin-major, (3K - 1, P)."""
    assert isinstance(module, SplineCouplingTransform)
    for key in _last_layer(module, prefix):
        if key in state_dict:  # load_state_dict works on a copy of the caller's dict
            rows = state_dict[key]
            state_dict[key] = _swap_row_blocks(rows, len(rows) // module.total)


def _rows_to_feature_major(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any
) -> None:
    """State-dict hook: the bin-major rows back to zuko's order, as files keep them."""
    assert isinstance(module, SplineCouplingTransform)
    for key in _last_layer(module, prefix):
        state_dict[key] = _swap_row_blocks(state_dict[key].detach(), module.total)


def _swap_row_blocks(rows: torch.Tensor, blocks: int) -> torch.Tensor:
    """Rows read as ``blocks`` blocks of equal size, reordered block-minor: row (i, j) -> (j, i)."""
    return rows.unflatten(0, (blocks, -1)).transpose(0, 1).flatten(0, 1)
