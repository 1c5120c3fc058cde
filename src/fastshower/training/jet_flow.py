"""How the jet-image flow trains (``fastshower.models.jet_flow`` holds its flows): maximum
likelihood, as the shower flow, validated on the jet mass per class, as LAGAN."""

from __future__ import annotations

from typing import ClassVar, cast

import torch
from torch import nn

from fastshower.models.jet_flow import JetFlowGenerator
from fastshower.training.jet_validation import jet_mass_distances
from fastshower.training.shower_recipe import SpaceRecipe

__all__ = ["JetFlowRecipe"]


class JetFlowRecipe(SpaceRecipe):
    """How ``fastshower.training.loop`` trains a ``JetFlowGenerator`` on (images in GeV, class)
    batches."""

    name = "jet-flow"
    generator_class: ClassVar[type[nn.Module]] = JetFlowGenerator
    mixed_precision = False  # a likelihood, as calo-flow's

    def objective(
        self, model: nn.Module, x: torch.Tensor, condition: torch.Tensor, rng: torch.Generator
    ) -> torch.Tensor:
        return -model(x, condition, True).mean() / x.shape[1]  # nats per coordinate

    def validate(self, generator: nn.Module, rng: torch.Generator) -> dict[str, float]:
        if self.validation is None:
            return {"score": 0.0}
        device = next(generator.parameters()).device
        size = cast(int, generator.latent_size)

        def sample(labels: torch.Tensor) -> torch.Tensor:
            z = torch.randn(len(labels), size, generator=rng, device=device)
            return generator(z, labels.to(device)).cpu()

        images, labels = self.validation
        return jet_mass_distances(sample, images, labels, self.n_validation)
