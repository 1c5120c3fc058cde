"""How the flow-matching shower model trains (``fastshower.models.flow_matching`` holds its
network)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fastshower.models.flow_matching import FlowMatchingGenerator
from fastshower.training.shower_recipe import ShowerRecipe

__all__ = ["FlowMatchingRecipe"]


class FlowMatchingRecipe(ShowerRecipe):
    """How the training loop trains a ``FlowMatchingGenerator``: one network, one loss."""

    name = "flow-matching"
    generator_class = FlowMatchingGenerator

    def objective(
        self, model: nn.Module, x1: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        x0 = torch.randn(x1.shape, generator=rng, device=x1.device)
        t = torch.rand((len(x1), 1), generator=rng, device=x1.device)
        v = model((1 - t) * x0 + t * x1, condition, t)
        return F.mse_loss(v, x1 - x0)
