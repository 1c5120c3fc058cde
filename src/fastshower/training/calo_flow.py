"""How the CaloFlow-style shower model trains (``fastshower.models.calo_flow`` holds its
flows)."""

from __future__ import annotations

import torch
from torch import nn

from fastshower.models.calo_flow import CaloFlowGenerator
from fastshower.training.shower_recipe import ShowerRecipe

__all__ = ["CaloFlowRecipe"]


class CaloFlowRecipe(ShowerRecipe):
    """How ``fastshower.training.loop`` trains a ``CaloFlowGenerator``: maximum likelihood."""

    name = "calo-flow"
    generator_class = CaloFlowGenerator
    # A likelihood: spline bins and log-determinants summed over 507 coordinates need float32;
    # bfloat16's 8-bit mantissa would make the loss, and the density learnt, coarse.
    mixed_precision = False

    def objective(
        self, model: nn.Module, x: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        return -model(x, condition, True).mean() / x.shape[1]  # nats per coordinate
